"""The committed demo's runs, re-audited with the options their results.json records, give the figures
they record: the audit pipeline's restructuring into stages (auditing/engine/stages.py) changed no number."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.reaudit_demo import recorded_options
from cpaudit.pipelines.audit import AuditOptions, audit

ROOT = Path(__file__).resolve().parents[2]
RUNS = ("unprotected", "cpsample", "rejection", "dp-sgd", "dp-control")
# What may differ between machines or versions, not figures.
VOLATILE = {"cpaudit_version", "device", "schema_version", "provenance"}
# Floats equal to float32 rounding: another torch, faiss or BLAS build (the oldest supported stack, or CI's AVX2
# single-thread run) rounds similarities at 1e-7 and a bootstrap's interval at 1e-5; counts, choices, p-values
# from counts and every string must match exactly, and a stage run out of order would change far more.
REL, ABS = 1e-4, 1e-6


def _options(setup: dict) -> AuditOptions:
    return recorded_options(setup, None, ROOT)


def _differences(a, b, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}.{k}: missing on one side" for k in set(a) ^ set(b) if k not in VOLATILE]
        for k in set(a) & set(b):
            if k not in VOLATILE:
                out += _differences(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return (
            []
            if math.isclose(a, b, rel_tol=REL, abs_tol=ABS) or (math.isnan(a) and math.isnan(b))
            else [f"{where}: {a} != {b}"]
        )
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


@pytest.mark.parametrize("run", RUNS)
def test_reauditing_a_committed_demo_run_reproduces_its_results(run):
    committed = json.loads((ROOT / "reports" / "demo" / run / "results.json").read_text())
    fresh = json.loads(json.dumps(audit(_options(committed["setup"])).results))  # as written: tuples become lists
    # Paths are recorded as given; the committed run gave them relative to the repository root.
    for section in ("samples", "split", "model", "classifier"):
        fresh["setup"][section] = committed["setup"][section]
    fresh["setup"]["model_config"] = committed["setup"]["model_config"]
    fresh["setup"]["sample_run"] = committed["setup"]["sample_run"]
    fresh["setup"]["classifier_from_run_json"] = committed["setup"]["classifier_from_run_json"]
    assert _differences(fresh, committed) == []


def test_the_audit_pipeline_is_a_list_of_short_stages():
    """Issue 28: `_audit` was 156 lines; every function of the audit pipeline now reads in one screen."""
    import ast

    longest = []
    for path in [ROOT / "cpaudit" / "pipelines" / "audit.py", *(ROOT / "cpaudit" / "auditing" / "engine").glob("*.py")]:
        name = path.stem
        tree = ast.parse(path.read_text())
        longest += [
            (n.end_lineno - n.lineno + 1, f"{name}.{n.name}") for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
        ]
    assert max(longest)[0] < 60, max(longest)
