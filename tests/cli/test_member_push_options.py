"""`cpaudit sample`'s options for the CPSample variants of issue 39: --repel-threshold (nearest-member repulsion,
alone or after CPSample), --rule away-from-member and --check-every; recorded in run.json, bad values exit 2."""

from __future__ import annotations

import json

import numpy as np
import torch
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.sampling.repulsion import centred_unit

runner = CliRunner()
BASE = ["sample", "--n", "6", "--steps", "8", "--seed", "11", "--quiet"]


def _sample(tiny_model, out, *extra: str):
    r = runner.invoke(app, [*BASE, "--model", str(tiny_model), "--out", str(out), *extra])
    return r, (json.loads((out / "run.json").read_text()) if r.exit_code == 0 else None)


def _nearest_member_r(images: np.ndarray, tiny_model) -> np.ndarray:
    from cpaudit.data.members import model_members
    from cpaudit.models.load import load_model

    model = load_model(tiny_model)
    data, split = model_members(model.folder, model.config, None)
    u, _ = centred_unit(torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 127.5 - 1)
    m, _ = centred_unit(data.take(split.member_idx))
    return (u @ m.T).max(1).values.numpy()


def test_repulsion_alone_pushes_samples_off_their_nearest_member_and_is_recorded(tiny_model, tmp_path):
    r, plain = _sample(tiny_model, tmp_path / "plain")
    assert r.exit_code == 0, r.output
    r, pushed = _sample(tiny_model, tmp_path / "rep", "--repel-threshold", "-1", "--repel-scale", "300")
    assert r.exit_code == 0, r.output
    assert pushed["repulsion"] == {"kind": "nearest-member repulsion", "threshold": -1.0, "scale": 300.0}
    assert pushed["fired_fraction"] == 1.0 and plain["fired_fraction"] == 0.0  # threshold -1: every step fires
    before = _nearest_member_r(np.load(tmp_path / "plain" / "samples.npz")["images"], tiny_model)
    after = _nearest_member_r(np.load(tmp_path / "rep" / "samples.npz")["images"], tiny_model)
    assert after.mean() < before.mean() - 0.05, (before, after)


def test_cpsample_then_repulsion_fires_where_either_does(tiny_model, tiny_classifier, tmp_path):
    common = ["--protect", "--classifier", "exact", "--alpha", "0.5", "--guide-when", "every-step"]
    r, run = _sample(tiny_model, tmp_path / "both", *common, "--repel-threshold", "0.99")
    assert r.exit_code == 0, r.output
    assert run["protection"]["classifier"] == "exact" and run["repulsion"]["threshold"] == 0.99
    assert run["fired_fraction"] == 1.0  # CPSample guides every step; repulsion adds nothing to "fired"


def test_away_from_member_rule_and_check_every_reach_the_protection(tiny_model, tiny_classifier, tmp_path):
    r, run = _sample(
        tiny_model, tmp_path / "member", "--protect", "--classifier", "exact", "--rule", "away-from-member"
    )
    assert r.exit_code == 0, r.output
    assert run["protection"]["rule"] == "away-from-member"
    r, run = _sample(
        tiny_model, tmp_path / "check", "--protect", "--classifier", str(tiny_classifier), "--check-every", "3"
    )
    assert r.exit_code == 0, r.output
    assert run["protection"]["check_every"] == 3


def test_bad_values_exit_2_in_one_line(tiny_model, tiny_classifier, tmp_path):
    cases = [
        (["--repel-scale", "10"], "--repel-threshold"),
        (["--repel-threshold", "1.5"], "--repel-threshold"),
        (["--protect", "--classifier", "exact", "--check-every", "0"], "--check-every"),
        (["--protect", "--classifier", str(tiny_classifier), "--rule", "away-from-member"], "exact"),
    ]
    for k, (extra, named) in enumerate(cases):
        r, _ = _sample(tiny_model, tmp_path / f"bad{k}", *extra)
        assert r.exit_code == 2, (extra, r.output)
        assert named in r.output and "Traceback" not in r.output, (extra, r.output)
        assert not (tmp_path / f"bad{k}").exists()
