"""The shape every membership attack shares: what it needs, which threat model it belongs to
(core/threat_models.py), its scores, and one summary that results.json and the report render the same
way for every attack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import torch

from cpaudit.core.attack_stats import auc, epsilon_lower_bound, tpr_at_fprs, tpr_without_false_positives
from cpaudit.core.crossfit import crossfit, crossfit_null
from cpaudit.core.threat_models import ThreatModel
from cpaudit.distributed import gather_rows, world
from cpaudit.sampling.protection import LogitFn, Protection, protect_eps


@dataclass(frozen=True)
class Denoiser:
    """A denoiser to attack: the plain eps_theta, or with `protection` CPSample's eps_hat as the sampler runs it."""

    eps_model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    abar: torch.Tensor  # (T,) float64
    device: torch.device
    protection: Protection | None = None
    logit_fn: LogitFn | None = None

    @property
    def protected(self) -> bool:
        return self.protection is not None and not self.protection.inactive

    def eps(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """One query: eps_theta(x, t), or CPSample's protected eps_hat where this denoiser is protected."""
        tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        e = self.eps_model(x, tt)
        if self.protected:
            e, _ = protect_eps(e, x, tt, float(self.abar[t]), self.logit_fn, self.protection)  # type: ignore[arg-type]
        return e


def score_images(images: torch.Tensor, score: Callable[[torch.Tensor, range], torch.Tensor], device: torch.device,
                 batch_size: int = 256) -> np.ndarray:
    """(K, N) scores of N images, score(batch on device, its row indices) -> (K, B). Under torchrun each rank
    scores its block of rows and the blocks are gathered in order, so the result is the one-process one."""
    w = world()
    index = range(images.shape[0])[w.shard(images.shape[0])]
    parts = []
    with torch.no_grad():
        for start in range(0, len(index), batch_size):
            idx = index[start : start + batch_size]
            parts.append(score(images[idx.start : idx.stop].to(device), idx).double().cpu())
    local = torch.cat(parts, dim=1) if parts else torch.zeros((0, 0), dtype=torch.float64)
    return gather_rows(local.T.contiguous(), w).T.numpy()


@dataclass
class AttackContext:
    """What the attacks share. Candidates: the attacked members and as many held-out images."""

    seed: int
    # samples threat model: L2-normalised embeddings on the audit's embedding
    sample_emb: np.ndarray  # (N, D), samples in seed order
    member_emb: np.ndarray  # (M, D) candidate members
    holdout_emb: np.ndarray  # (H, D) candidate held-out images
    threshold: float  # the audit's replica threshold on that embedding
    # white-box threat models (None without --model)
    members: torch.Tensor | None = None  # (M, C, H, W) in [-1, 1]
    holdout: torch.Tensor | None = None
    mia_t: tuple[int, ...] = ()
    mia_draws: int = 1
    step: Callable[[str], None] = field(default=lambda _msg: None)


@dataclass
class AttackScores:
    """Scores of each variant (a timestep, a score kind): higher = member. pos: (K, M), neg: (K, H)."""

    variants: list[str]
    pos: np.ndarray
    neg: np.ndarray
    queries_per_image: int  # model queries per scored image (0 for sample-only attacks)
    extra: dict = field(default_factory=dict)  # attack-specific figures, rendered as given


class Attack(Protocol):
    name: str  # results.json key
    title: str  # for people
    # "samples": from generated images; "denoiser": runs on the plain and on the protected denoiser;
    # "classifier": queries CPSample's classifier directly (only where one is given)
    target: Literal["samples", "denoiser", "classifier"]

    def scores(self, ctx: AttackContext, denoiser: Denoiser | None) -> AttackScores: ...


def threat_model_of(attack: Attack, denoiser: Denoiser | None, sampling_protected: bool) -> ThreatModel:
    """Samples attacks see samples; a protected denoiser is what the sampler exposes; the plain one is the
    weights, and also the sampler when sampling was not protected."""
    if attack.target == "samples":
        return "samples"
    if attack.target == "classifier":  # the sampler exposes the classifier only through eps_hat: its file must leak
        return "weights"
    if denoiser is not None and denoiser.protected:
        return "sampler"
    return "weights" if sampling_protected else "sampler"


def summarise(key: str, title: str, threat_model: ThreatModel, s: AttackScores, rng: np.random.Generator,
              n_null: int, delta: float | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The figures every attack reports, selection-free (see core/crossfit.py), and the arrays for its ROC.

    AUC with a 95% interval and the 95% chance band of the same procedure under relabelling; permutation
    p-value (+1 corrected); TPR at the FPRs the held-out images can resolve; empirical epsilon lower bound
    at delta = 1 / members unless given. TPRs and epsilon come from the evaluation halves, each on its own
    scale; epsilon is the larger of the two halves' bounds, each at 97.5% (so both hold at 95%).
    """
    cf = crossfit(s.pos, s.neg, rng)
    null = crossfit_null(s.pos, s.neg, n_null, rng)
    m, h = s.pos.shape[1], s.neg.shape[1]
    delta = 1 / m if delta is None else delta
    lo, hi = np.quantile(null, [0.025, 0.975])
    summary = {
        "title": title,
        "threat_model": threat_model,
        "queries_per_image": s.queries_per_image,
        "n_members": int(m),
        "n_holdout": int(h),
        "auc": cf.auc,
        "auc_ci95": list(cf.auc_ci95),
        "chance_band95": [float(lo), float(hi)],
        "p_value": float((1 + np.sum(null >= cf.auc - 1e-12)) / (1 + n_null)),
        "n_null": int(n_null),
        "selection": f"cross-fitted: variant and sign chosen on one half of the images, AUC on the other, swapped and averaged "
                     f"({len(s.variants)} variant{'s' if len(s.variants) != 1 else ''})",
        "chosen": [{"variant": s.variants[k], "sign": sign} for k, sign in cf.chosen],
        "tpr_at_fpr": tpr_at_fprs(cf.folds),
        "tpr_at_lowest_fpr": tpr_without_false_positives(cf.folds),
        "epsilon_lb": max(epsilon_lower_bound(p, q, delta, confidence=0.975) for p, q in cf.folds),
        "delta": delta,
        # Each variant's AUC on all images: descriptive only (the best of them is selected, so biased upward).
        "by_variant": [{"variant": v, "auc": auc(p, q)} for v, p, q in zip(s.variants, s.pos, s.neg)],
        **s.extra,
    }
    return summary, {f"attack_{key}_pos": cf.pos, f"attack_{key}_neg": cf.neg}
