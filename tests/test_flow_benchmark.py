"""benchmarks/RESULTS.md's rectified-flow sections are benchmarks/results/flow_memorisation_<arch>.json, rendered
(python -m benchmarks.flow_memorisation --arch ARCH --render); their seeds are the evaluation seeds, apart from
the tuning seeds every default was chosen on; each committed demo report agrees with its JSON, and each CPSample
run in it took the defaults its JSON records (FLOW_KIND_DEFAULTS)."""

import json
from pathlib import Path

import pytest

from benchmarks._text_bench import check_defaults
from benchmarks.flow_memorisation import (
    EVAL_SEEDS,
    json_out,
    results_markdown,
    table_markdown,
)
from cpaudit.sampling.protection import FLOW_KIND_DEFAULTS, defaults_table

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = [arch for arch in EVAL_SEEDS if (ROOT / json_out(arch)).is_file()]


def test_a_flow_benchmark_is_committed():
    assert "flux" in COMMITTED


@pytest.mark.parametrize("arch", COMMITTED)
def test_results_flow_section_equals_the_committed_benchmark(arch):
    record = json.loads((ROOT / json_out(arch)).read_text())
    assert record["model"]["arch"] == arch and record["demo"]["arch"] == arch
    assert record["demo"]["sample_seed"] == record["eval_seed"] == EVAL_SEEDS[arch] > 2_000_000 + 1_000_000
    assert (record["demo"]["steps"], record["demo"]["guidance_scale"]) == (28, 4.0)
    section = results_markdown(record)
    assert table_markdown(record) in section
    assert section in (ROOT / "benchmarks" / "RESULTS.md").read_text()
    unprotected = json.loads(
        (ROOT / "benchmarks" / "results" / f"flow_demo_{arch}" / "unprotected" / "results.json").read_text()
    )
    assert unprotected["attacks"]["prompted_extraction"]["auc"] == record["demo"]["table"][0]["extraction_auc"]


def test_table_rows_carry_their_verdict():
    """The verdict column from a row's counts and its AUC against the chance band (golden rows)."""
    from benchmarks.flow_memorisation import row_verdict

    def row(member: int, holdout: int, auc: float) -> dict:
        return {
            "captions": {"member_captions_extracted": member, "holdout_captions_extracted": holdout},
            "extraction_auc": auc,
            "chance_band95": [0.38, 0.62],
        }

    assert row_verdict(row(60, 0, 0.98)) == "above the base rate; AUC above chance"
    assert row_verdict(row(0, 0, 0.50)) == "at the base rate; AUC inside chance"
    assert row_verdict(row(1, 2, 0.30)) == "at the base rate; AUC below chance"


@pytest.mark.parametrize("arch", COMMITTED)
def test_the_record_names_the_defaults_its_cpsample_runs_took(arch):
    """A flow model's CPSample runs take FLOW_KIND_DEFAULTS (Protection.in_space); the record says so, says where
    they were chosen (on the tiny FLUX model, so on FLUX's own folder only), and every committed CPSample run's
    results.json agrees with it."""
    record = json.loads((ROOT / json_out(arch)).read_text())
    assert "latent_defaults" not in record
    assert record["defaults"] == defaults_table(latent=True, flow=True) == FLOW_KIND_DEFAULTS
    assert (
        "flux_tune/tune.json" in record["defaults_chosen_on"]
        and "text_defences/tune.json" in record["prompt_defaults_chosen_on"]
    )
    assert record["defaults_chosen_on_this_model"] is (arch == "flux")
    checked = check_defaults(ROOT / "benchmarks" / "results" / f"flow_demo_{arch}", record)
    assert checked == [
        "cpsample-exact-posterior",
        "cpsample-learned-classifier",
        "cpsample-learned-classifier-full-training",
    ]
