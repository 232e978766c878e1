"""Gaussian paths x_t = alpha_t x0 + sigma_t eps, and the prediction pair (x0_hat, eps_hat).

Every model cpaudit reads has a forward process of this form on its own time grid (index i = 0..T-1, i = 0
the least noisy, as diffusers counts timesteps):

- variance preserving (DDPM betas, trained betas, zero terminal SNR): alpha = sqrt(abar), sigma = sqrt(1 - abar);
- rectified flow (SD3, FLUX): alpha = 1 - sigma (Esser et al. 2024, eq. 1; Liu et al. 2022);
- variance exploding / EDM (Karras et al. 2022): alpha = 1.

Whatever a network predicts (eps, v, x0 or a flow velocity) is turned into the pair at the model boundary
(`prediction_pair`), so the samplers, CPSample's guidance and the attacks never divide by alpha, which is 0
at a zero-SNR terminal step and at sigma = 1 of a flow. The deterministic step is one formula on every path,
x_s = alpha_s x0_hat + sigma_s eps_hat: DDIM (Song et al. 2021, eq. 12) on VP paths, Euler on rectified flow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeGuard, TypeVar

import numpy as np
import torch

PathKind = Literal["vp", "flow", "ve"]
PredictionType = Literal["epsilon", "v_prediction", "sample", "flow"]
PREDICTION_TYPES: tuple[str, ...] = ("epsilon", "v_prediction", "sample", "flow")


def is_prediction_type(value: object) -> TypeGuard[PredictionType]:
    """Whether a name read from a config is one of PREDICTION_TYPES (and, for the type checker, a PredictionType)."""
    return value in PREDICTION_TYPES


class Pred(NamedTuple):
    """The denoiser's two estimates at (x_t, t): x_t = alpha_t x0 + sigma_t eps holds for them."""

    x0: torch.Tensor
    eps: torch.Tensor


@dataclass(frozen=True, eq=False)
class GaussianPath:
    """alpha, sigma: (T,) float64 over the training grid; model_t: (T,) the time input the network takes at
    each index (the index itself on a discrete VP grid; 1000 sigma for a flow transformer)."""

    alpha: torch.Tensor
    sigma: torch.Tensor
    model_t: torch.Tensor
    kind: PathKind = "vp"

    @property
    def T(self) -> int:
        return int(self.alpha.shape[0])

    def at(self, i: int) -> tuple[float, float]:
        """(alpha_i, sigma_i) as Python floats."""
        return float(self.alpha[i]), float(self.sigma[i])

    def time_input(self, i: int) -> int | float:
        """The network's time input at grid index i: the index itself on a discrete VP grid (as diffusers' UNets
        take it), model_t[i] otherwise (1000 sigma on a flow)."""
        return int(i) if self.kind == "vp" else float(self.model_t[i])

    def times(self, i: int, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(n,) of the time input at index i: long on a VP grid, float64 otherwise."""
        dtype = torch.long if self.kind == "vp" else torch.float64
        return torch.full((n,), self.time_input(i), dtype=dtype, device=device)

    def time_inputs(self, idx: torch.Tensor) -> torch.Tensor:
        """The time inputs at grid indices idx (N,): idx itself on a VP grid, model_t[idx] (float64) otherwise."""
        return idx if self.kind == "vp" else self.model_t.to(idx.device)[idx]

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        """(alpha, sigma) at the time inputs t (N,): Python floats when the batch shares one time (the samplers'
        and most attacks' case), else (N,) tensors on t's device. A VP time is a grid index; a flow's is 1000
        sigma and a VE's log(sigma) / 4, read at any value (a pipeline's sampling sigmas are off the grid)."""
        first = t.reshape(-1)[0]
        shared = bool((t == first).all())
        if self.kind == "vp":
            if shared:
                return self.at(int(first))
            idx = t.long().cpu()
            return self.alpha[idx].to(t.device), self.sigma[idx].to(t.device)
        if self.kind == "flow":
            per_sigma = float(self.model_t[-1] / self.sigma[-1])  # the time input per unit of sigma (1000)
            sigma = first.double().item() / per_sigma if shared else t.double() / per_sigma
            return 1 - sigma, sigma
        if shared:
            return 1.0, math.exp(4 * first.double().item())
        sigmas = torch.exp(4 * t.double())
        return torch.ones_like(sigmas), sigmas

    def log_snr(self) -> torch.Tensor:
        """lambda_i = log(alpha_i^2 / sigma_i^2) (Kingma et al. 2021, VDM), -inf where alpha = 0."""
        return 2 * (self.alpha.log() - self.sigma.log())


def vp_path(abar: torch.Tensor) -> GaussianPath:
    """A discrete variance-preserving path from abar_t = prod (1 - beta_s) (Ho et al. 2020, eq. 4)."""
    abar = abar.to(torch.float64)
    return GaussianPath(abar.sqrt(), (1 - abar).sqrt(), torch.arange(abar.shape[0], dtype=torch.float64), "vp")


# Sigmas as the shifts take them: tensors (the training grid) or NumPy arrays (a pipeline's sampling sigmas, computed
# in NumPy as diffusers' schedulers compute them).
Sigmas = TypeVar("Sigmas", torch.Tensor, np.ndarray)


def static_shift(sigma: Sigmas, shift: float) -> Sigmas:
    """sigma' = shift sigma / (1 + (shift - 1) sigma) (SD3, Esser et al. 2024, eq. 23), on tensors or arrays."""
    return shift * sigma / (1 + (shift - 1) * sigma)


def flow_sigmas(T: int = 1000, shift: float = 1.0) -> torch.Tensor:
    """The training sigmas of diffusers' FlowMatchEulerDiscreteScheduler: i / T for i = 1..T, with the static
    shift."""
    return static_shift(torch.arange(1, T + 1, dtype=torch.float64) / T, shift)


def flow_path_at(sigmas: torch.Tensor, T: int = 1000) -> GaussianPath:
    """Rectified flow x_t = (1 - sigma) x0 + sigma eps at these ascending sigmas; the transformer's time input
    is T sigma (diffusers passes timestep = sigma * num_train_timesteps)."""
    sigma = sigmas.to(torch.float64)
    return GaussianPath(1 - sigma, sigma, sigma * T, "flow")


def flow_path(T: int = 1000, shift: float = 1.0) -> GaussianPath:
    """Rectified flow on FlowMatchEulerDiscreteScheduler's training grid."""
    return flow_path_at(flow_sigmas(T, shift), T)


def time_shift(mu: float, sigma: Sigmas) -> Sigmas:
    """FLUX's resolution-dependent shift: exp(mu) / (exp(mu) + 1 / sigma - 1) (diffusers'
    FlowMatchEulerDiscreteScheduler.time_shift, 'exponential')."""
    return math.exp(mu) / (math.exp(mu) + (1 / sigma - 1))


def flux_mu(
    image_seq_len: int,
    base_seq_len: int = 256,
    max_seq_len: int = 4096,
    base_shift: float = 0.5,
    max_shift: float = 1.15,
) -> float:
    """mu linear in the image's token count between base_shift and max_shift (diffusers' pipeline_flux.py,
    calculate_shift)."""
    m = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    return image_seq_len * m + base_shift - m * base_seq_len


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. 2022, eq. 5: (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho."""
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def ve_path(sigmas: torch.Tensor) -> GaussianPath:
    """A variance-exploding (EDM) path, alpha = 1, on the given increasing sigmas (index 0 the least noisy:
    a Karras grid, which karras_sigmas returns in sampling order, goes in flipped); the time input is EDM's
    c_noise = log(sigma) / 4 (Karras et al. 2022, Table 1)."""
    sigmas = sigmas.to(torch.float64)
    return GaussianPath(torch.ones_like(sigmas), sigmas, sigmas.log() / 4, "ve")


def _col(v: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor | float:
    """A per-row coefficient (N,) as a column that broadcasts over (N, ...); a float as it is."""
    if isinstance(v, torch.Tensor):
        return v.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))
    return v


def noise_to(
    x0: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor | float, sigma: torch.Tensor | float
) -> torch.Tensor:
    """The forward process x_t = alpha_t x0 + sigma_t eps; alpha, sigma are floats or (N,) per row."""
    return _col(alpha, x0) * x0 + _col(sigma, x0) * eps


def prediction_pair(
    out: torch.Tensor,
    x_t: torch.Tensor,
    alpha: torch.Tensor | float,
    sigma: torch.Tensor | float,
    prediction: PredictionType,
) -> Pred:
    """(x0_hat, eps_hat) from a network's output.

    epsilon:      eps = out,                     x0 = (x_t - sigma eps) / alpha   (needs alpha > 0)
    v_prediction: eps = alpha v + sigma x_t,      x0 = alpha x_t - sigma v          (Salimans & Ho 2022, VP paths)
    sample:       x0 = out,                      eps = (x_t - alpha x0) / sigma   (sigma > 0 on every grid)
    flow:         x0 = x_t - sigma v,             eps = x_t + (1 - sigma) v         (v = eps - x0, rectified flow)
    """
    a, s = _col(alpha, x_t), _col(sigma, x_t)
    if prediction == "epsilon":
        return Pred((x_t - s * out) / a, out)
    if prediction == "v_prediction":
        return Pred(a * x_t - s * out, a * out + s * x_t)
    if prediction == "sample":
        return Pred(out, (x_t - a * out) / s)
    if prediction == "flow":
        return Pred(x_t - s * out, x_t + (1 - s) * out)
    raise ValueError(f"prediction must be one of {PREDICTION_TYPES}, got {prediction!r}")


def output_of_pair(pred: Pred, alpha: float, sigma: float, prediction: PredictionType) -> torch.Tensor:
    """The network output that gives `pred` (the inverse of prediction_pair), for handing a guided prediction
    back to a native scheduler: eps, v = alpha eps - sigma x0, x0, or the velocity eps - x0."""
    if prediction == "epsilon":
        return pred.eps
    if prediction == "v_prediction":
        return alpha * pred.eps - sigma * pred.x0
    if prediction == "sample":
        return pred.x0
    if prediction == "flow":
        return pred.eps - pred.x0
    raise ValueError(f"prediction must be one of {PREDICTION_TYPES}, got {prediction!r}")


def text_part(p_c: Pred, p_u: Pred, kind: PathKind) -> torch.Tensor:
    """The text-conditional part of a prediction, the noise-norm detector's signal (Wen et al. 2024):
    eps_hat(c) - eps_hat(empty), or on a flow the velocity's, (eps_hat - x0_hat)(c) - (eps_hat - x0_hat)(empty),
    which does not vanish at sigma = 1 (there eps_hat = x_t whatever the prompt)."""
    if kind == "flow":
        return (p_c.eps - p_c.x0) - (p_u.eps - p_u.x0)
    return p_c.eps - p_u.eps


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
    """x0_hat = (x_t - sigma_t eps) / alpha_t (Song et al. 2021, eq. 12's 'predicted x0'); only where alpha > 0."""
    if alpha <= 0:
        raise ValueError("x0 from eps needs alpha > 0 (at a zero-SNR step x_t carries nothing of x0)")
    return (x_t - sigma * eps) / alpha


def eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, alpha: float, sigma: float) -> torch.Tensor:
    """eps_hat = (x_t - alpha_t x0) / sigma_t; only where sigma > 0."""
    return (x_t - alpha * x0) / sigma
