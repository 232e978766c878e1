"""`import cpaudit` and the pure-math modules load no heavy library (issue 37): a notebook or a script that
needs one statistic does not pay for torch, faiss, matplotlib, pandas and every pipeline."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "faiss", "matplotlib", "pandas", "diffusers", "transformers", "cpaudit.pipelines.audit")


@pytest.mark.parametrize(
    "module", ["cpaudit", "cpaudit.core.stats", "cpaudit.core.one_run", "cpaudit.core.crossfit", "cpaudit.core.privacy"]
)
def test_importing_loads_no_heavy_library(module):
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], f"import {module} loaded {loaded}"


def test_the_public_names_load_on_first_use():
    code = (
        "import sys, cpaudit; assert 'torch' not in sys.modules; from cpaudit import audit, Protection; "
        "assert callable(audit) and 'torch' in sys.modules and set(cpaudit.__all__) <= set(dir(cpaudit)); print('ok')"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "ok"
    )
