"""Nearest-member repulsion: a baseline guidance that needs the members at sampling time.

In the spirit of the dissimilarity guidance of anti-memorisation guidance (Chen, Liu & Xu, "Towards
Memorization-Free Diffusion Models", CVPR 2024, Sec. 3): at each step take the denoiser's predicted clean
image x0_hat, find its most similar member m* on the pixel embedding (Pearson correlation r), and where
r >= lambda push x0_hat away from m*:

    eps_hat = eps + s sigma_t grad_{x_t} r(x0_hat(x_t), m*),   grad_{x_t} = grad_{x0_hat} / alpha_t

on the path x_t = alpha_t x0 + sigma_t eps (alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t) on a VP path);
it does nothing where alpha_t = 0 (a zero-SNR step, where x0_hat does not depend on x_t)

with eps held fixed in x0_hat's dependence on x_t (no backward pass through the denoiser). Like the exact
posterior, it needs the member images wherever sampling runs; unlike CPSample it targets replication
directly and fires only on samples already close to a member.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cpaudit.core.paths import Pred, x0_from_eps
from cpaudit.errors import ConfigError


@dataclass(frozen=True)
class Repulsion:
    threshold: float = 0.9  # lambda: guide only where the predicted x0's nearest member has r >= this
    scale: float = 30.0  # s

    def __post_init__(self) -> None:
        if not -1 <= self.threshold <= 1:
            raise ConfigError(f"repulsion threshold must be a correlation in [-1, 1], got {self.threshold}")
        if not (0 <= self.scale < float("inf")):
            raise ConfigError(f"repulsion scale must be a finite number >= 0, got {self.scale}")

    def to_dict(self) -> dict:
        return {"kind": "nearest-member repulsion", "threshold": self.threshold, "scale": self.scale}


def centred_unit(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(u / |u|, |u|) with u = x flattened minus its own mean: rows whose inner products are correlations."""
    u = x.flatten(1) - x.flatten(1).mean(1, keepdim=True)
    norm = u.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return u / norm, norm


def correlation_gradient(x: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(r, dr/dx) of the Pearson correlation r = <u, v> / |u| of each row of x with the unit, centred v.

    With u = x - mean(x): dr/du = (v - r u / |u|) / |u|, already centred, so it is also dr/dx. Shapes:
    x (N, ...), v (N, D); r (N,), gradient like x.
    """
    unit, norm = centred_unit(x)
    r = (unit * v).sum(1)
    grad = (v - r[:, None] * unit) / norm
    return r, grad.reshape(x.shape)


def repel_pred(
    pred: Pred, x_t: torch.Tensor, at: tuple[float, float], members_unit: torch.Tensor, rep: Repulsion
) -> tuple[Pred, torch.Tensor]:
    """(guided pair, fired) for one step at at = (alpha_t, sigma_t); members_unit: (M, D) centred unit member
    rows (centred_unit). The pair's x0_hat is read clipped to [-1, 1]."""
    alpha_t, sigma_t = at
    if alpha_t <= 0:
        return pred, torch.zeros(x_t.shape[0], dtype=torch.bool, device=x_t.device)
    x0 = pred.x0.clamp(-1, 1)
    unit, _ = centred_unit(x0)
    sims = unit @ members_unit.T
    best, idx = sims.max(dim=1)
    fired = best >= rep.threshold
    if rep.scale == 0 or not bool(fired.any()):
        return pred, fired
    rows = fired.nonzero().squeeze(1)
    _, grad = correlation_gradient(x0[rows], members_unit[idx[rows]])
    eps = pred.eps.clone()
    eps[rows] = pred.eps[rows] + rep.scale * sigma_t / alpha_t * grad
    return Pred(x0_from_eps(x_t, eps, alpha_t, sigma_t), eps), fired


def repulsion_guide(model, rep: Repulsion, membership=None, device: torch.device | str = "cpu"):
    """`sample --repel-threshold`: the Guide (sampler.py) pushing each sample's x0_hat off its nearest member, with
    the members the user names (`membership`, data/members.py model_members) or those a cpaudit model records, in
    the model's own space (a latent model's members are their latents, the codec's posterior mean)."""
    from cpaudit.data.members import membership_names, model_members, require_model_shape

    data, split = model_members(model.folder, model.config, membership)
    require_model_shape(data, model.image_shape, membership_names(membership, data.source))
    members = model.codec.to(device).encode(data.take(split.member_idx).to(device)).to(device)
    unit, _ = centred_unit(members)
    return lambda pred, x_t, t, at: repel_pred(pred, x_t, at, unit, rep)
