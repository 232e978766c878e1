"""Options declared once (cpaudit/options.py): the Typer command, the config file and the API keywords all come from
one dataclass; golden checks on a small declaration."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cpaudit.errors import InputError
from cpaudit.options import command, config_values, flat, int_tuple, keywords, option, resolve


@dataclass(frozen=True)
class Gates:
    max_rate: float | None = option(None, help="Fail above this rate.", min=0.0, max=1.0, parse=float)


@dataclass(frozen=True)
class Toy:
    out: Path = option(help="Where to write.", parse=Path)
    steps: int = option(50, help="Steps.", min=1)
    ts: tuple[int, ...] = option((1, 2), help="Timesteps.", cli_type=str, parse=int_tuple, shown=lambda v: "1,2")
    mode: str = option("fast", help="fast or slow.", choices=("fast", "slow"), old=("--speed",))
    gates: Gates = option(Gates(), help="The gates.", nested=True)
    secret: int = option(3, help="Not on the command line.", cli=False)


def _app(seen: list) -> typer.Typer:
    app = typer.Typer()

    def body(given, *, verbose):
        seen.append((given, verbose))

    extra = [
        inspect.Parameter(
            "verbose", inspect.Parameter.KEYWORD_ONLY, annotation=bool, default=typer.Option(False, "--verbose")
        )
    ]
    app.command()(command(Toy, body, extra=extra, doc="Run the toy."))
    return app


def test_the_command_takes_every_declared_flag_and_passes_only_what_was_given():
    seen: list = []
    r = CliRunner().invoke(_app(seen), ["--out", "o", "--ts", "5,6", "--max-rate", "0.5", "--verbose"])
    assert r.exit_code == 0, r.output
    given, verbose = seen[0]
    assert given == {"out": Path("o"), "ts": "5,6", "max_rate": 0.5} and verbose is True
    opts = resolve(Toy, given)
    assert opts == Toy(out=Path("o"), ts=(5, 6), gates=Gates(0.5))


def test_help_shows_flags_help_and_the_shown_default_but_not_hidden_or_cli_false_options():
    r = CliRunner().invoke(_app([]), ["--help"], env={"COLUMNS": "200"})
    assert "Run the toy." in r.output and "--max-rate" in r.output and "[default: 1,2]" in r.output
    assert "--speed" not in r.output and "--secret" not in r.output


def test_a_renamed_flag_still_works_with_a_one_line_notice():
    seen: list = []
    r = CliRunner().invoke(_app(seen), ["--out", "o", "--speed", "slow"])
    assert r.exit_code == 0, r.output
    assert seen[0][0]["mode"] == "slow"
    assert "--speed is renamed --mode" in r.output


def test_config_values_read_keys_with_dashes_nested_tables_and_refuse_unknown_keys(tmp_path):
    f = tmp_path / "cpaudit.toml"
    assert config_values(Toy, {"steps": 7, "ts": [3, 4], "gates": {"max-rate": 0.1}}, f) == {
        "steps": 7,
        "ts": (3, 4),
        "max_rate": 0.1,
    }
    assert config_values(Toy, {"max_rate": 0.2}, f) == {"max_rate": 0.2}  # gates at the top level too
    with pytest.raises(InputError, match="unknown key 'stepz'"):
        config_values(Toy, {"stepz": 1}, f)
    with pytest.raises(InputError, match="steps must be a int"):
        config_values(Toy, {"steps": "many"}, f)
    with pytest.raises(InputError, match=r"cpaudit.toml: max_rate: must be <= 1"):
        config_values(Toy, {"max_rate": 2.0}, f)


def test_resolve_puts_given_over_config_over_defaults_and_names_the_flag_on_bad_values():
    opts = resolve(Toy, {"steps": 9}, {"steps": 4, "mode": "slow"}, out=Path("x"))
    assert (opts.steps, opts.mode, opts.out) == (9, "slow", Path("x"))
    with pytest.raises(InputError, match="--steps: must be >= 1"):
        resolve(Toy, {"steps": 0, "out": "x"})
    with pytest.raises(InputError, match="--mode: must be fast or slow"):
        resolve(Toy, {"mode": "medium", "out": "x"})
    with pytest.raises(InputError, match="stepz: is not an option"):
        resolve(Toy, {"stepz": 1})


def test_keywords_follow_the_declarations():
    params = {p.name: p.default for p in keywords(Toy)}
    assert list(params) == list(flat(Toy)) and params["steps"] == 50 and params["out"] is inspect.Parameter.empty
