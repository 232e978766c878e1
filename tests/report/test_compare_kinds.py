"""The comparison report across kinds of audit and results.json versions: every run gets a cell in every row,
attacks are named as a reader knows them (text, class and protected variants), and figures that mean something
else in an older version are not compared as if they did not."""

import json

from cpaudit.report.compare import compare_document
from cpaudit.report.markdown import render_markdown
from tests.report.reports import ROOT, results

TEXT_DEMO = [
    ("unprotected", "unprotected"),
    ("CPSample, learned classifier", "cpsample-learned-classifier"),
    ("CPSample, exact posterior", "cpsample-exact-posterior"),
    ("rejection", "rejection"),
    ("embedding noise", "embedding-noise"),
    ("random tokens", "random-tokens"),
    ("prompt optimisation", "prompt-optimisation"),
]


def _table(runs: list[tuple[str, dict]]) -> list[str]:
    md = render_markdown(compare_document(runs), set())
    block = md.split("## Key figures by threat model\n\n", 1)[1].split("\n\n", 1)[0]
    return block.splitlines()


def test_every_row_has_a_cell_per_run_across_kinds_and_versions():
    kinds = ["schema2", "schema3", "schema4", "pixel", "text", "class", "diffusers"]
    rows = _table([(k, results(k)) for k in kinds])
    assert rows[0] == "| threat model | figure | " + " | ".join(kinds) + " |"
    assert all(row.count(" | ") == len(kinds) + 1 for row in rows[2:])
    assert (
        "| samples | training captions extracted (prompted) | - | - | 87.5% (56/64; held-out captions 0/64) | - | 89.1% "
        "(57/64; held-out captions 0/64) | - | - |" in rows
    )


def test_text_and_class_attacks_are_named_by_what_they_condition_on():
    rows = _table([("text", results("text")), ("class", results("class")), ("unet", results("diffusers"))])
    sampler = next(r for r in rows if r.startswith("| sampler | membership AUC"))
    assert sampler == (
        "| sampler | membership AUC (strongest attack) | 1.000 [0.991-1.000] (loss, true caption, plain) | 0.505 "
        "[0.309-0.701] (PIA, true class, plain) (-0.495) | 0.195 [0.000-0.449] (PIA, plain) (-0.805) |"
    )


def test_the_text_demo_comparison_names_prompted_extraction_and_marks_unmeasured_runs():
    runs = [
        (label, json.loads((ROOT / "reports" / "demo-text" / f / "results.json").read_text())) for label, f in TEXT_DEMO
    ]
    rows = _table(runs)
    samples = next(r for r in rows if r.startswith("| samples | membership AUC"))
    assert "| 0.962 [0.931-0.993] (prompted extraction) (-0.0347) |" in samples
    assert "plain" not in samples  # neither attack of the samples threat model queries a denoiser
    weights = next(r for r in rows if r.startswith("| weights | membership AUC"))
    assert weights == (
        "| weights | membership AUC (strongest attack) | 1.000 [0.991-1.000] (loss, true caption, plain) | "
        + " | ".join(["not measured"] * 6)
        + " |"
    )


def test_a_schema_2_epsilon_is_not_compared_as_a_one_run_bound():
    rows = _table([("v2", results("schema2")), ("v5", results("pixel"))])
    assert (
        "| samples | epsilon lower bound (one run) | 1.16 (many-runs formula: schema 2) | 2.26 (indicative, ≤ 2.26 "
        "provable) |" in rows
    )
    assert (
        "| samples | membership AUC (strongest attack) | 0.996 [0.988-1.000] (sample-only, largest single attack) | "
        "0.995 [0.984-1.000] (sample-only) (-0.000977) |" in rows
    )
