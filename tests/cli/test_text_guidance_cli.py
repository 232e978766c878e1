"""`cpaudit sample` with delayed / opposite guidance and AMG on a tiny text-to-image model: run.json records them,
bad values and unsupported combinations exit 2 in one line; `cpaudit tune`'s text grid holds their points and
passes them to the sampler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.pipelines import tune_text
from cpaudit.pipelines.tune_text import TEXT_FAMILIES, Extraction, TextTuneOptions, _setting, text_grid
from cpaudit.sampling.amg import Amg
from cpaudit.sampling.cfg_schedule import DEFAULT_UNTIL, CfgSchedule

pytest.importorskip("diffusers")
pytest.importorskip("transformers")
runner = CliRunner()


def run(args: list[str]):
    return runner.invoke(app, [*args, "--quiet"])


@pytest.fixture(scope="module")
def text_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text") / "model"
    args = ["train-diffusion", "captioned-digits", "--text", "--out", str(out), "--n-members", "8"]
    r = run([*args, "--steps", "2", "--vae-steps", "2"])
    assert r.exit_code == 0, r.output
    return out


def test_sample_records_delayed_guidance_and_amg(text_model, tmp_path):
    base = ["sample", "--model", str(text_model), "--prompt", "a digit", "--n", "2", "--steps", "3"]
    r = run([*base, "--out", str(tmp_path / "a"), "--cfg-schedule", "opposite", "--amg", "--amg-threshold", "-1"])
    assert r.exit_code == 0, r.output
    c = json.loads((tmp_path / "a" / "run.json").read_text())["conditions"]
    until = DEFAULT_UNTIL["opposite"]  # the mode's default (tune's choice)
    assert c["cfg_schedule"] == {"mode": "opposite", "until": until, "early_scale": -2.0, "time_range": 1000.0}
    assert c["amg"]["threshold"] == -1.0 and c["amg"]["fired_sample_steps"] == 2 * 3  # every sample, every step
    r = run([*base, "--out", str(tmp_path / "b")])
    plain = json.loads((tmp_path / "b" / "run.json").read_text())["conditions"]
    assert "cfg_schedule" not in plain and "amg" not in plain  # a plain run's record is unchanged
    images = [np.load(tmp_path / d / "samples.npz")["images"] for d in ("a", "b")]
    assert not np.array_equal(*images)


@pytest.mark.parametrize(
    "extra, flag",
    [
        (["--cfg-until", "1.5"], "--cfg-until"),
        (["--cfg-schedule", "later"], "--cfg-schedule"),
        (["--cfg-schedule", "opposite", "--cfg-early-scale", "0.5"], "--cfg-early-scale"),
        (["--cfg-early-scale", "0"], "--cfg-schedule"),
        (["--cfg-schedule", "delayed", "--scheduler", "native"], "--cfg-schedule"),
        (["--amg", "--scheduler", "native"], "--amg"),
        (["--amg-sim", "3"], "--amg"),
        (["--amg", "--amg-threshold", "2"], "--amg-threshold"),
    ],
)
def test_bad_guidance_options_exit_2_in_one_line(text_model, tmp_path, extra, flag):
    r = run(["sample", "--model", str(text_model), "--prompt", "a digit", "--out", str(tmp_path / "o"), *extra])
    assert r.exit_code == 2, r.output
    assert flag in r.output and len(r.output.strip().splitlines()) <= 3


def test_a_class_free_model_refuses_delayed_guidance(tiny_model, tmp_path):
    r = run(["sample", "--model", str(tiny_model), "--out", str(tmp_path / "o"), "--cfg-schedule", "delayed"])
    assert r.exit_code == 2 and "--cfg-schedule" in r.output and "not a text-to-image model" in r.output


def test_the_text_grid_holds_the_new_families_and_measure_passes_them_on(monkeypatch):
    grid = text_grid(None, small=True)
    names = ("delayed-cfg", "opposite-cfg", "amg")
    assert all(len(grid[TEXT_FAMILIES[k]]) == 2 for k in names)
    assert all(len(text_grid(None)[TEXT_FAMILIES[k]]) == 4 for k in names)
    seen = []

    class Drawn(Exception):
        pass

    def fake_sample(opts):
        seen.append(opts.conditions)
        raise Drawn

    monkeypatch.setattr(tune_text, "sample", fake_sample)
    ex = Extraction(Path("m"), ["p"], {}, {}, np.zeros((1, 1)))
    opts = TextTuneOptions(model=Path("m"), out=Path("o"), guidance_scale=7.5)
    for key, field in (("delayed-cfg", "cfg_schedule"), ("amg", "amg")):
        point = grid[TEXT_FAMILIES[key]][0]
        with pytest.raises(Drawn):
            ex.measure(point, 0, opts)
        assert getattr(seen[-1], field) is point[field]
        assert field in _setting(point, flow=False)
    assert isinstance(grid["opposite guidance"][0]["cfg_schedule"], CfgSchedule)
    assert isinstance(grid["anti-memorisation guidance"][0]["amg"], Amg)
