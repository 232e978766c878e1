"""Every command's options are declared once (cpaudit/options.py): each declared option is reachable from the
Typer command (a flag named as the option, or a positional argument), from the config reader where it is a config
key, and from the Python API where the command has an API function, all under one name; and the command takes no
option that is not declared."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import typer

import cpaudit
from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.cli.app import app
from cpaudit.errors import InputError
from cpaudit.options import config_values, flag, flat
from cpaudit.pipelines.classifier_request import TrainClassifierRequest
from cpaudit.pipelines.demo_request import DemoRequest
from cpaudit.pipelines.fid import FidOptions
from cpaudit.pipelines.report import ReportOptions
from cpaudit.pipelines.sample_request import SampleRequest
from cpaudit.pipelines.split import SplitOptions
from cpaudit.pipelines.train_request import TrainDiffusionRequest
from cpaudit.pipelines.tune_request import TuneRequest

# Flags a command takes that are no option of the library: how to print, where the config file is.
NOT_OPTIONS = {"help", "quiet", "json_out", "as_json", "config"}
COMMANDS = {  # command -> (its declaration, its API function or None)
    "audit": (AuditOptions, "audit"),
    "sample": (SampleRequest, "sample"),
    "train-diffusion": (TrainDiffusionRequest, "train_diffusion"),
    "train-classifier": (TrainClassifierRequest, "train_classifier"),
    "tune": (TuneRequest, None),
    "split": (SplitOptions, None),
    "fid": (FidOptions, "fid"),
    "report": (ReportOptions, None),
    "demo": (DemoRequest, None),
}


def _click_params(name: str) -> dict:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[name].params}  # type: ignore[attr-defined]


def test_every_command_is_covered():
    assert set(typer.main.get_command(app).commands) == set(COMMANDS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_declared_option_is_a_flag_named_as_the_option_or_a_positional_argument(name):
    cls, _ = COMMANDS[name]
    params = _click_params(name)
    for option, (f, how, _) in flat(cls).items():
        assert option in params, f"{name}: {option} is declared but the command does not take it"
        param = params[option]
        if how.cli:
            assert param.param_type_name == "option" and flag(f, how) in param.opts, (name, option, param.opts)
            if not how.flags:
                assert flag(f, how) == "--" + option.replace("_", "-")
            assert param.help == how.help, (name, option)
        else:
            assert param.param_type_name == "argument", f"{name}: {option} is neither a flag nor an argument"


@pytest.mark.parametrize("name", COMMANDS)
def test_the_command_takes_no_option_that_is_not_declared(name):
    cls, _ = COMMANDS[name]
    declared = set(flat(cls))
    extra = {p for p, param in _click_params(name).items() if not param.hidden and p not in declared}  # type: ignore[attr-defined]
    assert extra <= NOT_OPTIONS, f"{name} declares {sorted(extra - NOT_OPTIONS)} outside its options dataclass"


@pytest.mark.parametrize("name", COMMANDS)
def test_config_keys_are_the_options_names_with_underscores_or_dashes(name):
    cls, _ = COMMANDS[name]
    path = Path("cpaudit.toml")
    unreadable = object()  # a value no option takes: the key is recognised, the value refused
    for option, (_, how, _) in flat(cls).items():
        for key in {option, option.replace("_", "-")}:
            with pytest.raises(InputError) as e:
                config_values(cls, {key: unreadable}, path)
            assert ("unknown key" in str(e.value)) is not how.config, (name, key, str(e.value))


@pytest.mark.parametrize("name", [n for n, (_, api) in COMMANDS.items() if api is not None])
def test_the_api_function_takes_every_option_as_a_keyword_of_the_same_name_and_default(name):
    cls, api = COMMANDS[name]
    params = inspect.signature(getattr(cpaudit, api)).parameters
    for option, (f, _, _) in flat(cls).items():
        assert option in params, f"cpaudit.{api} has no keyword {option}"
        default = f.default if f.default is not dataclasses.MISSING else inspect.Parameter.empty
        if params[option].default is not None and default is not inspect.Parameter.empty:
            assert params[option].default == default, (api, option)
