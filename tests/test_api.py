"""The notebook API: cpaudit.audit on arrays returns a typed result whose figures equal the CLI's
results.json for the same inputs; nothing is written unless asked; wrong types are one line."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cpaudit
from cpaudit.cli.app import app
from cpaudit.data.digits import load_digits_set
from cpaudit.data.split import read_split

OPTIONS = {"permutations": 99, "mia_t": (100, 350), "mia_draws": 1, "attack_nulls": 19, "report_only": True}
CLI_OPTIONS = [
    "--permutations",
    "99",
    "--mia-t",
    "100,350",
    "--mia-draws",
    "1",
    "--attack-nulls",
    "19",
    "--report-only",
]
# Where the inputs came from differs (arrays or files); every figure must not.
SOURCE_KEYS = ("samples", "data", "members", "holdout", "split", "sample_run")


@pytest.fixture(scope="module")
def arrays(tiny_model):
    digits = load_digits_set()
    split = read_split(tiny_model / "split.json", digits)
    return digits.pixels[split.member_idx], digits.pixels[split.holdout_idx[:40]]


def test_audit_on_arrays_equals_the_cli(tiny_model, arrays, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no cpaudit.toml or pyproject.toml here: defaults only, both ways
    members, holdout = arrays
    drawn = cpaudit.sample(model=tiny_model, n=12, steps=5)
    assert drawn.out is None and drawn.images.dtype == np.uint8 and not list(tmp_path.iterdir())  # nothing written
    report = cpaudit.audit(drawn, members=members, holdout=holdout, model=tiny_model, **OPTIONS)
    assert isinstance(report, cpaudit.AuditReport) and not list(tmp_path.iterdir())

    (tmp_path / "s").mkdir()
    np.savez(tmp_path / "s" / "samples.npz", images=drawn.images)
    (tmp_path / "s" / "run.json").write_text(json.dumps(drawn.run))
    np.savez(tmp_path / "members.npz", images=members)
    np.savez(tmp_path / "holdout.npz", images=holdout)
    r = CliRunner().invoke(
        app,
        [
            "--quiet",
            "audit",
            "--samples",
            str(tmp_path / "s"),
            "--members",
            str(tmp_path / "members.npz"),
            "--holdout",
            str(tmp_path / "holdout.npz"),
            "--model",
            str(tiny_model),
            "--out",
            str(tmp_path / "cli"),
            *CLI_OPTIONS,
        ],
    )
    assert r.exit_code == 0, r.output
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    ours = json.loads(report.to_json())
    for key in SOURCE_KEYS:
        cli["setup"].pop(key), ours["setup"].pop(key)
    assert ours == cli  # every figure, the data fingerprint and the member ids included
    assert report.passed and report.replication["n_samples"] == 12 and report.release == "samples"

    attacks = report.attacks
    assert isinstance(attacks, pd.DataFrame) and {"threat_model", "auc", "auc_low", "chance_high"} <= set(
        attacks.columns
    )
    assert attacks.loc["loss", "auc"] == cli["attacks"]["loss"]["auc"]
    per_sample = report.replicas()
    assert len(per_sample) == 12 and per_sample["nearest_member"].str.startswith("members/").all()
    with np.load(tmp_path / "cli" / "audit_data.npz") as cli_arrays:
        assert np.array_equal(per_sample["similarity"].to_numpy(), cli_arrays["sample_sim"])
    assert per_sample["replica"].sum() == cli["nn"]["replicas"]
    scores = report.membership_scores()
    assert set(scores["attack"]) == set(cli["attacks"]) and scores["member"].any() and (~scores["member"]).any()
    assert "<table>" in report._repr_html_() and "threat model: samples" in report._repr_html_()


def test_audit_writes_only_where_asked(tiny_model, arrays, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    members, holdout = arrays
    images = cpaudit.sample(model=tiny_model, n=8, steps=3).images
    report = cpaudit.audit(images, members=members, holdout=holdout, out=tmp_path / "a", **OPTIONS)
    assert json.loads((tmp_path / "a" / "results.json").read_text()) == json.loads(report.to_json())
    assert (tmp_path / "a" / "report.html").is_file()


@pytest.mark.parametrize(
    "call, says",
    [
        (
            lambda m, h: cpaudit.audit({"not": "images"}, members=m, holdout=h),
            "samples: expected a samples folder or images",
        ),
        (lambda m, h: cpaudit.audit(np.zeros((4, 8, 8), np.uint8), split=np.zeros(3)), "split: expected a path"),
        (
            lambda m, h: cpaudit.audit(np.zeros((4, 8, 8), np.uint8), members=m, holdout=h, permutatons=9),
            "permutatons: is not an",
        ),
        (lambda m, h: cpaudit.audit(np.full((4, 1, 8, 8), 3.0), members=m, holdout=h), "in [-1, 1]"),
        (lambda m, h: cpaudit.audit(np.zeros((4, 8, 8), np.uint8), members=m), "give both --members and --holdout"),
        (lambda m, h: cpaudit.fid(m, 7), "b: expected a path or images"),
    ],
)
def test_wrong_arguments_are_one_line_cpaudit_errors(arrays, call, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(cpaudit.CpauditError) as e:
        call(*arrays)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_fid_on_arrays_equals_the_cli(arrays, tmp_path):
    members, holdout = arrays
    ours = cpaudit.fid(members, holdout, features="pixel")
    np.savez(tmp_path / "m.npz", images=members)
    np.savez(tmp_path / "h.npz", images=holdout)
    r = CliRunner().invoke(
        app, ["--quiet", "fid", str(tmp_path / "m.npz"), str(tmp_path / "h.npz"), "--features", "pixel", "--json"]
    )
    assert r.exit_code == 0, r.output
    cli = json.loads(r.output)
    assert ours.fid == cli["fid"] and ours.kid == cli["kid"] and ours.n_a == len(members)


def test_protect_gives_a_protection_for_sample(tiny_model):
    p = cpaudit.protect(tiny_model)
    assert isinstance(p, cpaudit.Protection) and p.classifier == "exact"
    protected = cpaudit.sample(model=tiny_model, n=4, steps=3, protection=p)
    assert protected.run["protection"]["classifier"] == "exact"
    with pytest.raises(cpaudit.CpauditError, match="give out="):
        cpaudit.protect(tiny_model, classifier="learned")
