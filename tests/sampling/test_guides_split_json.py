"""The learned classifier's member check reads the model folder's split.json: one it cannot read is refused in
one line naming the file (exit 2), never skipped as if the model recorded no members (issue 36)."""

import shutil

import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app

runner = CliRunner()


@pytest.mark.parametrize(
    "text", ["{not json", '{"members": "a", "holdout": []}', '{"members": [{"sha256": "0"}], "holdout": []}']
)
def test_an_unreadable_split_json_is_refused_in_one_line(tiny_model, tiny_classifier, tmp_path, text):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    (model / "split.json").write_text(text)
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(model),
            "--n",
            "2",
            "--steps",
            "2",
            "--protect",
            "--classifier",
            str(tiny_classifier),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ],
    )
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert str(model / "split.json") in r.output, r.output
