"""A missing optional dependency is one line naming the extra that installs it, never a traceback."""

import sys

import pytest
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.extras import MissingExtra, require


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "opacus", None)  # as if not installed: import raises ImportError
    monkeypatch.delitem(sys.modules, "opacus.accountants", raising=False)
    with pytest.raises(MissingExtra) as e:
        require("opacus.accountants")
    assert str(e.value) == "opacus is needed for DP-SGD training and its privacy accounting: pip install 'cpaudit[dp]'"


def test_an_unknown_missing_module_is_not_blamed_on_an_extra():
    with pytest.raises(ImportError):
        require("cpaudit_no_such_module")


def test_cli_without_scikit_learn_says_which_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.delitem(sys.modules, "sklearn.datasets", raising=False)
    r = CliRunner().invoke(app, ["train-diffusion", "digits", "--out", str(tmp_path / "m"), "--steps", "1", "--quiet"])
    assert r.exit_code == 2, r.output
    assert "pip install 'cpaudit[demo]'" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "m").exists()
