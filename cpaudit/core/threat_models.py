"""What an attacker has, weakest first; an attacker of a stronger threat model can do all a weaker one can.

samples: generated images only;
sampler: queries to the deployed denoiser (CPSample's protected eps_hat where protection is on);
weights: the model file itself (the plain denoiser, whatever the sampler does).
"""

from __future__ import annotations

import math
from typing import Literal

ThreatModel = Literal["samples", "sampler", "weights"]
THREAT_MODELS: tuple[ThreatModel, ...] = ("samples", "sampler", "weights")
RELEASE_WORDS = {
    "samples": "If only samples are published",
    "sampler": "If the deployed sampler can be queried",
    "weights": "If the model weights are released",
}


def in_scope(threat_model: str, release: str) -> bool:
    """Does an attack of `threat_model` apply when `release` is what is deployed? (It does for every weaker one.)"""
    return THREAT_MODELS.index(threat_model) <= THREAT_MODELS.index(release)


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
