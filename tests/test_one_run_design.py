"""benchmarks/RESULTS.md's one-run design section is benchmarks/results/one_run_design.json, rendered
(python -m benchmarks.one_run_design --render); the script's pieces on tiny inputs (issue 36)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.one_run_design import OUT, cell, draw_members, results_markdown, two_candidate_counterexample

ROOT = Path(__file__).resolve().parent.parent


def test_results_section_equals_the_committed_benchmark():
    record = json.loads(OUT.read_text())
    assert [(c["candidates"], c["design"]) for c in record["cells"]] == [
        (64, "poisson"),
        (64, "fixed"),
        (256, "poisson"),
        (256, "fixed"),
    ]
    assert results_markdown(record) in (ROOT / "benchmarks" / "RESULTS.md").read_text()


def test_the_committed_rates_stay_inside_the_allowance():
    """The guarantee's check, on the committed record: every test's Wilson upper end below beta."""
    record = json.loads(OUT.read_text())
    for c in record["cells"]:
        for t in c["tests"].values():
            assert t["rate"] == t["exceeded"] / c["runs"] and t["rate_wilson95"][1] < record["beta"]


def test_the_designs_draw_what_they_say():
    rng = np.random.default_rng(0)
    assert {int(draw_members("fixed", 64, rng).sum()) for _ in range(20)} == {32}
    assert len({int(draw_members("poisson", 64, rng).sum()) for _ in range(20)}) > 3


def test_the_two_candidate_counterexample_golden():
    ce = two_candidate_counterexample(1.0)
    assert ce["right"] == pytest.approx(1 - math.exp(-1) / 2) and ce["theorem_allows"] == pytest.approx(
        1 / (1 + math.exp(-1))
    )
    assert ce["right"] > ce["theorem_allows"] and ce["count_corrected_bound"] >= ce["right"]


def test_a_cell_is_reproducible_and_counts_its_runs():
    a, b = cell("fixed", 64, 30, 1), cell("fixed", 64, 30, 1)
    assert a == b and set(a["tests"]) == {"grid", "all", "grid_corrected", "all_corrected"}
    assert set(cell("poisson", 64, 5, 0)["tests"]) == {"grid", "all"}
    assert all(0 <= t["exceeded"] <= 30 for t in a["tests"].values())
