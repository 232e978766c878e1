"""One reverse step on any Gaussian path x_t = alpha_t x0 + sigma_t eps (core/paths.py), given the
prediction pair (x0_hat, eps_hat): DDIM (Song et al. 2021) / Euler on rectified flow, and DDPM's ancestral
step (Ho et al. 2020) in its path form (Kingma et al. 2021, VDM, eqs. 32-34)."""

from __future__ import annotations

import torch

from cpaudit.core.paths import Pred, eps_from_x0


def clipped(x_t: torch.Tensor, pred: Pred, alpha_t: float, sigma_t: float) -> Pred:
    """x0_hat clipped to [-1, 1] and eps_hat recomputed from it, so the step stays on one trajectory."""
    x0 = pred.x0.clamp(-1, 1)
    return Pred(x0, eps_from_x0(x_t, x0, alpha_t, sigma_t))


def ddim_step(
    x_t: torch.Tensor,
    pred: Pred,
    at_t: tuple[float, float],
    at_s: tuple[float, float],
    *,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
    clip: bool = True,
) -> torch.Tensor:
    """x_s = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z (Song et al. 2021, eq. 12), at_t = (alpha_t,
    sigma_t), at_s = (alpha_s, sigma_s). c = eta sigma_s sqrt(1 - (alpha_t sigma_s / (alpha_s sigma_t))^2), which on
    a VP path is eq. 16's sqrt((1 - abar_s)/(1 - abar_t)) sqrt(1 - abar_t/abar_s). eta = 0 is deterministic (and
    is also the step *up* the chain, DDIM inversion); on rectified flow it is the Euler step x_s = x_t +
    (sigma_s - sigma_t) v. No division by alpha: a zero-SNR start (alpha_t = 0) steps like any other."""
    (alpha_t, sigma_t), (alpha_s, sigma_s) = at_t, at_s
    if clip:
        pred = clipped(x_t, pred, alpha_t, sigma_t)
    if eta == 0 or sigma_s == 0:
        return alpha_s * pred.x0 + sigma_s * pred.eps
    ratio = alpha_t * sigma_s / (alpha_s * sigma_t)
    c = eta * sigma_s * max(1 - ratio**2, 0.0) ** 0.5
    if noise is None:
        raise ValueError("ddim_step with eta > 0 needs noise")
    return alpha_s * pred.x0 + max(sigma_s**2 - c**2, 0.0) ** 0.5 * pred.eps + c * noise


def ddpm_step(
    x_t: torch.Tensor,
    pred: Pred,
    at_t: tuple[float, float],
    at_s: tuple[float, float],
    *,
    noise: torch.Tensor | None,
    clip: bool = True,
) -> torch.Tensor:
    """Ancestral step from the posterior q(x_s | x_t, x0_hat) of a Gaussian path (s < t):

    alpha_{t|s} = alpha_t / alpha_s,  sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2,
    mean = alpha_{t|s} sigma_s^2 / sigma_t^2 x_t + alpha_s sigma_{t|s}^2 / sigma_t^2 x0_hat,
    var = sigma_{t|s}^2 sigma_s^2 / sigma_t^2;
    on a VP path sigma_{t|s}^2 = beta_t = 1 - abar_t / abar_s, Ho et al. eqs. 6-7 with strided timesteps.
    """
    (alpha_t, sigma_t), (alpha_s, sigma_s) = at_t, at_s
    x0 = pred.x0.clamp(-1, 1) if clip else pred.x0
    a_ts = alpha_t / alpha_s
    var_ts = sigma_t**2 - a_ts**2 * sigma_s**2
    mean = (alpha_s * var_ts / sigma_t**2) * x0 + (a_ts * sigma_s**2 / sigma_t**2) * x_t
    var = var_ts * sigma_s**2 / sigma_t**2
    if var <= 0:
        return mean
    if noise is None:
        raise ValueError("ddpm_step needs noise")
    return mean + var**0.5 * noise
