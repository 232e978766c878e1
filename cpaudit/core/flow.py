"""Rectified-flow schedules (SD3, FLUX.1): the training grid and the sampling sigmas of diffusers'
FlowMatchEulerDiscreteScheduler (diffusers/schedulers/scheduling_flow_match_euler_discrete.py), as paths
x_t = (1 - sigma) x0 + sigma eps (core/paths.py).

The network's time input is 1000 sigma on every flow path (`GaussianPath.model_t`), so a time means one
noise level whichever grid it came from: the training grid the attacks and the classifier use, or the
sampling sigmas a pipeline visits. Two pipelines pick sampling sigmas differently:

- SD3 (pipeline_stable_diffusion_3.py): `set_timesteps(n)` spaces the timesteps linearly from the
  training grid's sigma_max to its sigma_min (both already shifted on a static-shift scheduler), then shifts
  them (again): sigma' = shift sigma / (1 + (shift - 1) sigma) (Esser et al. 2024, eq. 23), or, with
  `use_dynamic_shifting`, FLUX's time_shift at mu of the image's token count;
- FLUX (pipeline_flux.py): sigmas = linspace(1, 1/n, n), then time_shift(mu) with mu linear in the packed
  image's token count between base_shift and max_shift (`calculate_shift`).

Both append sigma = 0, the clean image. Options that reshape the sigmas further (Karras, exponential or beta
sigmas, shift_terminal, inverted or stochastic sampling, linear time shift) are refused in one line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from cpaudit.core.paths import GaussianPath, flow_path_at, flow_sigmas, flux_mu, static_shift, time_shift
from cpaudit.errors import ConfigError, InputError

FlowFamily = Literal["sd3", "flux"]  # the two flow-matching pipeline families cpaudit samples
# Scheduler options cpaudit does not reproduce, with the value that means "off".
REFUSED_OPTIONS = {
    "invert_sigmas": False,
    "shift_terminal": None,
    "use_karras_sigmas": False,
    "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
    "stochastic_sampling": False,
    "time_shift_type": "exponential",
}


@dataclass(frozen=True)
class FlowSchedule:
    """A FlowMatchEulerDiscreteScheduler config, and the pipeline family whose sampling sigmas it follows."""

    T: int = 1000
    shift: float = 1.0
    dynamic: bool = False  # use_dynamic_shifting: the shift depends on the image's token count (mu)
    base_shift: float = 0.5
    max_shift: float = 1.15
    base_seq_len: int = 256
    max_seq_len: int = 4096
    pipeline: FlowFamily = "sd3"
    kind: str = "flow"  # read by schedule_from_dict; never set otherwise

    def __post_init__(self) -> None:
        if self.T < 2 or self.shift <= 0:
            raise ConfigError(f"flow schedule needs T >= 2 and shift > 0, got T={self.T}, shift={self.shift}")
        if self.pipeline not in ("sd3", "flux"):
            raise ConfigError(f"flow pipeline must be 'sd3' or 'flux', got {self.pipeline!r}")

    def training_sigmas(self) -> torch.Tensor:
        """The scheduler's own grid, ascending (index 0 the least noisy): i / T for i = 1..T, shifted unless
        the shift is dynamic (then it is applied at sampling time only, as `__init__` does)."""
        return flow_sigmas(self.T, 1.0 if self.dynamic else self.shift)

    def path(self) -> GaussianPath:
        """The training grid as a path: the points the attacks query and the classifier is trained on."""
        return flow_path_at(self.training_sigmas(), self.T)

    def mu(self, image_seq_len: int) -> float:
        """`calculate_shift` at the image's token count (FLUX: the packed latent's; SD3: patches)."""
        return flux_mu(image_seq_len, self.base_seq_len, self.max_seq_len, self.base_shift, self.max_shift)

    def sampling_sigmas(self, steps: int, image_seq_len: int) -> torch.Tensor:
        """The n sigmas a pipeline steps from, descending, float32 as the scheduler keeps them (sigma = 0,
        where the last step lands, not included)."""
        if steps < 1:
            raise ConfigError(f"steps must be >= 1, got {steps}")
        sigmas: np.ndarray
        if self.pipeline == "flux":
            sigmas = np.linspace(1.0, 1 / steps, steps).astype(np.float32)
        else:
            grid = self.training_sigmas().to(torch.float32)
            sigma_max, sigma_min = float(grid[-1]), float(grid[0])
            sigmas = np.linspace(sigma_max * self.T, sigma_min * self.T, steps) / self.T
        if self.dynamic:
            sigmas = time_shift(self.mu(image_seq_len), sigmas)
        else:
            sigmas = static_shift(sigmas, self.shift)
        return torch.from_numpy(np.asarray(sigmas)).to(torch.float32)

    def sampling_path(self, steps: int, image_seq_len: int) -> GaussianPath:
        """The sampling sigmas as a path, ascending: cpaudit's sampler visits every point from the top and
        steps last to the clean image (core/schedules.step_plan, spacing 'cpaudit' with `steps` steps)."""
        return flow_path_at(self.sampling_sigmas(steps, image_seq_len).double().flip(0), self.T)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FlowSchedule:
        return cls(
            T=int(d["T"]),
            shift=float(d["shift"]),
            dynamic=bool(d["dynamic"]),
            base_shift=float(d["base_shift"]),
            max_shift=float(d["max_shift"]),
            base_seq_len=int(d["base_seq_len"]),
            max_seq_len=int(d["max_seq_len"]),
            pipeline=d["pipeline"],
        )


def flow_schedule_from_config(cfg: dict, where: Path, pipeline: FlowFamily) -> FlowSchedule:
    """A FlowMatchEulerDiscreteScheduler config as a FlowSchedule; what it cannot reproduce refused in one line."""
    name = cfg.get("_class_name")
    if name != "FlowMatchEulerDiscreteScheduler":
        raise InputError(
            where,
            f"scheduler {name!r} is not supported for an SD3 / FLUX pipeline; cpaudit supports "
            "FlowMatchEulerDiscreteScheduler",
        )
    for key, off in REFUSED_OPTIONS.items():
        if cfg.get(key) not in (None, off):
            raise InputError(
                where,
                f"{key} = {cfg[key]!r} is not supported; cpaudit reproduces FlowMatchEulerDiscreteScheduler "
                "with a static shift or the exponential dynamic shift",
            )
    try:
        return FlowSchedule(
            T=int(cfg.get("num_train_timesteps", 1000)),
            shift=float(cfg.get("shift", 1.0)),
            dynamic=bool(cfg.get("use_dynamic_shifting", False)),
            base_shift=float(cfg.get("base_shift") or 0.5),
            # where the config has none, each pipeline's own fallback (SD3's calculate_shift call: 1.16)
            max_shift=float(cfg.get("max_shift") or (1.16 if pipeline == "sd3" else 1.15)),
            base_seq_len=int(cfg.get("base_image_seq_len", 256)),
            max_seq_len=int(cfg.get("max_image_seq_len", 4096)),
            pipeline=pipeline,
        )
    except (TypeError, ValueError, ConfigError) as e:
        raise InputError(where, f"invalid scheduler config ({e})") from None
