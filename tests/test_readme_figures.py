"""The documentation's figures (README.md's until they moved to docs/) are the committed results, rendered: the
demo's by the comparison report, the benchmarks' by their own renderers. Each test reads the page the figure is on."""

import json
from pathlib import Path

import pytest

from cpaudit.report.compare import compare_document
from cpaudit.report.markdown import render_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DEMO_RUNS = [
    ("unprotected", "unprotected"),
    ("CPSample", "cpsample"),
    ("rejection", "rejection"),
    ("DP-SGD", "dp-sgd"),
    ("DP control", "dp-control"),
]


def demo_table() -> str:
    """The key-figures table of reports/demo, rendered from its results.json files as `cpaudit report` does."""
    runs = [
        (label, json.loads((ROOT / "reports" / "demo" / folder / "results.json").read_text()))
        for label, folder in DEMO_RUNS
    ]
    md = render_markdown(compare_document(runs), set())
    block = md.split("## Key figures by threat model\n\n", 1)[1].splitlines()
    rows = []
    for line in block:
        if not line.startswith("|"):
            break
        rows.append(line)
    return "\n".join(rows)


def page(name: str) -> str:
    """A docs page's text, as written."""
    return (DOCS / name).read_text()


def words(name: str) -> str:
    """A docs page's words, one space apart: its sentences wrap anywhere."""
    return " ".join(page(name).split())


def test_docs_demo_table_equals_the_committed_results():
    assert demo_table() in page("demo.md")


def test_a_figure_edited_by_hand_is_caught():
    table = demo_table()
    row = next(line for line in table.splitlines() if "| quality | FID" in line)
    cells = row.split(" | ")
    edited = table.replace(row, " | ".join(cells[:2] + ["1.00"] + cells[3:]))
    assert edited != table and edited not in page("demo.md")


def test_the_committed_demo_report_matches_its_results():
    """reports/demo/report.md is what `cpaudit report` renders from the committed results.json files."""
    assert demo_table() in (ROOT / "reports" / "demo" / "report.md").read_text()


def _frontier_rows() -> list[list[str]]:
    block = page("frontier.md").split(
        "| defence, setting | replicas of 1,024 | sample-only AUC (95% CI) | pixel FID |\n", 1
    )[1]
    rows = []
    for line in block.splitlines()[1:]:  # the table ends at its first non-table line
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_docs_frontier_table_equals_the_committed_sweep():
    """Every row of the frontier page's table is an evaluation point of reports/tune/tune.json, as written."""
    points = json.loads((ROOT / "reports" / "tune" / "tune.json").read_text())["evaluation"]
    unprotected_fid = points[0]["fid"]
    rendered = {
        (
            str(p["replicas"]),
            f"{p['sample_only_auc']:.3f} [{p['sample_only_auc_ci95'][0]:.3f}, {p['sample_only_auc_ci95'][1]:.3f}]",
            f"{p['fid']:.2f} ({p['fid'] / unprotected_fid:.1f}x)",
        )
        for p in points
    }
    rows = _frontier_rows()
    assert len(rows) >= 5
    for row in rows:
        assert tuple(row[1:]) in rendered, row


def _demo_timing_sentence() -> str:
    """The demo timings of the set-up page, rendered from the committed timings of the full and the quick demo."""
    full = json.loads((ROOT / "reports" / "demo" / "timings.json").read_text())
    quick = json.loads((ROOT / "benchmarks" / "results" / "demo_quick_timings.json").read_text())
    assert full["quick"] is False and quick["quick"] is True
    st, qs = full["stage_seconds"], quick["stage_seconds"]
    groups = {
        "memorising model": st["train memorising model"],
        "classifier": st["train random-label classifier"],
        "rejection": st["rejection baseline"],
        "DP-SGD and control": st["train DP-SGD model"] + st["train DP control model"],
        "sampling and audits": sum(v for k, v in st.items() if k.startswith(("sample ", "audit ", "comparison"))),
    }
    quick_training = sum(v for k, v in qs.items() if k.startswith("train "))
    return (
        f"({full['total_seconds']:.0f} s measured here on an idle machine: "
        + ", ".join(f"{name} {sec:.0f} s" for name, sec in groups.items())
        + f"; `cpaudit demo --quick` skips the DP models and the learned classifier and took "
        f"{quick['total_seconds']:.0f} s, of which training {quick_training:.0f} s)"
    )


def test_docs_demo_timings_equal_the_committed_timings():
    """Before: the demo timings appeared in no committed output."""
    sentence = _demo_timing_sentence()
    assert " ".join(sentence.split()) in words("install.md")


def test_docs_text_model_table_equals_the_committed_benchmark():
    """The text-to-image table in docs/text-to-image.md and benchmarks/RESULTS.md is benchmarks/results/text_memorisation.json."""
    from benchmarks.text_memorisation import table_markdown

    record = json.loads((ROOT / "benchmarks" / "results" / "text_memorisation.json").read_text())
    table = table_markdown(record)
    assert record["part"] == "evaluate" and record["first_seed"] == 5_000_000
    assert table in page("text-to-image.md")
    assert table in (ROOT / "benchmarks" / "RESULTS.md").read_text()
    from benchmarks.text_memorisation import summary_markdown

    summary = " ".join(summary_markdown(record).split())
    assert summary in words("text-to-image.md")


def test_docs_classifier_width_figures_equal_the_committed_benchmark():
    t = json.loads((ROOT / "benchmarks" / "results" / "classifier_width.json").read_text())["timing_ratio"]
    sentence = f"(width 16: {t['16']:.2f}, width 8: {t['8']:.2f}, against {t['32']:.2f} for width 32 in the same run)"
    assert sentence in words("limits.md")


def test_docs_text_demo_figures_equal_the_committed_demo():
    """The text-to-image demo's table and sentences are reports/demo-text/text_demo.json, rendered."""
    from cpaudit.report.text_demo_md import demo_summary_markdown, demo_table_markdown, white_box_markdown

    record = json.loads((ROOT / "reports" / "demo-text" / "text_demo.json").read_text())
    text = words("text-audit.md")
    assert demo_table_markdown(record) in page("text-audit.md")
    for sentence in (demo_summary_markdown(record), white_box_markdown(record)):
        assert " ".join(sentence.split()) in text
    unprotected = json.loads((ROOT / "reports" / "demo-text" / "unprotected" / "results.json").read_text())
    assert unprotected["attacks"]["prompted_extraction"]["auc"] == record["table"][0]["extraction_auc"]


def test_results_text_defence_tuning_table_equals_the_committed_tune():
    from cpaudit.report.tune_text_md import tune_text_markdown
    from cpaudit.sampling.prompt_defences import DEFAULTS

    record = json.loads((ROOT / "benchmarks" / "results" / "text_defences" / "tune.json").read_text())
    assert tune_text_markdown(record) in (ROOT / "benchmarks" / "RESULTS.md").read_text()
    # The prompt defences' defaults are the tune's choices.
    for name, kind in (
        ("embedding noise", "embedding-noise"),
        ("random tokens", "random-tokens"),
        ("prompt optimisation", "prompt-optimisation"),
    ):
        chosen = dict(record["defences"][name]["setting"]["prompt_defence"])
        assert chosen.pop("kind") == kind and chosen == DEFAULTS[kind]


def test_results_sdxl_tuning_table_equals_the_committed_tune():
    from cpaudit.report.tune_text_md import tune_text_markdown

    record = json.loads((ROOT / "benchmarks" / "results" / "sdxl_tune" / "tune.json").read_text())
    assert tune_text_markdown(record) in (ROOT / "benchmarks" / "RESULTS.md").read_text()


def test_results_flux_tuning_table_equals_the_committed_tune():
    """The flow defaults' origin (sampling/protection.py FLOW_KIND_DEFAULTS): the FLUX tune as committed."""
    from cpaudit.report.tune_text_md import tune_text_markdown
    from cpaudit.sampling.protection import FLOW_KIND_DEFAULTS

    record = json.loads((ROOT / "benchmarks" / "results" / "flux_tune" / "tune.json").read_text())
    assert tune_text_markdown(record) in (ROOT / "benchmarks" / "RESULTS.md").read_text()
    for kind, name in (("learned", "CPSample, learned classifier"), ("exact", "CPSample, exact posterior")):
        assert record["defences"][name]["chosen"] == f"scale {FLOW_KIND_DEFAULTS[kind]['scale']:g}"
        assert record["defences"][name]["reached_base_rate_on_tuning_seeds"]


def test_docs_flow_tables_equal_the_committed_benchmarks():
    """The text-to-image page's SD3 / FLUX tables are benchmarks/results/flow_memorisation_<arch>.json, rendered."""
    from benchmarks.flow_memorisation import table_markdown

    for arch in ("flux", "sd3"):
        record = json.loads((ROOT / "benchmarks" / "results" / f"flow_memorisation_{arch}.json").read_text())
        assert table_markdown(record) in page("text-to-image.md"), arch


def test_docs_cpsample_replica_gate_sentence_equals_the_committed_audit():
    nn = json.loads((ROOT / "reports" / "demo" / "cpsample" / "results.json").read_text())["nn"]
    sentence = (
        f"CPSample's samples reach {nn['members_reached']} of the {nn['n_members_reached_of']} training images\n"
        f"  at the replica threshold against {nn['holdout_reached']} of {nn['n_holdout_reached_of']:,} held-out images"
    )
    assert sentence in page("demo.md")
    assert f"p = {nn['reach_excess_p']:.2g}" in page("demo.md")


def test_docs_pixel_frontier_with_the_yardstick_equals_the_committed_sweep():
    """Issue 39's pixel frontier (precision, recall, authenticity, the reference model) and its goal sentence are
    reports/frontier/tune.json, rendered."""
    from cpaudit.pipelines.tune import read_tune
    from cpaudit.report.frontier_md import pixel_frontier_markdown, pixel_goal_sentence

    record = read_tune(ROOT / "reports" / "frontier" / "tune.json")
    assert pixel_frontier_markdown(record) in page("frontier.md")
    assert " ".join(pixel_goal_sentence(record).split()) in words("frontier.md")


@pytest.mark.parametrize("folder", ["demo-text", "frontier-text-256", "frontier-text-1024"])
def test_docs_text_frontiers_equal_the_committed_runs(folder):
    """Each text frontier's table and goal sentence (64, 256 and 1,024 members) are its text_demo.json, rendered;
    every quality figure in it is the audit's own pooled block (pipelines/demo_text.py table_row)."""
    from cpaudit.report.frontier_md import text_goal_sentence
    from cpaudit.report.text_demo_md import demo_table_markdown

    record = json.loads((ROOT / "reports" / folder / "text_demo.json").read_text())
    assert demo_table_markdown(record) in page("frontier.md")
    assert " ".join(text_goal_sentence(record).split()) in words("frontier.md")
