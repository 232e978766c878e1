"""CPSample protection settings and the per-step guidance they apply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import InitVar, dataclass, replace
from typing import Any, ClassVar, Literal

import torch

from cpaudit.core.guidance import MEMBER_RULE, RULES, SPACES, X0_T, Rule, Space, fires, guidance_objective, guided_pred
from cpaudit.core.paths import Pred
from cpaudit.errors import ConfigError

LogitFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> logit of p(y=1 | x_t, t), shape (N,)

# When CPSample guides: where the classifier is confident (p < alpha or p > 1 - alpha), or at every step of its
# t window. Named "guide" before (--guide, run.json's protection "guide", value "when-confident"); a Guide is now
# only the prediction modifier (sampling/sampler.py), so the mode is `guide_when` (--guide-when, run.json
# "guide_when"). The old names and value are still read for one release.
GuideWhen = Literal["confident", "every-step"]
GUIDE_WHEN: tuple[str, ...] = ("confident", "every-step")
OLD_GUIDE_WHEN = {"when-confident": "confident"}


def guide_when_value(value: str) -> str:
    """A guide_when as given, the old spelling ("when-confident") read as its new one."""
    return OLD_GUIDE_WHEN.get(value, value)


# Each classifier kind's defaults, chosen by `cpaudit tune` on the demo's model (reports/tune/tune.json,
# "defaults"): on the tuning seeds (2,000,000 on, 1,024 samples a point), the lowest sample-only AUC among
# settings whose replicas are not above the held-out base rate and whose pixel FID is within a budget of
# twice the unprotected FID, widened (x1.5, x2, ...) where nothing fits. No CPSample setting fits 2x; the
# learned classifier's default is chosen at 6x (evaluation seeds: AUC 0.768, FID 5.1x, 2 of 1,024
# replicas), the exact posterior's at 4x (AUC 0.804, FID 3.4x, 0 of 1,024). The exact posterior's gradient
# is much sharper, hence its smaller scale; read on the predicted x0 it removed replicas at less FID.
KIND_DEFAULTS: dict[str, dict] = {
    "learned": {"alpha": 0.4, "scale": 100.0, "rule": "opposite-label", "space": "x_t"},
    "exact": {"alpha": 0.4, "scale": 10.0, "rule": "opposite-label", "space": "x0"},
}


# Latent models' defaults (a VAE's unit-variance latents, not pixels in [-1, 1]), chosen by
# benchmarks/text_memorisation.py --part tune on the tiny text-to-image model's tuning seeds (2,000,000 on;
# benchmarks/results/text_tune.json): the lowest pixel FID among settings whose replicas of prompted member
# captions are not above the held-out captions' count; evaluated on other seeds (5,000,000 on).
# The learned classifier's pixel defaults were also the latent choice (scale 30 and 50 left replicas; width 32
# beat 16 and 8 on FID at zero replicas, at 1.33 against 1.15 times unprotected sampling time); the exact
# posterior over unit-variance latents is far sharper than over pixels, so its scale is 30 times smaller.
LATENT_KIND_DEFAULTS: dict[str, dict] = {
    "learned": {"alpha": 0.4, "scale": 100.0, "rule": "opposite-label", "space": "x_t"},
    "exact": {"alpha": 0.4, "scale": 0.3, "rule": "opposite-label", "space": "x0"},
}

# Rectified-flow models' defaults (SD3, FLUX: latents too, but guided through eps_hat = x_t + (1 - sigma) v, where
# the flow's strong pull undoes small nudges), chosen by `cpaudit tune --model runs/flow_bench_flux/model
# --defences learned,exact --steps 28` on the tiny FLUX model's tuning seeds (2,000,000 on; the latent defaults
# times 1/3, 1, 3 and 10; benchmarks/results/flux_tune/tune.json): the lowest pixel FID among settings whose
# training captions are extracted no more often than held-out ones. At the latent default (scale 100) the
# learned classifier left 64 of 64 captions extracted, at 300 56 of 64, at 1000 none (tuning seeds). Evaluated on seeds
# 6,000,000 and 9,000,000 on, and on the tiny SD3 model, where nothing was chosen (benchmarks/RESULTS.md).
FLOW_KIND_DEFAULTS: dict[str, dict] = {
    "learned": {"alpha": 0.4, "scale": 1000.0, "rule": "opposite-label", "space": "x_t"},
    "exact": {"alpha": 0.4, "scale": 0.1, "rule": "opposite-label", "space": "x0"},
}

LATENT_CLASSIFIER_WIDTH = 32  # train-classifier's base width for a latent model (same benchmark)


def classifier_kind(classifier: str) -> str:
    return "exact" if classifier == "exact" else "learned"


def defaults_table(latent: bool, flow: bool = False) -> dict[str, dict]:
    """The classifier kinds' defaults for a model's space: KIND_DEFAULTS (pixels), LATENT_ or FLOW_KIND_DEFAULTS."""
    return FLOW_KIND_DEFAULTS if flow else LATENT_KIND_DEFAULTS if latent else KIND_DEFAULTS


def default_scale(classifier: str) -> float:
    return KIND_DEFAULTS[classifier_kind(classifier)]["scale"]


@dataclass(frozen=True)
class Protection:
    """Where max(p, 1 - p) > 1 - alpha, eps <- eps - scale sigma_t grad log p(y' | x_t, t)."""

    classifier: str = "exact"  # a classifier folder, or "exact" for the Gaussian-mixture posterior
    # alpha, scale, rule, space: None takes the classifier kind's default (KIND_DEFAULTS)
    alpha: float | None = None
    scale: float | None = None
    rule: Rule | None = None
    guide_when: GuideWhen = "confident"
    # Guide only at timesteps t_min <= t <= t_max (None: every t). Outside the window the classifier is not
    # run at all, which is also what makes a window cheap.
    t_min: int = 0
    t_max: int | None = None
    # What the classifier reads: the noisy x_t (the paper), or the denoiser's predicted x0 read at X0_T
    # (core/guidance.py), where the identity of the image being drawn is already visible early.
    space: Space | None = None
    passes: int = 2  # classifier passes per step where it guides: 2 or 1 (protect_pred says which is cheaper where)
    # Run the confidence pass every check_every-th step only; the rows it found confident are guided (gradient
    # pass alone) at the steps in between (ProtectionGuide). 1: every step, as the paper, and the default: on the
    # demo (benchmarks/results/cpsample_cuts.json, 1,024 evaluation seeds) 2, 3 and 5 left 7%, 6% and 2% of samples
    # as they were and moved the sample-only AUC from 0.732 to 0.776, 0.809 and 0.877 at about the same FID.
    check_every: int = 1
    clip_x0: bool = True  # space "x0": clip x0_hat to [-1, 1]; False for latent models (draw.py sets it)
    latent: bool = False  # settings left unset take LATENT_KIND_DEFAULTS (in_space sets it for a latent model)
    flow: bool = False  # ... or FLOW_KIND_DEFAULTS (in_space sets it for an SD3 / FLUX model)
    guide: InitVar[str | None] = None  # guide_when's old name (run.json's protection "guide"), read for one release
    _defaulted: ClassVar[tuple[str, ...]] = ()  # per instance: the settings left None, which took the defaults

    def __post_init__(self, guide: str | None) -> None:
        object.__setattr__(self, "guide_when", guide_when_value(guide if guide is not None else self.guide_when))
        table = defaults_table(self.latent, self.flow)
        defaulted = tuple(name for name in table[classifier_kind(self.classifier)] if getattr(self, name) is None)
        object.__setattr__(self, "_defaulted", defaulted)
        for name in defaulted:
            object.__setattr__(self, name, table[classifier_kind(self.classifier)][name])
        alpha, scale = self.alpha, self.scale
        if alpha is None or not 0 <= alpha <= 0.5:
            raise ConfigError(f"alpha must be in [0, 0.5], got {self.alpha}")
        if scale is None or not (scale >= 0 and scale < float("inf")):
            raise ConfigError(f"scale must be a finite number >= 0, got {self.scale}")
        if self.rule not in RULES:
            raise ConfigError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        if self.guide_when not in GUIDE_WHEN:
            raise ConfigError(f"guide_when must be one of {', '.join(GUIDE_WHEN)}, got {self.guide_when!r}")
        if self.space not in SPACES:
            raise ConfigError(f"space must be one of {', '.join(SPACES)}, got {self.space!r}")
        if self.passes not in (1, 2):
            raise ConfigError(f"passes must be 1 or 2, got {self.passes}")
        self._check_cost_settings()
        if self.t_min < 0 or (self.t_max is not None and self.t_max < self.t_min):
            raise ConfigError(f"the guidance window needs 0 <= t_min <= t_max, got [{self.t_min}, {self.t_max}]")

    def _check_cost_settings(self) -> None:
        """The settings that trade the classifier's cost or pick its logit: each refused in one line."""
        if self.rule == MEMBER_RULE and self.classifier != "exact":
            raise ConfigError(
                f"rule {MEMBER_RULE} needs the exact posterior (classifier exact), got {self.classifier!r}"
            )
        if isinstance(self.check_every, bool) or not isinstance(self.check_every, int) or self.check_every < 1:
            raise ConfigError(f"check_every must be a whole number >= 1, got {self.check_every!r}")
        if self.check_every > 1 and self.guide_when == "every-step":
            raise ConfigError("check_every applies to guide_when confident (every-step has no confidence pass)")

    def in_space(self, latent: bool, flow: bool = False) -> Protection:
        """The same settings for a model of this space (pixels, latents, a rectified flow's latents): those left
        to the defaults take that space's defaults, and a latent x0_hat is never clipped (latents are not in [-1, 1])."""
        if (latent, flow) == (self.latent, self.flow):
            return self
        unset: dict[str, Any] = {name: None for name in self._defaulted}
        return replace(self, latent=latent, flow=flow, clip_x0=not latent, **unset)

    def settings(self) -> tuple[float, float, Rule]:
        """alpha, scale and rule as they guide (__post_init__ gives each left None its default)."""
        assert self.alpha is not None and self.scale is not None and self.rule is not None
        return self.alpha, self.scale, self.rule

    def guides_at(self, t: int) -> bool:
        return self.t_min <= t and (self.t_max is None or t <= self.t_max)

    @property
    def inactive(self) -> bool:
        """Scale 0, or alpha 0 with guidance only when confident: sampling is exactly unprotected."""
        return self.scale == 0 or (self.alpha == 0 and self.guide_when == "confident")

    def to_dict(self) -> dict:
        return {
            "classifier": self.classifier,
            "alpha": self.alpha,
            "scale": self.scale,
            "rule": self.rule,
            "guide_when": self.guide_when,
            "t_min": self.t_min,
            "t_max": self.t_max,
            "space": self.space,
            **({"defaults": "flow" if self.flow else "latent"} if self.latent else {}),
            **({"check_every": self.check_every} if self.check_every != 1 else {}),
        }


def rule_logit_fn(logit_fn: LogitFn, rule: str) -> LogitFn:
    """The logit the rule reads: the random label's, or for away-from-member the most probable member's, which
    only the exact posterior gives (sampling/guides.py ExactPosterior.member_logit)."""
    if rule != MEMBER_RULE:
        return logit_fn
    member_logit = getattr(logit_fn, "member_logit", None)
    if member_logit is None:
        raise ConfigError(f"rule {MEMBER_RULE} needs the exact posterior's logit function (classifier exact)")
    return member_logit


def protect_pred(
    pred: Pred,
    x_t: torch.Tensor,
    t: torch.Tensor,
    at: tuple[float, float],
    logit_fn: LogitFn,
    p: Protection,
    held: torch.Tensor | None = None,
) -> tuple[Pred, torch.Tensor]:
    """Return (the guided pair, fired) for one step at the path's point at = (alpha_t, sigma_t); fired is a bool
    per sample.

    passes 2 (default): a gradient-free forward finds the confident samples, then a forward and backward on
    those rows alone (none at all when no sample is confident). passes 1: one forward with gradients over
    the batch gives every confidence, and one backward, where some sample is confident, the gradient (zero
    on the others, whose prediction is returned untouched); it saves a forward pass but pays a backward over the
    whole batch, and measured slower on the demo (1.89 against 1.70 times unprotected, benchmarks/RESULTS.md).
    Outside p's t window nothing runs, nor where alpha_t = 0 (a zero-SNR step: x_t is pure noise). t holds one
    timestep for the whole batch. held: the rows to guide, found confident at an earlier step (check_every > 1,
    ProtectionGuide): no confidence pass runs, only the gradient pass on those rows.

    space "x0": the classifier reads the pair's x0_hat at X0_T, and its gradient in x0_hat (eps held fixed)
    replaces grad_x log p in the same eps_hat formula.
    """
    n = x_t.shape[0]
    if not p.guides_at(int(t[0])) or at[0] <= 0:
        return pred, torch.zeros(n, dtype=torch.bool, device=x_t.device)
    x_in = x_t
    if p.space == "x0":
        x_in = pred.x0.clamp(-1, 1) if p.clip_x0 else pred.x0
        t = torch.full_like(t, X0_T)
    fn = rule_logit_fn(logit_fn, str(p.rule))
    every = p.guide_when == "every-step"
    alpha, scale, rule = p.settings()
    if p.passes == 1 and not every and held is None:
        return _one_pass(pred, x_t, x_in, t, at, fn, p)
    if held is not None:
        fired = held
    elif every:
        fired = torch.ones(n, dtype=torch.bool, device=x_t.device)
    else:
        with torch.no_grad():
            fired = fires(fn(x_in, t), alpha, rule)
    if not bool(fired.any()):
        return pred, fired
    rows = fired.nonzero().squeeze(1)
    with torch.enable_grad():
        x = x_in[rows].detach().requires_grad_(True)
        objective = guidance_objective(fn(x, t[rows]), rule).sum()
        (grad,) = torch.autograd.grad(objective, x)
    guided = guided_pred(x_t[rows], Pred(pred.x0[rows], pred.eps[rows]), grad, at, scale)
    x0, eps = pred.x0.clone(), pred.eps.clone()
    x0[rows], eps[rows] = guided.x0, guided.eps
    return Pred(x0, eps), fired


def _one_pass(
    pred: Pred,
    x_t: torch.Tensor,
    x_in: torch.Tensor,
    t: torch.Tensor,
    at: tuple[float, float],
    fn: LogitFn,
    p: Protection,
) -> tuple[Pred, torch.Tensor]:
    """protect_pred's passes 1: one forward with gradients over the batch, one backward where some row fires."""
    alpha, scale, rule = p.settings()
    with torch.enable_grad():
        x = x_in.detach().requires_grad_(True)
        logit = fn(x, t)
        fired = fires(logit.detach(), alpha, rule)
        if not bool(fired.any()):
            return pred, fired
        objective = torch.where(fired, guidance_objective(logit, rule), torch.zeros_like(logit)).sum()
        (grad,) = torch.autograd.grad(objective, x)
    mask = fired.view(-1, *([1] * (x_t.ndim - 1)))
    guided = guided_pred(x_t, pred, grad, at, scale)
    return Pred(torch.where(mask, guided.x0, pred.x0), torch.where(mask, guided.eps, pred.eps)), fired


class ProtectionGuide:
    """CPSample as a sampler Guide (sampling/sampler.py), holding what check_every needs across steps.

    check_every k > 1: the confidence pass runs at the first guided step of a chain and every k-th guided step
    after; the rows it found confident are guided, with the gradient pass alone, at the k - 1 guided steps that
    follow, so a chain of S guided steps runs ceil(S / k) confidence passes. A new chain (the sampler's t goes
    back up, or the batch size changes) starts with a check, so one guide serves batch after batch. Steps outside
    the t window or at alpha_t = 0 are not guided and not counted; the first guided step after them checks.
    """

    def __init__(self, logit_fn: LogitFn, p: Protection) -> None:
        self.logit_fn, self.p = logit_fn, p
        self._last_t: float | None = None
        self._held: torch.Tensor | None = None  # the rows the last check found confident
        self._since_check = 0

    def __call__(
        self, pred: Pred, x_t: torch.Tensor, t: torch.Tensor, at: tuple[float, float]
    ) -> tuple[Pred, torch.Tensor]:
        if self.p.check_every == 1:
            return protect_pred(pred, x_t, t, at, self.logit_fn, self.p)
        now = float(t.reshape(-1)[0])
        new_chain = self._last_t is None or now >= self._last_t
        if new_chain or (self._held is not None and len(self._held) != x_t.shape[0]):
            self._held = None
        self._last_t = now
        if not self.p.guides_at(int(t[0])) or at[0] <= 0:
            self._held = None
            return protect_pred(pred, x_t, t, at, self.logit_fn, self.p)
        if self._held is None or self._since_check >= self.p.check_every:
            out, fired = protect_pred(pred, x_t, t, at, self.logit_fn, self.p)
            self._held, self._since_check = fired, 1
            return out, fired
        self._since_check += 1
        return protect_pred(pred, x_t, t, at, self.logit_fn, self.p, held=self._held)


def protection_guide(logit_fn: LogitFn, p: Protection) -> ProtectionGuide:
    """A fresh CPSample guide for one run of sampling (its check_every state starts empty)."""
    return ProtectionGuide(logit_fn, p)
