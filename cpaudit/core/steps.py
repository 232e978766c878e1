"""One reverse step of DDIM (Song et al. 2021) and DDPM (Ho et al. 2020), given eps_hat."""

from __future__ import annotations

import torch


def predict_x0(x_t: torch.Tensor, eps: torch.Tensor, abar_t: float, clip: bool) -> torch.Tensor:
    """x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)  (Song et al. eq. 12, 'predicted x0')."""
    x0 = (x_t - (1 - abar_t) ** 0.5 * eps) / abar_t**0.5
    return x0.clamp(-1, 1) if clip else x0


def ddim_step(
    x_t: torch.Tensor,
    eps: torch.Tensor,
    abar_t: float,
    abar_prev: float,
    *,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
    clip: bool = True,
) -> torch.Tensor:
    """DDIM update, Song et al. 2021 eq. 12 with sigma_t(eta) of eq. 16.

    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps + sigma z.
    When x0_hat is clipped, eps is recomputed from it so the step stays on the same trajectory.
    """
    x0 = predict_x0(x_t, eps, abar_t, clip)
    if clip:
        eps = (x_t - abar_t**0.5 * x0) / (1 - abar_t) ** 0.5
    # eta = 0 is also the deterministic step *up* the chain (DDIM inversion, abar_prev < abar_t), where the
    # sigma formula's radicand is negative: skip it.
    sigma = 0.0 if eta == 0 else eta * ((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)) ** 0.5
    x_prev = abar_prev**0.5 * x0 + max(1 - abar_prev - sigma**2, 0.0) ** 0.5 * eps
    if sigma > 0:
        if noise is None:
            raise ValueError("ddim_step with eta > 0 needs noise")
        x_prev = x_prev + sigma * noise
    return x_prev


def ddpm_step(
    x_t: torch.Tensor,
    eps: torch.Tensor,
    abar_t: float,
    abar_prev: float,
    *,
    noise: torch.Tensor | None,
    clip: bool = True,
) -> torch.Tensor:
    """Ancestral step from the posterior q(x_prev | x_t, x0_hat) (Ho et al. eqs. 6-7).

    beta_t = 1 - abar_t / abar_prev, so strided timesteps work too.
    mean = sqrt(abar_prev) beta_t / (1 - abar_t) x0_hat + sqrt(alpha_t) (1 - abar_prev) / (1 - abar_t) x_t,
    var = (1 - abar_prev) / (1 - abar_t) beta_t.
    """
    beta_t = 1 - abar_t / abar_prev
    alpha_t = 1 - beta_t
    x0 = predict_x0(x_t, eps, abar_t, clip)
    mean = (abar_prev**0.5 * beta_t / (1 - abar_t)) * x0 + (alpha_t**0.5 * (1 - abar_prev) / (1 - abar_t)) * x_t
    var = (1 - abar_prev) / (1 - abar_t) * beta_t
    if var <= 0:
        return mean
    if noise is None:
        raise ValueError("ddpm_step needs noise")
    return mean + var**0.5 * noise


def eps_from_v(v: torch.Tensor, x_t: torch.Tensor, abar_t: torch.Tensor) -> torch.Tensor:
    """A v-prediction model's output as eps (Salimans & Ho 2022, v = sqrt(abar) eps - sqrt(1 - abar) x0):
    eps = sqrt(abar_t) v + sqrt(1 - abar_t) x_t. abar_t is (N,), one value per row."""
    a = abar_t.to(x_t.dtype).reshape(-1, *([1] * (x_t.dim() - 1)))
    return a.sqrt() * v + (1 - a).sqrt() * x_t
