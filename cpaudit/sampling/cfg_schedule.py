"""Delayed and opposite classifier-free guidance: the guidance scale as a function of the step's noise level.

Jain et al., "Classifier-free guidance inside the attraction basin may cause memorization" (CVPR 2025,
arXiv 2411.16738), Sec. 4: a memorised image's attraction basin forms in the early, high-noise steps, so
guidance there steers a sample into it. Their static transition point (STP) method samples with a different
scale before a transition time t_trans and the usual scale after it, at no extra cost:

    w(t) = early_scale  where t > t_trans   (the first, noisiest steps)
    w(t) = w            where t <= t_trans

The authors' code (github.com/SonyResearch/mitigating_memorization, generate_test_dataset_stp.py: `if t >
args.guidance_change_step: guidance_scale = args.guidance_scale`) reads "off" as w = 0, the unconditional
prediction alone (README: `--guidance_change_step 500 --guidance_scale 0.0 --guidance_scale_later 7.5`),
and opposite guidance as a negative early scale (`--guidance_change_step 650 --guidance_scale -2.0`).
Their dynamic transition point (DTP, generate_test_dataset_dtp.py) instead runs at w = 1 until a local
minimum of |eps_c - eps_u| is seen; that detector is stateful per sample and is not implemented here: the
transition is a fixed time.

`until` is the fraction of the diffusion time, from the noisy end, spent at the early scale: a step at
network time t (a VP model's grid index, a flow model's 1000 sigma; both over T = 1000 on Stable Diffusion,
SD3 and FLUX) is early where t / T > 1 - until. STP's t_trans = 500 of SD's 1000 is until 0.5, opposite's
650 is until 0.35; until 0 is plain guidance, until 1 the early scale throughout."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import torch

from cpaudit.errors import ConfigError

CfgMode = Literal["delayed", "opposite"]
CFG_MODES = ("delayed", "opposite")
# The authors' settings (README above) are STP at t 500 with w = 0 before it and opposite at t 650 with w = -2.
# The defaults are `cpaudit tune`'s choices on the text demo's model (benchmarks/text_guidance_tune.py; tuning seeds
# 2,000,000 on, 2 a caption): the lowest pixel FID among points extracting no more training captions than held-out
# ones. Opposite guidance reached it at until 0.7 (0 of 64 at 1.44x the unprotected FID; the authors' 0.35 left 19);
# delayed guidance reached it nowhere (until 0.7 left 14 of 64, the fewest): its default is that point.
DEFAULT_UNTIL = {"delayed": 0.7, "opposite": 0.7}
DEFAULT_EARLY_SCALE = {"delayed": 0.0, "opposite": -2.0}


@dataclass(frozen=True)
class CfgSchedule:
    """A per-step guidance scale; None fields take the mode's defaults (resolved())."""

    mode: CfgMode = "delayed"
    until: float | None = None  # fraction of the diffusion time, from the noisy end, at early_scale
    early_scale: float | None = None  # delayed: 0 (unconditional) to 1 (the prompt alone); opposite: < 0
    time_range: float = 1000.0  # T: the network time that is the noisiest end (the model's schedule.T)

    def __post_init__(self) -> None:
        if self.mode not in CFG_MODES:
            raise ConfigError(f"cfg schedule must be one of {CFG_MODES}, got {self.mode!r}")
        if self.until is not None and not 0.0 <= self.until <= 1.0:
            raise ConfigError(f"cfg-until must be a fraction in [0, 1], got {self.until}")
        w = self.early_scale
        if w is not None and not math.isfinite(w):
            raise ConfigError(f"cfg-early-scale must be finite, got {w}")
        if w is not None and self.mode == "delayed" and not 0.0 <= w <= 1.0:
            raise ConfigError(f"delayed guidance's early scale is in [0, 1] (0: unconditional, 1: prompt), got {w}")
        if w is not None and self.mode == "opposite" and not w < 0.0:
            raise ConfigError(f"opposite guidance's early scale is negative, got {w}")
        if not self.time_range > 0:
            raise ConfigError(f"time_range must be > 0, got {self.time_range}")

    def resolved(self) -> CfgSchedule:
        """The mode's defaults where a setting is unset."""
        until = DEFAULT_UNTIL[self.mode] if self.until is None else self.until
        early = DEFAULT_EARLY_SCALE[self.mode] if self.early_scale is None else self.early_scale
        return replace(self, until=until, early_scale=early)

    def on_grid(self, time_range: float) -> CfgSchedule:
        """The schedule resolved for a model whose noisiest network time is `time_range` (schedule.T)."""
        return replace(self.resolved(), time_range=float(time_range))

    def early(self, t: torch.Tensor) -> torch.Tensor:
        """(N,) bool: the rows whose time t is in the early phase."""
        until = self.resolved().until
        assert until is not None
        if until >= 1.0:
            return torch.ones(t.shape, dtype=torch.bool, device=t.device)
        return t.double() / self.time_range > 1.0 - until

    def scale_at(self, t: torch.Tensor, scale: float) -> float | torch.Tensor:
        """w(t) for the rows' times t: a Python float where every row has the same (the samplers' case), else
        (N, 1, ..., 1) for a batch of shape (N, ...) to broadcast against."""
        early_scale = self.resolved().early_scale
        assert early_scale is not None
        early = self.early(t.reshape(-1))
        if bool(early.all()):
            return float(early_scale)
        if not bool(early.any()):
            return float(scale)
        return torch.where(early, early_scale, scale).double()

    def to_dict(self) -> dict:
        r = self.resolved()
        return {"mode": r.mode, "until": r.until, "early_scale": r.early_scale, "time_range": r.time_range}
