"""Audit settings from a file: cpaudit.toml, or `[tool.cpaudit]` in pyproject.toml (as ruff's `[lint]`
becomes `[tool.ruff.lint]`, cpaudit.toml's `[policy]` becomes `[tool.cpaudit.policy]`).

Every audit option can be set there, under the option's name with `_` or `-` (`release = "sampler"`,
`features = "inception"`, `mia_t = [50, 100]`); the gates go in the policy table. The command line
overrides the file, which overrides the defaults.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cpaudit.auditing.policy import Policy, read_policy_table
from cpaudit.errors import InputError
from cpaudit.io_utils import read_toml

# The audit options a file may set, with the TOML type each takes (paths and names are strings).
AUDIT_KEYS: dict[str, type | tuple[type, ...]] = {
    "out": str,
    "data": str,
    "split": str,
    "members": str,
    "holdout": str,
    "model": str,
    "classifier": str,
    "resize": str,
    "features": str,
    "threshold": (int, float),
    "search": str,
    "cache_dir": str,
    "permutations": int,
    "mia_t": list,
    "mia_draws": int,
    "mia_members": int,
    "alpha": (int, float),
    "scale": (int, float),
    "seed": int,
    "release": str,
    "attack_nulls": int,
    "member_images": str,
    "baseline": str,
    "junit": str,
    "report_only": bool,
    "device": str,
    "prompts": str,
}


@dataclass(frozen=True)
class AuditConfig:
    options: dict[str, Any] = field(default_factory=dict)  # AUDIT_KEYS names -> values
    policy: Policy = field(default_factory=Policy)  # the gates the file sets (defaults fill the rest)
    path: Path | None = None


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


def read_config(path: Path) -> AuditConfig:
    """The audit settings of cpaudit.toml or of pyproject.toml's [tool.cpaudit]; bad keys are one line."""
    doc = read_toml(path)
    if "project" in doc or "tool" in doc or Path(path).name == "pyproject.toml":
        table = doc.get("tool", {}).get("cpaudit")
        if not isinstance(table, dict):
            raise InputError(path, "has no [tool.cpaudit] table (cpaudit's settings in pyproject.toml live there)")
    else:
        table = doc
    policy_keys = {f.name for f in fields(Policy)}
    policy_table = dict(table.get("policy", {}))
    options: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if key == "policy":
            continue
        if name in policy_keys:  # gates at the top level, as cpaudit.toml has always allowed
            policy_table[key] = value
        elif name in AUDIT_KEYS:
            options[name] = _checked(path, key, value, AUDIT_KEYS[name])
        else:
            raise InputError(
                path,
                f"unknown key {key!r} (audit options: {', '.join(sorted(AUDIT_KEYS))}; gates go in the policy table)",
            )
    policy, report_only = read_policy_table(policy_table, path)
    if report_only:
        options["report_only"] = True
    return AuditConfig(options, policy, Path(path))


def _checked(path: Path, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InputError(path, f"{key} must be a {names}, got {value!r}")
    if key.replace("-", "_") == "mia_t" and not all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        raise InputError(path, f"{key} must be a list of integer timesteps, got {value!r}")
    return tuple(value) if isinstance(value, list) else value
