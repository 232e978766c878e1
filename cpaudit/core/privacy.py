"""DP-SGD privacy accounting with the Renyi-DP accountant of the subsampled Gaussian mechanism
(Mironov et al. 2019), as implemented by Opacus' privacy_analysis."""

from __future__ import annotations

from cpaudit.extras import require


def epsilon_spent(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """epsilon after `steps` Poisson-subsampled Gaussian steps at (sigma, q), for the given delta."""
    acc = require("opacus.accountants").RDPAccountant()
    acc.history = [(noise_multiplier, sample_rate, steps)]
    return float(acc.get_epsilon(delta=delta))


def noise_for_budget(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """Smallest sigma (to Opacus' binary-search tolerance) whose spent epsilon is <= the target."""
    get_noise_multiplier = require("opacus.accountants.utils").get_noise_multiplier
    return float(
        get_noise_multiplier(
            target_epsilon=epsilon,
            target_delta=delta,
            sample_rate=sample_rate,
            steps=steps,
            accountant="rdp",
            epsilon_tolerance=0.01,
        )
    )
