"""What an attacker has, weakest first; an attacker of a stronger threat model can do all a weaker one can.

samples: generated images only;
sampler: queries to the deployed denoiser (CPSample's protected eps_hat where protection is on);
weights: the model file itself (the plain denoiser, whatever the sampler does).
"""

from __future__ import annotations

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
