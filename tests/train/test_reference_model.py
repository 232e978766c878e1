"""`train-diffusion --reference-for MODEL`: the same training on as many members MODEL never trained on (issue 39)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app

runner = CliRunner()
TINY = ["--steps", "3", "--channels", "16", "--res-blocks", "1", "--batch-size", "8"]


def _train(args: list[str]) -> None:
    r = runner.invoke(app, ["--quiet", "train-diffusion", *args])
    assert r.exit_code == 0, r.output


def _ids(folder: Path, part: str) -> set[str]:
    return {r["id"] for r in json.loads((folder / "split.json").read_text())[part]}


def _same_except(a: dict, b: dict, differ: set[str]) -> None:
    keys = (set(a) | set(b)) - differ
    assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}


def test_a_pixel_reference_trains_alike_on_members_the_model_never_saw(tiny_model, tmp_path):
    """The pixel model holds out every other digit: the reference draws its members from those, and says so."""
    _train(["--reference-for", str(tiny_model), "--out", str(tmp_path / "ref"), "--seed", "4"])
    ref = tmp_path / "ref"
    members, model_members = _ids(ref, "members"), _ids(tiny_model, "members")
    assert len(members) == len(model_members) == 16 and not members & model_members
    assert members <= _ids(tiny_model, "holdout") and not members & _ids(ref, "holdout")
    split = json.loads((ref / "split.json").read_text())
    assert split["reference_for"]["model"] == str(tiny_model)
    assert split["reference_for"]["drawn_from"].startswith("the model's held-out images")
    assert len(split["reference_for"]["split_sha256"]) == 64
    model_cfg, ref_cfg = (json.loads((f / "config.json").read_text()) for f in (tiny_model, ref))
    _same_except(model_cfg, ref_cfg, {"seed", "train_seconds", "provenance", "reference_for", "device"})
    assert ref_cfg["seed"] == 4 and ref_cfg["reference_for"] == split["reference_for"]


def test_a_reference_prefers_images_neither_member_nor_held_out(tmp_path):
    """A poisson split holds out only its pool's non-members: the reference's members come from outside the pool."""
    model = tmp_path / "model"
    _train(["digits", "--out", str(model), "--n-members", "8", "--split-design", "poisson", *TINY])
    _train(["--reference-for", str(model), "--out", str(tmp_path / "ref")])
    members = _ids(tmp_path / "ref", "members")
    assert len(members) == len(_ids(model, "members"))
    assert not members & (_ids(model, "members") | _ids(model, "holdout"))
    assert _ids(tmp_path / "ref", "holdout") == _ids(model, "holdout")


def test_reference_for_refuses_a_model_without_a_recorded_training_config(tiny_model, tmp_path):
    foreign = tmp_path / "sdxl-lora"
    foreign.mkdir()
    (foreign / "adapter_config.json").write_text("{}")
    r = runner.invoke(app, ["train-diffusion", "--reference-for", str(foreign), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "train the reference yourself on images disjoint from the members" in r.output
    classes = tmp_path / "classes"
    classes.mkdir()
    (classes / "cpaudit.json").write_text('{"kind": "cpaudit-class-diffusion", "data": "digits"}')
    r = runner.invoke(app, ["train-diffusion", "--reference-for", str(classes), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "cpaudit-class-diffusion" in r.output and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["train-diffusion", "--reference-for", str(tiny_model), "--out", str(tmp_path / "r")] + TINY)
    assert r.exit_code == 2 and "--steps" in r.output and "--reference-for" in r.output
    r = runner.invoke(app, ["train-diffusion", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "DATA" in r.output
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # two diffusers pipelines, however few their steps
def test_a_text_reference_never_sees_the_members_not_even_in_its_autoencoder(tmp_path):
    pytest.importorskip("diffusers")
    model, ref = tmp_path / "model", tmp_path / "ref"
    _train(
        ["captioned-digits", "--text", "--out", str(model), "--n-members", "8", "--n-holdout", "8", "--vae-steps", "2"]
        + TINY[:2]
    )
    _train(["--reference-for", str(model), "--out", str(ref)])
    members = _ids(ref, "members")
    assert len(members) == 8 and not members & (_ids(model, "members") | _ids(model, "holdout"))
    assert _ids(ref, "holdout") == _ids(model, "holdout")
    meta, ref_meta = (json.loads((f / "cpaudit.json").read_text()) for f in (model, ref))
    # The autoencoder trains on the images outside both models' members and the held-out set.
    assert ref_meta["vae_source"].startswith(f"trained on {1797 - 8 - 8 - 8} images")
    _same_except(meta, ref_meta, {"train_seconds", "vae_seconds", "vae_source", "provenance", "reference_for"})
