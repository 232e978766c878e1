"""Settings from a file: cpaudit.toml, or `[tool.cpaudit]` in pyproject.toml (as ruff's `[lint]` becomes
`[tool.ruff.lint]`, cpaudit.toml's `[policy]` becomes `[tool.cpaudit.policy]`).

Every audit option can be set there, under the option's name with `_` or `-` (`release = "sampler"`,
`features = "inception"`, `mia_t = [50, 100]`); the gates go in the policy table (or at the top level). The keys
and their types are the options' own declarations (auditing/engine/options.py, read by cpaudit/options.py), so a
key means what the flag of the same name means. What was said explicitly overrides the file, which overrides the
defaults (`configured`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from cpaudit.errors import InputError
from cpaudit.io_utils import read_toml
from cpaudit.options import config_values, resolve


def find_config(cwd: Path = Path(".")) -> Path | None:
    """./cpaudit.toml, else ./pyproject.toml where it has a [tool.cpaudit] table."""
    if (cwd / "cpaudit.toml").is_file():
        return cwd / "cpaudit.toml"
    py = cwd / "pyproject.toml"
    if py.is_file():
        try:
            if "cpaudit" in tomllib.loads(py.read_text()).get("tool", {}):
                return py
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return None  # not ours to judge unless asked for (--config)
    return None


def read_config(path: Path, options: type) -> dict[str, Any]:
    """The settings of cpaudit.toml or of pyproject.toml's [tool.cpaudit] for the options dataclass `options`
    (name -> value); bad keys and values are one line naming the file."""
    doc = read_toml(path)
    if "project" in doc or "tool" in doc or Path(path).name == "pyproject.toml":
        table = doc.get("tool", {}).get("cpaudit")
        if not isinstance(table, dict):
            raise InputError(path, "has no [tool.cpaudit] table (cpaudit's settings in pyproject.toml live there)")
    else:
        table = doc
    table = dict(table)
    policy = dict(table.get("policy") or {})
    for key in ("report_only", "report-only"):  # allowed in the policy table, where the gates are
        if key in policy:
            table[key] = policy.pop(key)
    if "policy" in table:
        table["policy"] = policy
    return config_values(options, table, Path(path))


def configured(options: type, given: dict[str, Any], config: Path | None = None, **fixed: Any) -> Any:
    """`options` from what was said (`given`, only what was given) over the config file (`config`, default
    ./cpaudit.toml or ./pyproject.toml's [tool.cpaudit]) over the declared defaults. The command line and the
    Python API both build their options here, so a setting means the same wherever it is given."""
    path = config if config is not None else find_config()
    return resolve(options, given, read_config(path, options) if path is not None else None, **fixed)
