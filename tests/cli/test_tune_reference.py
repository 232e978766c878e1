"""`cpaudit tune --reference DIR`: the reference model beside every defence, and precision, recall and
authenticity for every point (issue 39)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cpaudit.auditing.frontier import Reference, evaluate_samples
from cpaudit.cli.app import app
from cpaudit.pipelines.tune_reference import REFERENCE

runner = CliRunner()
QUICK = ["--small", "--n-tune", "8", "--n-eval", "8", "--dp-epsilons", "", "--defences", "exact", "--steps", "3"]


@pytest.fixture(scope="module")
def tiny_reference(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_reference") / "reference"
    r = runner.invoke(app, ["--quiet", "train-diffusion", "--reference-for", str(tiny_model), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def _tune(model, out, *extra):
    return runner.invoke(app, ["--quiet", "tune", "--model", str(model), "--out", str(out), *QUICK, *extra])


def test_tune_draws_the_reference_and_takes_its_members_out_of_the_held_out_set(tiny_model, tiny_reference, tmp_path):
    r = _tune(tiny_model, tmp_path, "--reference", str(tiny_reference))
    assert r.exit_code == 0, r.output
    t = json.loads((tmp_path / "tune.json").read_text())
    audited_holdout = len(json.loads((tiny_model / "split.json").read_text())["holdout"])
    info = t["settings"]["reference"]
    assert info["holdout_removed"] == 16 and info["n_holdout_before"] == audited_holdout
    assert t["settings"]["n_holdout"] == audited_holdout - 16
    ref = t["reference"]
    assert ref["tuning"]["defence"] == ref["evaluation"]["defence"] == REFERENCE
    assert ref["tuning"]["seeds"][0] == 2_000_000 and ref["evaluation"]["seeds"][0] == 1_000_000
    points = t["tuning"] + t["evaluation"] + [ref["tuning"], ref["evaluation"]]
    # Every point is scored against the shrunk held-out set, with its FID read against the reference's too.
    assert {p["fid_reference"] for p in points} == {audited_holdout - 16}
    assert ref["evaluation"]["fid_x_reference"] == 1.0
    e = t["evaluation"][0]
    assert e["fid_x_reference"] == pytest.approx(e["fid"] / ref["evaluation"]["fid"])
    assert all({"precision", "recall", "authenticity"} <= set(p["fidelity"]) for p in points)
    md = (tmp_path / "report.md").read_text()
    assert md.count(f"| {REFERENCE} |") == 3  # the frontier, leakage-by-n and tuning tables
    assert "FID x ref" in md and "authenticity" in md and f"({audited_holdout} -> {audited_holdout - 16})" in md


def test_a_reference_that_trained_on_an_audited_member_is_refused(tiny_model, tmp_path):
    r = _tune(tiny_model, tmp_path / "o", "--reference", str(tiny_model))  # the model itself: all 16 overlap
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "--reference" in r.output and "16 of the audited members" in r.output
    assert not (tmp_path / "o").exists()


def test_fidelity_tells_copies_from_fresh_images():
    from cpaudit.data.load import load_data

    data = load_data("digits")
    members, holdout = data.take(np.arange(32)), data.take(np.arange(32, 256))
    ref = Reference.of(members, holdout, threshold=0.97)
    copies = evaluate_samples(members.repeat(2, 1, 1, 1), ref, np.random.default_rng(0), n_null=20)["fidelity"]
    fresh = evaluate_samples(data.take(np.arange(1000, 1064)), ref, np.random.default_rng(0), n_null=20)["fidelity"]
    # Copies are never authentic; unseen digits often are (0.5 here: 32 members leave wide gaps between them).
    assert copies["authenticity"] == 0.0 and fresh["authenticity"] >= 0.4
    assert fresh["precision"] >= 0.4 and fresh["n_holdout"] == 224 and fresh["n_members"] == 32


def test_the_frontier_figure_draws_the_reference_point():
    from cpaudit.report import plots

    point = {"defence": "none", "fid": 3.0, "replica_rate": 0.2, "sample_only_auc": 0.7, "epsilon_lb": 0.5}
    reference = {**point, "defence": REFERENCE, "fid": 4.0, "replica_rate": 0.0, "sample_only_auc": 0.5}
    without = plots.frontier([point], 6.0, 0.65)
    assert plots.frontier([point], 6.0, 0.65, reference=reference) != without


def test_a_reference_that_records_no_training_images_is_refused_in_one_line(tiny_model, tmp_path):
    """A folder with no split.json (a model trained elsewhere) cannot be shown disjoint: refused, saying how to fix."""
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(tiny_model, bare)
    (bare / "split.json").unlink()
    r = _tune(tiny_model, tmp_path / "o", "--reference", str(bare))
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "records no training images" in r.output and "--reference-for" in r.output
    assert not (tmp_path / "o").exists()
