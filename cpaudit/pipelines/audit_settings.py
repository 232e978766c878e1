"""AuditOptions from what the user said: explicit settings over a config file over the defaults. The CLI and
`cpaudit.audit()` both build their options here, so a setting means the same wherever it is given."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.policy import DEFAULT_POLICY, Policy
from cpaudit.config import AUDIT_KEYS, AuditConfig
from cpaudit.data.load import parse_resize
from cpaudit.errors import InputError

PATH_KEYS = {"out", "split", "model", "cache_dir", "baseline", "junit", "prompts"}
POLICY_KEYS = tuple(f.name for f in fields(Policy))
SETTABLE = set(AUDIT_KEYS) | set(POLICY_KEYS) | {"samples", "config"}


def audit_options(settings: dict[str, Any], config: AuditConfig | None = None) -> AuditOptions:
    """`settings` (option name -> value, only what was given) over `config` over AuditOptions' defaults."""
    unknown = sorted(set(settings) - SETTABLE)
    if unknown:
        raise InputError(unknown[0], f"is not an audit option (options: {', '.join(sorted(SETTABLE))})")
    config = config or AuditConfig()
    merged = {**config.options, **{k: v for k, v in settings.items() if k in AUDIT_KEYS}}
    given_policy = Policy(**{k: settings[k] for k in POLICY_KEYS if settings.get(k) is not None})
    policy = DEFAULT_POLICY.merged(config.policy).merged(given_policy)
    values: dict[str, Any] = {}
    for key, value in merged.items():
        if value is None:
            continue
        if key == "resize":
            value = parse_resize(value) if isinstance(value, str) else tuple(value)
        elif key in PATH_KEYS:
            value = Path(value)
        elif key == "mia_t":
            value = tuple(int(t) for t in value)
        elif key in ("threshold", "alpha", "scale"):
            value = float(value)
        values[key] = value
    return AuditOptions(samples=settings["samples"], policy=policy, **{"out": None, **values})
