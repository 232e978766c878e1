"""The sampling loop: DDIM or DDPM over strided timesteps, one generator per sample.

Each sample owns a torch.Generator seeded with its own seed, which draws its x_T and every later noise,
so an image depends on its seed alone, not on the batch it was drawn in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from cpaudit.errors import ConfigError
from cpaudit.core.schedules import Spacing, step_plan
from cpaudit.core.steps import ddim_step, ddpm_step
from cpaudit.sampling.protection import LogitFn, Protection, protect_eps
from cpaudit.seeding import torch_generator

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# (eps, x_t, t, abar_t) -> (eps_hat, fired per sample): any sampling-time guidance (CPSample, repulsion).
Guide = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]]
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


def combined_guide(protection: Protection | None, logit_fn: LogitFn | None, guide: Guide | None) -> Guide | None:
    """CPSample's guide from its settings and classifier, or the other guide given (not both)."""
    if protection is None or protection.inactive:
        return guide
    if logit_fn is None:
        raise ValueError("protection needs a logit_fn")
    if guide is not None:
        raise ValueError("give protection or guide, not both")
    return lambda e, x_t, t, a: protect_eps(e, x_t, t, a, logit_fn, protection)


@torch.no_grad()
def sample_batch(
    eps_model: EpsModel,
    abar: torch.Tensor,
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
    """Run the reverse process for one batch of seeds on `device` (where eps_model's weights are).

    abar: (T,) float64 schedule. The returned tensors are on the CPU. `protection` with its `logit_fn` is
    CPSample; `guide` is any other guidance (not both). `shape` is the model's own space (latents for a
    latent model, which the caller decodes); `spacing` the timesteps visited (core/schedules.py).
    """
    device = torch.device(device)
    gens = [torch_generator(s) for s in seeds]
    x = _noise(gens, shape, device)
    n = len(seeds)
    fired = torch.zeros(n, dtype=torch.long)
    guide = combined_guide(protection, logit_fn, guide)
    for t, a_t, a_prev in step_plan(abar, cfg.steps, spacing):
        t_batch = torch.full((n,), t, dtype=torch.long, device=device)
        eps = eps_model(x, t_batch)
        if guide is not None:
            eps, hit = guide(eps, x, t_batch, a_t)
            fired += hit.long().cpu()
        if cfg.method == "ddim":
            z = _noise(gens, shape, device) if cfg.eta > 0 and a_prev < 1.0 else None
            x = ddim_step(x, eps, a_t, a_prev, eta=cfg.eta, noise=z, clip=cfg.clip)
        else:
            z = _noise(gens, shape, device) if a_prev < 1.0 else None
            x = ddpm_step(x, eps, a_t, a_prev, noise=z, clip=cfg.clip)
        if on_step is not None:
            on_step()
    x = x.cpu()
    finite = torch.isfinite(x).flatten(1).all(1)
    return SampleBatch(x, fired, finite)
