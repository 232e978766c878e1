"""Reading a results.json of any readable schema: the figures older schemas lacked, stood in for and marked as such.
Here, not in core/ (pure math) or in the audit engine: only readers of stored files (reports, a baseline) need it."""

from __future__ import annotations

import math

from cpaudit.core.threat_models import in_scope


def strongest_attack(attacks: dict[str, dict], release: str) -> tuple[str | None, dict | None]:
    """The in-scope attack (results.json `attacks` entry) with the highest AUC; a missing or NaN AUC counts
    as highest, so it cannot hide behind a measured one."""
    scoped = [(k, a) for k, a in attacks.items() if in_scope(a["threat_model"], release)]
    if not scoped:
        return None, None

    def key(ka: tuple[str, dict]) -> float:
        v = ka[1].get("auc")
        return math.inf if v is None or not math.isfinite(v) else v

    return max(scoped, key=key)


def headline(results: dict, threat_model: str) -> dict | None:
    """What an attacker of `threat_model` can do, from a results.json: the selection-adjusted strongest
    attack (schema 3). A schema-2 file had none: its largest single-attack AUC stands in, marked as such,
    with a standard error read off its interval."""
    tm = (results.get("threat_models") or {}).get(threat_model) or {}
    if "strongest" in tm:
        return tm["strongest"]
    key, a = strongest_attack(results.get("attacks") or {}, threat_model)
    if a is None:
        return None
    lo, hi = a.get("auc_ci95") or [math.nan, math.nan]
    return {
        **a,
        "key": key,
        "title": f"{a['title']} (largest single-attack AUC, not selection-adjusted: schema 2)",
        "auc_se": a.get("auc_se", (hi - lo) / (2 * 1.959964)),
    }
