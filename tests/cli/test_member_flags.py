"""`--members` names the training images in every command; a count is `--n-members`. The old `--members N` of
train-diffusion and train-classifier still trains on N members for one release, with a one-line notice."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.options import resolve
from cpaudit.pipelines.classifier_request import TrainClassifierRequest, classifier_options

runner = CliRunner()
TINY = ["--steps", "1", "--channels", "8", "--res-blocks", "1", "--batch-size", "4", "--channel-mult", "1"]


@pytest.mark.parametrize("flag", ["--n-members", "--members"])
def test_train_diffusion_draws_n_members_and_the_old_flag_says_it_is_renamed(tmp_path, flag):
    r = runner.invoke(app, ["--quiet", "train-diffusion", "digits", "--out", str(tmp_path / "m"), flag, "6", *TINY])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "m" / "config.json").read_text())["n_members"] == 6
    notices = [ln for ln in r.output.splitlines() if "renamed" in ln]
    assert notices == (
        ["cpaudit: --members is renamed --n-members (the old flag goes in the next release)"]
        if flag == "--members"
        else []
    )


def test_train_classifier_reads_a_bare_number_after_members_as_the_old_count_with_a_notice(tmp_path):
    with pytest.warns(FutureWarning, match="--members 7 is a count: give --n-members 7"):
        opts = classifier_options(resolve(TrainClassifierRequest, {"data": "digits", "out": tmp_path, "members": "7"}))
    assert (opts.members, opts.member_source) == (7, None)


def test_train_classifier_members_names_images_and_n_members_counts(tmp_path, monkeypatch, recwarn):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "7").mkdir()  # a folder named as a number is the training images, not a count
    opts = classifier_options(resolve(TrainClassifierRequest, {"out": "c", "members": "7", "n_members": 9}))
    assert (opts.members, opts.member_source) == (9, "7")
    opts = classifier_options(resolve(TrainClassifierRequest, {"data": "digits", "out": "c", "n_members": 5}))
    assert (opts.members, opts.member_source) == (5, None)
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]
