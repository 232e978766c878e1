import json

import numpy as np

from cpaudit.pipelines.report import report
from cpaudit.report.compare import compare_document
from cpaudit.report.content import build_document
from cpaudit.report.html import render_html
from cpaudit.report.markdown import render_markdown

EVIL = "runs/<script>alert(\"x\")</script>'quoted'"


def _attack(title, threat_model, auc):
    return {
        "title": title,
        "threat_model": threat_model,
        "deployed": threat_model == "samples",
        "queries_per_image": 0,
        "n_members": 64,
        "n_holdout": 64,
        "auc": auc,
        "auc_ci95": [auc - 0.1, min(1.0, auc + 0.1)],
        "chance_band95": [0.4, 0.6],
        "p_value": 1 / 201,
        "n_null": 200,
        "selection": "cross-fitted",
        "chosen": [{"variant": "nearest", "sign": 1}, {"variant": "nearest", "sign": -1}],
        "tpr_at_fpr": {"0.1": 0.5, "0.01": None, "0.001": None},
        "tpr_at_lowest_fpr": {"fpr": 0.0, "n_negatives": 64, "tpr": 0.25},
        "epsilon_lb": 1.234,
        "delta": 1 / 64,
        "by_variant": [{"variant": "nearest", "auc": auc}],
    }


def _results(samples=EVIL, rate=0.5, passed=False):
    failures = [] if passed else ["replica rate 50.00% exceeds the maximum 0.00% by 50.00%"]
    return {
        "schema_version": 2,
        "cpaudit_version": "0.1.0",
        "setup": {
            "samples": samples,
            "data": "digits",
            "data_fingerprint": "ab" * 32,
            "n_members": 4,
            "n_holdout": 6,
            "image_shape": [1, 8, 8],
            "model": None,
            "classifier": None,
            "features": "pixel",
            "seed": 0,
        },
        "nn": {
            "features": "pixel",
            "threshold": 0.97,
            "n_samples": 2,
            "replicas": 1,
            "replica_rate": rate,
            "replica_rate_ci95": [0.1, 0.9],
            "data_threshold": 0.96,
            "replicas_at_data_threshold": 1,
            "median_nearest_member_similarity": 0.9,
            "holdout_median_nearest_member_similarity": 0.8,
            "holdout_over_threshold": 0,
            "n_holdout": 6,
        },
        "top_pairs": [{"sample": 0, "member": "<img src=x onerror=alert(1)>", "similarity": 0.99}],
        "permutation": {"statistic": 0.1, "p_value": 0.02, "n_permutations": 99, "n_reference": 4},
        "release": "samples",
        "attacks": {
            "sample_only": _attack("sample-only attack", "samples", 0.75),
            "loss": _attack("loss attack", "weights", 1.0),
        },
        "quality": {"features": "pixel", "fid": 1.5, "kid": 0.01, "n_samples": 2, "n_reference": 2},
        "protection": None,
        "privacy": {"dp_epsilon": None},
        "policy": {
            "passed": passed,
            "failures": failures,
            "mia_gate_reads": "sample_only",
            "thresholds": {"max_replica_rate": 0.0, "max_mia_auc": None, "min_permutation_p": None},
        },
        "verdict": ("If only samples are published: FAILED: " + "; ".join(failures) + ".")
        if failures
        else "If only samples are published: PASSED, the one policy gate holds.",
    }


def test_user_strings_are_escaped_in_html(tmp_path):
    html = render_html(build_document(_results()), {})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&quot;x&quot;" in html and "&#x27;quoted&#x27;" in html
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html


def test_report_command_escapes_and_embeds_figures(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(_results()))
    rng = np.random.default_rng(0)
    np.savez(
        run / "audit_data.npz",
        sample_sim=rng.uniform(0.5, 1, 2),
        holdout_sim=rng.uniform(0.5, 0.9, 6),
        permutation_null=rng.normal(size=99),
        pair_samples=np.zeros((1, 8, 8, 1), np.uint8),
        pair_members=np.full((1, 8, 8, 1), 255, np.uint8),
    )
    r = report([run / "results.json"], tmp_path / "out")
    html = r.html.read_text()
    assert html.count("data:image/png;base64,") == 3 and "<script>" not in html
    md = r.markdown.read_text()
    assert "![" in md and "(figures/similarity_histogram.png)" in md and "<script>" not in md.replace("\\<", "")
    assert (tmp_path / "out" / "figures" / "pairs.png").is_file()


def test_markdown_golden_verdict_and_gate_table():
    md = render_markdown(build_document(_results()), set())
    assert md.startswith(
        "# cpaudit privacy audit\n\n**Do not publish these samples: replica rate 50.00% exceeds the maximum 0.00% "
        "by 50.00%.**\n"
    )
    assert (
        "The verdict as the audit recorded it: If only samples are published: FAILED: replica rate 50.00% exceeds "
        "the maximum 0.00% by 50.00%." in md
    )
    assert "| replica rate (samples) | 50.0% | at most 0.0% | FAIL |" in md
    assert "## Samples published (threat model: samples)\n" in md
    assert "## Weights released (threat model: weights): not deployed, shown for reference\n" in md
    assert (
        "| sample-only attack | 0.750 | 0.650-0.850 | 0.400-0.600 | ≤ 1/201 | 10.0%: 0.500; 0 of 64 held-out: 0.250 "
        "| 1.23 | 0 | 64 / 64 |"
    ) in md
    assert "| samples | runs/\\<script>alert(\"x\")\\</script>'quoted' (2 images) |" in md  # tags escaped
    assert "&lt;" not in md
    assert "| samples that diverged (NaN/inf, not audited) | none |" in md
    ok = render_markdown(build_document(_results(rate=0.0, passed=True)), set())
    assert ok.startswith("# cpaudit privacy audit\n\n**Samples published: passed. The one gate holds. 1 of 2 samples ")
    assert (
        "The verdict as the audit recorded it: If only samples are published: PASSED, the one policy gate holds." in ok
    )


def test_comparison_puts_key_figures_in_one_table_with_change():
    doc = compare_document([("plain", _results(rate=0.9)), ("protected", _results(rate=0.0, passed=True))])
    md = render_markdown(doc, set())
    assert "| threat model | figure | plain | protected |" in md
    assert "| samples | replica rate | 90.0% (1/2) | 0.0% (1/2) (-90.0 pts) |" in md
    # Schema-2 files had no selection-adjusted headline: the largest single-attack AUC stands in, and says so.
    assert (
        "| samples | membership AUC (strongest attack) | 0.750 [0.650-0.850] (sample-only, largest single attack) | "
        "0.750 [0.650-0.850] (sample-only, largest single attack) (+0) |"
    ) in md
    assert (
        "| weights | membership AUC (strongest attack) | 1.000 [0.900-1.000] (loss, plain, largest single attack) |"
        in md
    )
    assert "| quality | FID (pixel) | 1.50 | 1.50 (+0) |" in md


def test_report_refuses_a_version_1_results_file_in_one_line(tmp_path):
    import pytest

    from cpaudit.errors import InputError

    (tmp_path / "results.json").write_text(json.dumps({**_results(), "schema_version": 1}))
    with pytest.raises(InputError, match="schema_version 1 .*run `cpaudit audit` again"):
        report([tmp_path / "results.json"], tmp_path / "out")


def test_comparison_aligns_runs_measured_under_different_threat_models():
    """A run audited with --model (every threat model measured, a proven one-run bound) beside one audited from its
    samples alone: every row has a cell per run (the text demo's comparison crashed on this)."""
    head = {
        **_attack("sample-only attack", "samples", 0.75),
        "epsilon_lb_guarantee": False,
        "epsilon_lb_proven": 1.1,
        "epsilon_lb_proven_max_provable": 1.86,
        "epsilon_lb_max_provable": 2.26,
    }
    full, samples_only = _results(), _results()
    full["schema_version"] = samples_only["schema_version"] = 3
    full["threat_models"] = {
        tm: {"measured_by": ["sample_only"], "strongest": head} for tm in ("samples", "sampler", "weights")
    }
    samples_only["threat_models"] = {
        "samples": {"measured_by": ["sample_only"], "strongest": head},
        **{tm: {"measured_by": [], "strongest": None} for tm in ("sampler", "weights")},
    }
    md = render_markdown(compare_document([("full", full), ("samples only", samples_only)]), set())
    assert "| weights | epsilon lower bound (one run, proven) | 1.10 (≤ 1.86 provable) | - |" in md
    assert "| samples | epsilon lower bound (one run) | 1.23 (indicative, ≤ 2.26 provable) |" in md


def test_the_gates_table_lists_a_weaker_threat_model_gated_in_an_unmeasured_release():
    from cpaudit.report.content import gate_rows

    r = _results()
    r["schema_version"] = 3
    head = {**_attack("sample-only attack", "samples", 0.9), "p_value": 1 / 201}
    r["threat_models"] = {
        "samples": {"measured_by": ["sample_only"], "strongest": head},
        "sampler": {"measured_by": [], "strongest": None, "not_measured": "not attacked"},
    }
    r["release"] = "sampler"
    r["policy"]["thresholds"]["mia_excess_level"] = 0.025
    r["policy"]["gates"] = {"mia_excess_level": "nothing was measured", "mia_excess_level:samples": "leaks"}
    rows = gate_rows(r)
    assert [
        "strongest attack, selection-adjusted (samples)",
        "AUC 0.900, p ≤ 1/201",
        "p at least 0.025",
        "FAIL",
    ] in rows
