"""benchmarks/RESULTS.md's CLiD section is benchmarks/results/clid_text_demo.json, rendered
(python -m benchmarks.clid_text_demo --render), and the JSON is a cross-fitted audit figure on the text demo's
candidates: 64 members and 64 held-out captions, every variant of CLiDAttack, the audit's relabellings."""

import json
from pathlib import Path

from benchmarks.clid_text_demo import JSON_OUT, N_NULL, results_markdown

ROOT = Path(__file__).resolve().parent.parent


def _record() -> dict:
    return json.loads((ROOT / JSON_OUT).read_text())


def test_results_clid_section_equals_the_committed_benchmark():
    section = results_markdown(_record())
    assert section in (ROOT / "benchmarks" / "RESULTS.md").read_text()


def test_the_committed_figure_is_a_cross_fitted_audit_figure():
    from cpaudit.auditing.attacks.clid import ALPHAS, REDUCTIONS, WINDOWS

    c = _record()["clid"]
    assert (c["n_members"], c["n_holdout"]) == (64, 64)  # the demo audit's candidates (reports/demo-text)
    assert len(c["by_variant"]) == len(WINDOWS) * (1 + len(REDUCTIONS) * (len(ALPHAS) - 1))
    assert c["n_null"] == N_NULL and c["selection"].startswith("cross-fitted")
    lo, hi = c["auc_ci95"]
    assert lo <= c["auc"] <= hi and c["chance_band95"][0] < 0.5 < c["chance_band95"][1]
