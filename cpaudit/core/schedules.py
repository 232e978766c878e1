"""Discrete variance-preserving schedules, q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), and the
timesteps a sampler visits on any path (core/paths.py)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch

from cpaudit.core.paths import GaussianPath, noise_to, vp_path
from cpaudit.errors import ConfigError

ScheduleKind = Literal["linear", "scaled_linear", "cosine", "trained"]
KINDS: tuple[str, ...] = ("linear", "scaled_linear", "cosine", "trained")


def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al. 2020, Sec. 4: beta_t linear from 1e-4 to 0.02 over T = 1000 steps."""
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal 2021, eq. 17: abar_t = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2)."""
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    abar = f / f[0]
    return (1 - abar[1:] / abar[:-1]).clamp(max=max_beta)


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps Are Flawed", Algorithm 1: shift and
    scale sqrt(abar) so that abar_{T-1} = 0 (pure noise at the last step) and abar_0 is unchanged (diffusers'
    scheduling_ddim.py, rescale_zero_terminal_snr, computes the same)."""
    root = torch.cumprod(1 - betas, dim=0).sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    abar = root**2
    alphas = torch.cat([abar[:1], abar[1:] / abar[:-1]])
    return 1 - alphas


@dataclass(frozen=True)
class Schedule:
    """A discrete schedule; index t = 0..T-1 as in diffusers (t = 0 is the least noisy step).

    kind "trained" takes its betas as given (a scheduler's `trained_betas`); zero_snr rescales any of them to
    zero terminal SNR (`rescale_betas_zero_snr`), where abar_{T-1} = 0 and only core/paths.py's prediction
    pair, never a division by sqrt(abar), reads the model at that step."""

    kind: ScheduleKind = "linear"
    T: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    trained_betas: tuple[float, ...] | None = None
    zero_snr: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"schedule kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.T < 2:
            raise ConfigError(f"schedule T must be >= 2, got {self.T}")
        if self.kind == "trained":
            betas = self.trained_betas or ()
            if len(betas) != self.T or not all(0 < b < 1 for b in betas):
                raise ConfigError(f"trained betas: need {self.T} values in (0, 1), got {len(betas)}")
        elif self.trained_betas is not None:
            raise ConfigError("trained_betas go with schedule kind 'trained'")
        elif not 0 < self.beta_start < self.beta_end < 1:
            raise ConfigError(f"need 0 < beta_start < beta_end < 1, got {self.beta_start}, {self.beta_end}")

    def betas(self) -> torch.Tensor:
        if self.kind == "linear":
            betas = linear_betas(self.T, self.beta_start, self.beta_end)
        elif self.kind == "scaled_linear":  # latent diffusion's schedule, as diffusers names it: linear in sqrt(beta)
            betas = linear_betas(self.T, self.beta_start**0.5, self.beta_end**0.5) ** 2
        elif self.kind == "trained":
            betas = torch.tensor(self.trained_betas, dtype=torch.float64)
        else:
            betas = cosine_betas(self.T)
        return rescale_zero_terminal_snr(betas) if self.zero_snr else betas

    def alphas_cumprod(self) -> torch.Tensor:
        """abar_t = prod_{s<=t} (1 - beta_s), float64, shape (T,)."""
        return torch.cumprod(1 - self.betas(), dim=0)

    def path(self) -> GaussianPath:
        """The schedule as a Gaussian path: alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t)."""
        return vp_path(self.alphas_cumprod())

    def to_dict(self) -> dict:
        """Every field; the two added later only where set, so older folders' configs read back unchanged."""
        d = asdict(self)
        if self.trained_betas is None:
            del d["trained_betas"]
        else:
            d["trained_betas"] = list(self.trained_betas)
        if not self.zero_snr:
            del d["zero_snr"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Schedule:
        trained = d.get("trained_betas")
        return cls(
            kind=d["kind"],
            T=int(d["T"]),
            beta_start=float(d["beta_start"]),
            beta_end=float(d["beta_end"]),
            trained_betas=None if trained is None else tuple(float(b) for b in trained),
            zero_snr=bool(d.get("zero_snr", False)),
        )


def schedule_from_dict(d: dict):
    """A Schedule, or a FlowSchedule (core/flow.py) where the record says kind 'flow'."""
    if d.get("kind") == "flow":
        from cpaudit.core.flow import FlowSchedule

        return FlowSchedule.from_dict(d)
    return Schedule.from_dict(d)


def sampling_timesteps(T: int, steps: int) -> torch.Tensor:
    """Evenly spaced timesteps from T-1 down to 0 (S of them), as used by DDIM and strided DDPM."""
    if not 1 <= steps <= T:
        raise ConfigError(f"steps must be in [1, {T}], got {steps}")
    return torch.linspace(T - 1, 0, steps, dtype=torch.float64).round().long()


def q_sample(x0: torch.Tensor, abar_t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Forward process (Ho et al. eq. 4) of a VP schedule: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, the
    square roots taken in x0's dtype (as cpaudit's pixel denoisers were trained). abar_t: (N,) or a scalar."""
    a = abar_t.to(x0.dtype).reshape(-1)
    return noise_to(x0, eps, a.sqrt(), (1 - a).sqrt())


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


Point = tuple[float, float]  # (alpha, sigma) of one point of a path
CLEAN: Point = (1.0, 0.0)  # the clean image, where every plan ends unless a scheduler stops at alpha_0


def step_plan(path: GaussianPath, steps: int, spacing: Spacing = Spacing()) -> list[tuple[int, Point, Point]]:
    """[(t, (alpha_t, sigma_t), (alpha_s, sigma_s))] in sampling order for `steps` steps over the path's grid,
    s being the point the step goes to."""
    T = path.T
    if spacing.kind == "cpaudit":
        visited = sampling_timesteps(T, steps).tolist()
        prevs = [path.at(s) for s in visited[1:]] + [CLEAN]
        return [(t, path.at(t), p) for t, p in zip(visited, prevs)]
    if not 1 <= steps <= T:
        raise ConfigError(f"steps must be in [1, {T}], got {steps}")
    if spacing.kind == "leading":
        ts = (torch.arange(steps, dtype=torch.float64) * (T // steps)).round().long().flip(0) + spacing.steps_offset
    elif spacing.kind == "trailing":
        ts = torch.arange(float(T), 0, -T / steps, dtype=torch.float64).round().long() - 1
    else:
        ts = torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long().flip(0)
    final = CLEAN if spacing.set_alpha_to_one else path.at(0)
    plan = []
    for t in ts.clamp(0, T - 1).tolist():
        prev = t - T // steps
        plan.append((t, path.at(t), path.at(prev) if prev >= 0 else final))
    return plan
