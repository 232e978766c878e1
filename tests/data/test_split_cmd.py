"""`cpaudit split --design`: a split drawn by cpaudit, its design recorded; the user's own folders are "user"."""

import json

import numpy as np
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.data.load import load_data
from cpaudit.data.split import read_split
from tests.conftest import write_png

runner = CliRunner()


def test_split_draws_a_poisson_or_fixed_split_of_data(tmp_path):
    d = load_data("digits")
    for design in ("poisson", "fixed"):
        out = tmp_path / f"{design}.json"
        r = runner.invoke(
            app,
            ["--quiet", "split", "--data", "digits", "--design", design, "--seed", "4", "--out", str(out), "--json"],
        )
        assert r.exit_code == 0, r.output
        printed = json.loads(r.output)
        assert printed["n_members"] + printed["n_holdout"] == len(d)
        s = read_split(out, d)
        assert s.design == design and s.seed == 4
    assert len(read_split(tmp_path / "fixed.json", d).member_idx) == len(d) // 2


def test_the_users_own_folders_are_design_user(tmp_path):
    for name, images in (("train", np.zeros((3, 8, 8), np.uint8)), ("holdout", np.full((2, 8, 8), 255, np.uint8))):
        (tmp_path / name).mkdir()
        for i, im in enumerate(images):
            write_png(tmp_path / name / f"{i}.png", im)
    out = tmp_path / "split.json"
    r = runner.invoke(
        app,
        [
            "--quiet",
            "split",
            "--members",
            str(tmp_path / "train"),
            "--holdout",
            str(tmp_path / "holdout"),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["design"] == "user" and json.loads(r.output)["n_members"] == 3


def test_design_needs_data_and_no_users_record(tmp_path):
    r = runner.invoke(app, ["split", "--design", "poisson", "--out", str(tmp_path / "s.json")])
    assert r.exit_code == 2 and "--data" in r.output and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["split", "--data", "digits", "--design", "coins", "--out", str(tmp_path / "s.json")])
    assert r.exit_code == 2 and "poisson or fixed" in r.output
    assert not (tmp_path / "s.json").exists()


def test_train_diffusion_draws_a_poisson_split_and_records_it(tmp_path):
    out = tmp_path / "model"
    r = runner.invoke(
        app,
        [
            "--quiet",
            "train-diffusion",
            "digits",
            "--out",
            str(out),
            "--members",
            "8",
            "--split-design",
            "poisson",
            "--steps",
            "1",
            "--channels",
            "8",
            "--res-blocks",
            "1",
            "--device",
            "cpu",
        ],
    )
    assert r.exit_code == 0, r.output
    split = json.loads((out / "split.json").read_text())
    assert split["design"] == "poisson" and len(split["members"]) + len(split["holdout"]) == 16
    assert json.loads((out / "config.json").read_text())["split_design"] == "poisson"
    r = runner.invoke(
        app,
        ["train-diffusion", "captioned-digits", "--text", "--out", str(tmp_path / "t"), "--split-design", "poisson"],
    )
    assert r.exit_code == 2 and "--split-design" in r.output
