"""Noise schedules of the forward process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from cpaudit.errors import ConfigError

ScheduleKind = Literal["linear", "scaled_linear", "cosine"]


def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al. 2020, Sec. 4: beta_t linear from 1e-4 to 0.02 over T = 1000 steps."""
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal 2021, eq. 17: abar_t = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2)."""
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    return (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)


@dataclass(frozen=True)
class Schedule:
    """A discrete schedule; index t = 0..T-1 as in diffusers (t = 0 is the least noisy step)."""

    kind: ScheduleKind = "linear"
    T: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        if self.kind not in ("linear", "scaled_linear", "cosine"):
            raise ConfigError(f"schedule kind must be 'linear', 'scaled_linear' or 'cosine', got {self.kind!r}")
        if self.T < 2:
            raise ConfigError(f"schedule T must be >= 2, got {self.T}")
        if not 0 < self.beta_start < self.beta_end < 1:
            raise ConfigError(f"need 0 < beta_start < beta_end < 1, got {self.beta_start}, {self.beta_end}")

    def betas(self) -> torch.Tensor:
        if self.kind == "linear":
            return linear_betas(self.T, self.beta_start, self.beta_end)
        if self.kind == "scaled_linear":  # latent diffusion's schedule, as diffusers names it: linear in sqrt(beta)
            return linear_betas(self.T, self.beta_start**0.5, self.beta_end**0.5) ** 2
        return cosine_betas(self.T)

    def alphas_cumprod(self) -> torch.Tensor:
        """abar_t = prod_{s<=t} (1 - beta_s), float64, shape (T,)."""
        return torch.cumprod(1 - self.betas(), dim=0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Schedule":
        return cls(kind=d["kind"], T=int(d["T"]), beta_start=float(d["beta_start"]), beta_end=float(d["beta_end"]))


def sampling_timesteps(T: int, steps: int) -> torch.Tensor:
    """Evenly spaced timesteps from T-1 down to 0 (S of them), as used by DDIM and strided DDPM."""
    if not 1 <= steps <= T:
        raise ConfigError(f"steps must be in [1, {T}], got {steps}")
    return torch.linspace(T - 1, 0, steps, dtype=torch.float64).round().long()


def q_sample(x0: torch.Tensor, abar_t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Forward process (Ho et al. eq. 4): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.

    abar_t has shape (N,) (one value per image) or is a scalar tensor.
    """
    a = abar_t.to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * eps


SPACINGS: tuple[str, ...] = ("cpaudit", "leading", "trailing", "linspace")


@dataclass(frozen=True)
class Spacing:
    """Which timesteps a sampler visits and which abar it steps to.

    "cpaudit": `sampling_timesteps`, each step going to the next visited t and the last to abar = 1 (the
    pixel models' plan since the start). The others follow diffusers' DDIMScheduler.set_timesteps and
    .step (diffusers/schedulers/scheduling_ddim.py): the previous timestep is t - T // steps, and before
    t = 0 the sampler steps to abar = 1 (set_alpha_to_one) or to abar_0, so that a pipeline folder samples as
    its own DDIM scheduler would.
    """

    kind: str = "cpaudit"
    steps_offset: int = 0
    set_alpha_to_one: bool = True

    def __post_init__(self) -> None:
        if self.kind not in SPACINGS:
            raise ConfigError(f"timestep spacing must be one of {', '.join(SPACINGS)}, got {self.kind!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def step_plan(abar: torch.Tensor, steps: int, spacing: Spacing = Spacing()) -> list[tuple[int, float, float]]:
    """[(t, abar_t, abar_prev)] in sampling order for `steps` steps over the (T,) schedule `abar`."""
    T = abar.shape[0]
    if spacing.kind == "cpaudit":
        ts = sampling_timesteps(T, steps).tolist()
        prevs = [float(abar[s]) for s in ts[1:]] + [1.0]
        return [(t, float(abar[t]), p) for t, p in zip(ts, prevs)]
    if not 1 <= steps <= T:
        raise ConfigError(f"steps must be in [1, {T}], got {steps}")
    if spacing.kind == "leading":
        ts = (torch.arange(steps, dtype=torch.float64) * (T // steps)).round().long().flip(0) + spacing.steps_offset
    elif spacing.kind == "trailing":
        ts = torch.arange(float(T), 0, -T / steps, dtype=torch.float64).round().long() - 1
    else:
        ts = torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long().flip(0)
    final = 1.0 if spacing.set_alpha_to_one else float(abar[0])
    plan = []
    for t in ts.clamp(0, T - 1).tolist():
        prev = t - T // steps
        plan.append((t, float(abar[t]), float(abar[prev]) if prev >= 0 else final))
    return plan
