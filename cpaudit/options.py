"""Options declared once. A command's options are one dataclass; each field's metadata (`option(...)`) carries
its flag, help text, bounds and how a value is read. From that one declaration come:

- the Typer command (`command`): one parameter per field, the flag and help as declared;
- the config file's keys (`config_values`): cpaudit.toml or pyproject.toml's [tool.cpaudit], keys named as the
  fields (`_` or `-`), nested dataclasses (the audit's policy) as their own table;
- the Python API's keyword arguments (`keywords`, `resolve`): named as the fields.

`resolve` merges what was given over the config file over the defaults, reads every value through the field's
`parse` (so "50,100", [50, 100] and (50, 100) all mean the same) and checks the declared bounds, naming the flag
in a one-line InputError. A renamed flag keeps working for one release (`old=`), with a one-line notice.

This is sqlite-utils' and Typer's idea (the signature is the interface) taken one step further, so that the CLI,
the config file and the API cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

from cpaudit.errors import InputError

KEY = "cpaudit.option"


@dataclass(frozen=True)
class Option:
    """How one dataclass field appears on the command line and in the config file."""

    help: str
    flags: tuple[str, ...] = ()  # default: ("--name-with-dashes",)
    cli_type: Any = None  # the type Typer parses, where it is not the field's (a str for "50,100")
    parse: Callable[[Any], Any] | None = None  # CLI text, TOML value or API value -> the field's value
    shown: Callable[[Any], Any] | None = None  # the field's default as the CLI shows and takes it
    metavar: str | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    cli: bool = True  # on the command line
    config: bool = True  # settable from the config file
    show_default: bool = True  # False where the help says "[default: ...]" itself (defaults per model kind)
    old: tuple[str, ...] = ()  # flags renamed away, still accepted for one release with a notice
    nested: bool = False  # a dataclass of options of its own (its fields become this command's flags)


def option(default: Any = MISSING, *, default_factory: Any = MISSING, **how: Any) -> Any:
    """A dataclass field declared as an option: `threshold: float | None = option(None, help=..., min=-1)`."""
    return field(default=default, default_factory=default_factory, metadata={KEY: Option(**how)})


def declared(cls: type) -> Iterator[tuple[dataclasses.Field, Option]]:
    """The fields of `cls` declared with option(), in order."""
    for f in dataclasses.fields(cls):
        if KEY in f.metadata:
            yield f, f.metadata[KEY]


def flag(f: dataclasses.Field, how: Option) -> str:
    return how.flags[0] if how.flags else "--" + f.name.replace("_", "-")


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def flat(cls: type) -> dict[str, tuple[dataclasses.Field, Option, str | None]]:
    """name -> (field, option, the nested field it sits in, or None): a nested dataclass's fields come flat."""
    out: dict[str, tuple[dataclasses.Field, Option, str | None]] = {}
    for f, how in declared(cls):
        if how.nested:
            out.update({name: (g, h, f.name) for name, (g, h, _) in flat(_field_type(cls, f)).items()})
        else:
            out[f.name] = (f, how, None)
    return out


def _field_type(cls: type, f: dataclasses.Field) -> Any:
    return _type_hints(cls)[f.name]


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """A declaration's resolved field types, once per class: every command's flags are built when the CLI starts."""
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


# ---- values -----------------------------------------------------------------------------------------------------


def parsed(name: str, value: Any, f: dataclasses.Field, how: Option) -> Any:
    """One value read as the field's: through `parse`, then the declared bounds and choices (InputError names
    the flag)."""
    if value is None:
        return None
    if how.parse is not None:
        try:
            value = how.parse(value)
        except (TypeError, ValueError) as e:
            raise InputError(flag(f, how), f"cannot read {value!r}: {e}") from None
    _check(value, f, how)
    return value


def _check(value: Any, f: dataclasses.Field, how: Option) -> None:
    where = flag(f, how)
    if how.choices and value not in how.choices:
        raise InputError(where, f"must be {' or '.join(map(str, how.choices))}, got {value!r}")
    for v in value if isinstance(value, tuple) else (value,):
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if how.min is not None and v < how.min:
            raise InputError(where, f"must be >= {how.min:g}, got {v:g}")
        if how.max is not None and v > how.max:
            raise InputError(where, f"must be <= {how.max:g}, got {v:g}")


def resolve(cls: type, given: dict[str, Any], config: dict[str, Any] | None = None, **fixed: Any) -> Any:
    """An instance of `cls`: `given` (name -> value, only what was said) over `config` (config_values) over the
    fields' defaults; `fixed` are values the caller sets itself (not options). Unknown names are refused."""
    options = flat(cls)
    unknown = sorted(set(given) - set(options))
    if unknown:
        raise InputError(unknown[0], f"is not an option here (options: {', '.join(sorted(options))})")
    merged = {**(config or {}), **{k: v for k, v in given.items() if v is not None}}
    top: dict[str, Any] = dict(fixed)
    inner: dict[str, dict[str, Any]] = {}
    for name, value in merged.items():
        f, how, parent = options[name]
        value = parsed(name, value, f, how)
        (inner.setdefault(parent, {}) if parent else top)[name] = value
    for parent, values in inner.items():
        outer = next(f for f, _ in declared(cls) if f.name == parent)
        base = top.get(parent, default_of(outer))
        top[parent] = dataclasses.replace(base, **values)
    return cls(**top)


# ---- the config file ----------------------------------------------------------------------------------------------

_TOML = {str: (str,), int: (int,), float: (int, float), bool: (bool,)}


def config_values(cls: type, table: dict[str, Any], path: Path) -> dict[str, Any]:
    """The options a config table sets (keys named as the fields, `_` or `-`; a nested dataclass as its own
    sub-table or at the top level), checked against the declared types; unknown keys are refused in one line."""
    options = {n: o for n, o in flat(cls).items() if o[1].config}
    nested = {f.name for f, how in declared(cls) if how.nested}
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name in nested and isinstance(value, dict):
            values.update(
                config_values(_field_type(cls, next(f for f, _ in declared(cls) if f.name == name)), value, path)
            )
            continue
        if name not in options:
            raise InputError(path, f"unknown key {key!r} (options: {', '.join(sorted(options))})")
        f, how, _ = options[name]
        _toml_value(path, key, value, _cli_type(cls, f, how))
        try:
            values[name] = parsed(name, value, f, how)
        except InputError as e:
            raise InputError(path, f"{key}: {e.problem}") from None
    return values


def _toml_value(path: Path, key: str, value: Any, kind: Any) -> Any:
    base = (
        typing.get_origin(kind) in (typing.Union, type(int | None))
        and next(a for a in typing.get_args(kind) if a is not type(None))
        or kind
    )
    allowed = _TOML.get(base, (str,))
    ok = isinstance(value, allowed) and (base is bool or not isinstance(value, bool))
    if isinstance(value, list) and base is str:  # a list option written as a TOML array: mia_t = [50, 100]
        ok = True
    if not ok:
        names = " or ".join(k.__name__ for k in allowed)
        raise InputError(path, f"{key} must be a {names}, got {value!r}")
    return value


# ---- the command line -----------------------------------------------------------------------------------------------


def _cli_type(cls: type, f: dataclasses.Field, how: Option) -> Any:
    return how.cli_type if how.cli_type is not None else _field_type(_owner(cls, f), f)


def _owner(cls: type, f: dataclasses.Field) -> type:
    """The dataclass declaring `f` (cls itself, or one nested in it)."""
    if f in dataclasses.fields(cls):
        return cls
    for g, how in declared(cls):
        if how.nested:
            return _owner(_field_type(cls, g), f)
    raise KeyError(f.name)


def cli_parameters(cls: type) -> list[inspect.Parameter]:
    """One keyword parameter per command-line option, its default a typer.Option built from the declaration
    (and a hidden one per renamed flag)."""
    import typer

    params = []
    for name, (f, how, _) in flat(cls).items():
        if not how.cli:
            continue
        default = default_of(f)
        shown = ... if default is MISSING else (how.shown(default) if how.shown and default is not None else default)
        extra = {k: getattr(how, k) for k in ("metavar", "min", "max") if getattr(how, k) is not None}
        opt = typer.Option(
            shown, *((flag(f, how),) + how.flags[1:]), help=how.help, show_default=how.show_default, **extra
        )
        params.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=_cli_type(cls, f, how))
        )
        for i, old in enumerate(how.old):
            params.append(
                inspect.Parameter(
                    f"{name}__old{i}",
                    inspect.Parameter.KEYWORD_ONLY,
                    default=typer.Option(None, old, hidden=True),
                    annotation=_cli_type(cls, f, how) | None,
                )
            )
    return params


def command(
    cls: type,
    body: Callable[..., None],
    *,
    extra: Sequence[inspect.Parameter] = (),
    doc: str | None = None,
    after: dict[str, str] | None = None,
) -> Callable[..., None]:
    """A Typer command for `cls`: it calls body(given, **extras) with `given` the options the user set
    (name -> value as typed; renamed flags mapped to their new name with a one-line notice on stderr) and the
    extra parameters (--json, --quiet, --config, arguments) by name. `after` places an extra option after a
    declared one in --help (extra name -> option name); the rest come last."""
    import typer
    from typer._click.core import ParameterSource

    options = [p for p in cli_parameters(cls)]
    extra_names = {p.name for p in extra}

    def run(ctx: typer.Context, **params: Any) -> None:
        given: dict[str, Any] = {}
        for name, value in params.items():
            if name in extra_names or ctx.get_parameter_source(name) == ParameterSource.DEFAULT:
                continue
            if "__old" in name:
                new, i = name.split("__old")
                f, how, _ = flat(cls)[new]
                typer.echo(
                    f"cpaudit: {how.old[int(i)]} is renamed {flag(f, how)} (the old flag goes in the next release)",
                    err=True,
                )
                given.setdefault(new, value)
            else:
                given[name] = value
        body(given, **{n: params[n] for n in extra_names})

    ctx_param = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    params = [ctx_param, *_placed(options, list(extra), after or {})]
    params.sort(key=lambda p: p.kind)  # positional arguments (extra) before keyword-only options
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    run.__doc__ = doc
    return run


# ---- the Python API -----------------------------------------------------------------------------------------------


def keywords(cls: type, *, skip: tuple[str, ...] = ()) -> list[inspect.Parameter]:
    """The API's keyword parameters for `cls`: one per option, named and defaulted as declared."""
    out = []
    for name, (f, _, _) in flat(cls).items():
        if name in skip:
            continue
        default = default_of(f)
        out.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=inspect.Parameter.empty if default is MISSING else default
            )
        )
    return out


def with_keywords(cls: type, *, skip: tuple[str, ...] = (), first: Sequence[inspect.Parameter] = ()) -> Callable:
    """Decorator: the function's signature becomes `first` + the options of `cls` as keywords (for help() and
    inspect; the function takes **settings)."""

    def mark(fn: Callable) -> Callable:
        fn.__signature__ = inspect.Signature([*first, *keywords(cls, skip=skip)])  # type: ignore[attr-defined]
        return fn

    return mark


# ---- parse helpers shared by declarations -----------------------------------------------------------------------------


def as_path(value: Any) -> Path:
    return value if isinstance(value, Path) else Path(value)


def int_tuple(value: Any) -> tuple[int, ...]:
    """'50,100' or [50, 100] or (50, 100) -> (50, 100)."""
    items = value.split(",") if isinstance(value, str) else value
    out = []
    for v in items:
        if isinstance(v, bool) or isinstance(v, float) and not v.is_integer():
            raise ValueError("expected whole numbers separated by commas, such as 50,100")
        try:
            out.append(int(v))
        except ValueError:  # int('x') names Python's literal rules, not what to type
            raise ValueError("expected whole numbers separated by commas, such as 50,100") from None
    return tuple(out)


def comma_joined(value: tuple) -> str:
    return ",".join(map(str, value))


# ---- positional arguments (DATA, RESULTS...) --------------------------------------------------------------------------


def argument_parameter(cls: type, name: str) -> inspect.Parameter:
    """A positional argument for the field `name` of `cls`, declared with option(..., cli=False) so that
    `cli_parameters` makes no flag of it: its help, default and metavar are the declaration's."""
    import typer

    f, how, _ = flat(cls)[name]
    default = default_of(f)
    arg = typer.Argument(... if default is MISSING else default, help=how.help, metavar=how.metavar)
    return inspect.Parameter(
        name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=arg, annotation=_cli_type(cls, f, how)
    )


def _placed(
    options: list[inspect.Parameter], extra: list[inspect.Parameter], after: dict[str, str]
) -> list[inspect.Parameter]:
    out = []
    for p in options:
        out.append(p)
        out += [e for e in extra if after.get(e.name) == p.name]
    return out + [e for e in extra if e.name not in after]


def command_with_arguments(
    cls: type,
    body: Callable[..., None],
    *,
    arguments: tuple[str, ...],
    extra: Sequence[inspect.Parameter] = (),
    doc: str | None = None,
    after: dict[str, str] | None = None,
) -> Callable[..., None]:
    """`command` for a command that also takes positional arguments (fields of `cls` named in `arguments`, in
    order): what the user gave for them joins `given`, as the options do, so the body sees one dict."""

    def with_arguments(given: dict[str, Any], **params: Any) -> None:
        for name in arguments:
            value = params.pop(name)
            if value is not None and value != []:
                given[name] = value
        body(given, **params)

    params = [argument_parameter(cls, name) for name in arguments]
    return command(cls, with_arguments, extra=[*params, *extra], doc=doc, after=after)


def size_hw(value: Any) -> tuple[int, int]:
    """'32x32' (the command line) or (32, 32) / [32, 32] (the API, a config file) -> (32, 32), checked as --resize."""
    from cpaudit.data.load import parse_resize

    if isinstance(value, str):
        return parse_resize(value)  # type: ignore[return-value]
    h, w = (int(v) for v in value)
    return parse_resize(f"{h}x{w}")  # type: ignore[return-value]


def int_tuple_or_none(value: Any) -> tuple[int, ...]:
    """int_tuple where '' (an option's empty default on the command line) means none: '' -> ()."""
    return () if value == "" else int_tuple(value)
