"""The sampling loop: DDIM or DDPM over strided timesteps, one generator per sample.

Each sample owns a torch.Generator seeded with its own seed, which draws its x_T and every later noise,
so an image depends on its seed alone, not on the batch it was drawn in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from cpaudit.core.paths import GaussianPath, Pred
from cpaudit.core.schedules import Spacing, step_plan
from cpaudit.core.steps import ddim_step, ddpm_step
from cpaudit.errors import ConfigError
from cpaudit.models.denoise import PairFn
from cpaudit.sampling.protection import LogitFn, Protection, protection_guide
from cpaudit.seeding import torch_generator

# (pred, x_t, t, (alpha_t, sigma_t)) -> (guided pred, fired per sample): any sampling-time guidance (CPSample,
# repulsion), acting on the prediction pair.
Guide = Callable[[Pred, torch.Tensor, torch.Tensor, tuple[float, float]], tuple[Pred, torch.Tensor]]
Method = Literal["ddim", "ddpm"]


@dataclass(frozen=True)
class SamplerConfig:
    steps: int = 50
    method: Method = "ddim"
    eta: float = 0.0  # DDIM only; 0 is deterministic given x_T
    clip: bool = True  # clip x0_hat to [-1, 1] at every step

    def __post_init__(self) -> None:
        if self.method not in ("ddim", "ddpm"):
            raise ConfigError(f"method must be 'ddim' or 'ddpm', got {self.method!r}")
        if not 0 <= self.eta <= 1:
            raise ConfigError(f"eta must be in [0, 1], got {self.eta}")


@dataclass
class SampleBatch:
    images: torch.Tensor  # (N, C, H, W), in [-1, 1] where finite
    fired: torch.Tensor  # (N,) number of steps where the guidance fired
    finite: torch.Tensor  # (N,) bool: False where the sample diverged (NaN/inf)


def _noise(gens: list[torch.Generator], shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Drawn on the CPU from each sample's generator, then moved: a seed is the same noise on any device."""
    return torch.stack([torch.randn(shape, generator=g) for g in gens]).to(device)


def compose_guides(first: Guide, second: Guide) -> Guide:
    """first's guidance, then second's on the prediction first returned; fired where either fired.

    CPSample goes first and a member-specific guide (nearest-member repulsion) second: CPSample then reads the
    denoiser's own prediction, so it fires where it would alone, and repulsion judges the x0_hat that will be
    drawn, after CPSample's shift, so the push away from the member being copied has the last word."""

    def both(pred: Pred, x_t: torch.Tensor, t: torch.Tensor, at: tuple[float, float]) -> tuple[Pred, torch.Tensor]:
        pred, fired_first = first(pred, x_t, t, at)
        pred, fired_second = second(pred, x_t, t, at)
        return pred, fired_first | fired_second

    return both


def combined_guide(protection: Protection | None, logit_fn: LogitFn | None, guide: Guide | None) -> Guide | None:
    """CPSample's guide from its settings and classifier, then the other guide given (compose_guides), either
    alone where the other is absent. A fresh guide each call: CPSample's check_every state is per run."""
    if protection is None or protection.inactive:
        return guide
    if logit_fn is None:
        raise ValueError("protection needs a logit_fn")
    cpsample = protection_guide(logit_fn, protection)
    return cpsample if guide is None else compose_guides(cpsample, guide)


@torch.no_grad()
def sample_batch(
    denoise: PairFn,
    path: GaussianPath,
    shape: tuple[int, int, int],
    seeds: list[int],
    cfg: SamplerConfig,
    *,
    protection: Protection | None = None,
    logit_fn: LogitFn | None = None,
    guide: Guide | None = None,
    on_step: Callable[[], None] | None = None,
    device: torch.device | str = "cpu",
    spacing: Spacing = Spacing(),
) -> SampleBatch:
    """Run the reverse process for one batch of seeds on `device` (where the denoiser's weights are).

    denoise: (x_t, t) -> (x0_hat, eps_hat) on `path` (models/denoise.py). The returned tensors are on the
    CPU. `protection` with its `logit_fn` is
    CPSample; `guide` is any other guidance, applied after CPSample's where both are given. `shape` is the model's own space (latents for a
    latent model, which the caller decodes); `spacing` the timesteps visited (core/schedules.py).
    """
    device = torch.device(device)
    gens = [torch_generator(s) for s in seeds]
    x = _noise(gens, shape, device)
    n = len(seeds)
    fired = torch.zeros(n, dtype=torch.long)
    guide = combined_guide(protection, logit_fn, guide)
    for t, at, at_s in step_plan(path, cfg.steps, spacing):
        t_batch = path.times(t, n, device)  # the network's time input: the index on a VP grid, 1000 sigma on a flow
        pred = denoise(x, t_batch)
        if guide is not None:
            pred, hit = guide(pred, x, t_batch, at)
            fired += hit.long().cpu()
        last = at_s[1] == 0.0  # the clean image: no noise to add
        if cfg.method == "ddim":
            z = _noise(gens, shape, device) if cfg.eta > 0 and not last else None
            x = ddim_step(x, pred, at, at_s, eta=cfg.eta, noise=z, clip=cfg.clip)
        else:
            z = _noise(gens, shape, device) if not last else None
            x = ddpm_step(x, pred, at, at_s, noise=z, clip=cfg.clip)
        if on_step is not None:
            on_step()
    x = x.cpu()
    finite = torch.isfinite(x).flatten(1).all(1)
    return SampleBatch(x, fired, finite)
