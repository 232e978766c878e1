"""The shape every membership attack shares: what it needs, which threat model it belongs to
(core/threat_models.py), its scores, and one summary that results.json and the report render the same
way for every attack."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np
import torch

from cpaudit.core.attack_stats import auc, epsilon_lower_bound, tpr_at_fprs, tpr_without_false_positives
from cpaudit.core.crossfit import BOOTSTRAP_REPLICATES, CrossFit, crossfit, strongest_interval
from cpaudit.core.one_run import one_run_bound, one_run_delta
from cpaudit.core.paths import GaussianPath, Pred
from cpaudit.core.threat_models import ThreatModel
from cpaudit.data.split import DRAWN_DESIGNS
from cpaudit.distributed import gather_rows, world
from cpaudit.models.conditioning import Cond, cond_rows, cond_to
from cpaudit.models.denoise import PairFn
from cpaudit.sampling.protection import LogitFn, Protection, protect_pred

Role = Literal["members", "holdout"]


@dataclass(frozen=True)
class Denoiser:
    """A denoiser to attack: the plain prediction pair (x0_hat, eps_hat), or with `protection` CPSample's guided
    pair as the sampler runs it, on the model's path x_t = alpha_t x0 + sigma_t eps.

    A conditional model's denoiser carries each candidate's condition (`conds`, per role, rows aligned with the
    candidates: the true caption, or the empty one) and the 3-argument model; `bound(role, rows)` is the
    2-argument denoiser of those rows, which is what every attack queries."""

    pair_model: PairFn  # (x_t, t) -> (x0_hat, eps_hat) (models/denoise.py)
    path: GaussianPath
    device: torch.device
    protection: Protection | None = None
    logit_fn: LogitFn | None = None
    cond_model: Callable[[torch.Tensor, torch.Tensor, Cond], Pred] | None = None
    conds: Mapping[str, Cond] | None = None
    suffix: str = ""  # results.json key suffix of the attacks on it, e.g. "_caption"
    title: str = ""  # appended to the attacks' titles, e.g. " (true caption)"

    def bound(self, role: Role, rows: range) -> Denoiser:
        """This denoiser with candidates `rows` of `role`'s conditions bound (itself when unconditional)."""
        if self.conds is None or self.cond_model is None:
            return self
        cond = cond_to(cond_rows(self.conds[role], slice(rows.start, rows.stop)), self.device)
        model = self.cond_model
        return replace(self, pair_model=lambda x, t: model(x, t, cond), cond_model=None, conds=None)

    @property
    def protected(self) -> bool:
        return self.protection is not None and not self.protection.inactive

    def pred(self, x: torch.Tensor, t: int) -> Pred:
        """One query at grid index t of the model's path: the pair, CPSample's guided one where this denoiser
        is protected (the network and the classifier take the index's time input: GaussianPath.times)."""
        tt = self.path.times(t, x.shape[0], x.device)
        pred = self.pair_model(x, tt)
        if self.protected:
            pred, _ = protect_pred(pred, x, tt, self.path.at(t), self.logit_fn, self.protection)  # type: ignore[arg-type]
        return pred

    def eps(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """eps_hat of one query (what the loss, PIA and SimA read)."""
        return self.pred(x, t).eps


def score_images(
    images: torch.Tensor,
    score: Callable[[torch.Tensor, range], torch.Tensor],
    device: torch.device,
    batch_size: int = 256,
) -> np.ndarray:
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


def score_candidates(
    ctx: AttackContext, denoiser: Denoiser, score: Callable[[torch.Tensor, Denoiser], torch.Tensor]
) -> tuple[np.ndarray, np.ndarray]:
    """(pos, neg): score(batch, the denoiser bound to the batch's conditions) -> (K, B) of members and of
    held-out candidates (score_images batches and shards them)."""
    assert ctx.members is not None and ctx.holdout is not None  # the denoiser attacks run on candidates

    def bound_score(role: Role) -> Callable[[torch.Tensor, range], torch.Tensor]:
        return lambda xb, idx: score(xb, denoiser.bound(role, idx))

    return (
        score_images(ctx.members, bound_score("members"), denoiser.device),
        score_images(ctx.holdout, bound_score("holdout"), denoiser.device),
    )


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


AttackTarget = Literal["samples", "denoiser", "classifier"]


class Attack(Protocol):
    name: str  # results.json key
    title: str  # for people
    # "samples": from generated images; "denoiser": runs on the plain and on the protected denoiser;
    # "classifier": queries CPSample's classifier directly (only where one is given)
    target: AttackTarget

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


def measures_of(attack: Attack, denoiser: Denoiser | None, sampling_protected: bool) -> list[ThreatModel]:
    """The threat models whose attacker can run this attack: the plain denoiser is the weights, and also the
    deployed sampler when sampling was not protected. A gate reads only attacks that measure what it gates."""
    tm = threat_model_of(attack, denoiser, sampling_protected)
    if tm == "sampler" and attack.target == "denoiser" and not (denoiser is not None and denoiser.protected):
        return ["sampler", "weights"]
    return [tm]


CI_NOTE = (
    "auc_ci95 covers the AUC of the attack the cross-fit chose on held-apart halves; strongest_auc_ci95 "
    "covers the AUC of the strongest attack in the set (its best variant and sign), from all images: DeLong "
    "standard errors, the lower end max-t adjusted over the variants"
)


def headline_figures(
    pos: np.ndarray,
    neg: np.ndarray,
    rng: np.random.Generator,
    n_null: int,
    n_boot: int = BOOTSTRAP_REPLICATES,
    split_design: str | None = None,
) -> tuple[dict, CrossFit]:
    """The selection-free figures of scores pos (K, M), neg (K, H) with K variants (core/crossfit.py): AUC
    with its bootstrap 95% interval (of the chosen attack's AUC), a 95% interval of the strongest variant's
    AUC (strongest_auc_ci95: core/crossfit.strongest_interval, from a generator spawned off rng, so every
    other figure draws what it drew before), the chance band and p-value of the same procedure under relabelling,
    TPRs at the FPRs the held-out images resolve, and two epsilon lower bounds from the evaluation halves
    (each half at 97.5%, so both hold together at 95%):

    - epsilon_lb: one training run (Steinke, Nasr & Jagielski 2023; core/one_run.py) at delta far below
      1/members, with the most these sizes can show (epsilon_lb_max_provable). Its theorem assumes independent
      coins; each half holds a set number of members, so it is indicative (epsilon_lb_guarantee false), and
      epsilon_lb_proven, the bound conditioned on that count, is the guarantee where cpaudit drew the split
      (split_design "poisson" or "fixed"; None for the user's own split or where the design is not given);
    - epsilon_lb_many_runs: the Clopper-Pearson threshold bound, which treats each member as a separate
      training run (the many-runs setting), at delta = 1/members; kept for comparison, not a one-run bound.
    """
    cf = crossfit(pos, neg, rng, n_boot, n_null)
    strongest_ci95 = strongest_interval(pos, neg, rng.spawn(1)[0])
    null = cf.null
    m = pos.shape[1]
    lo, hi = np.quantile(null, [0.025, 0.975])
    delta = one_run_delta(m)
    bounds = [one_run_bound(p, q, delta, beta=0.025) for p, q in cf.folds]
    best = max(bounds, key=lambda b: b.epsilon)
    drawn = split_design in DRAWN_DESIGNS
    proven = [one_run_bound(p, q, delta, beta=0.025, fixed_count=True) for p, q in cf.folds] if drawn else []
    figures = {
        "auc": cf.auc,
        "auc_ci95": list(cf.auc_ci95),
        "auc_se": cf.auc_se,
        "interval": f"bootstrap of the whole cross-fit ({n_boot} replicates), standard error capped by the null's: "
        "centre +- 1.96 standard errors",
        "strongest_auc_ci95": list(strongest_ci95),
        "ci_note": CI_NOTE,
        "chance_band95": [float(lo), float(hi)],
        "p_value": float((1 + np.sum(null >= cf.auc - 1e-12)) / (1 + n_null)),
        "n_null": int(n_null),
        "tpr_at_fpr": tpr_at_fprs(cf.folds),
        "tpr_at_lowest_fpr": tpr_without_false_positives(cf.folds),
        "epsilon_lb": best.epsilon,
        "epsilon_lb_max_provable": max(b.max_provable for b in bounds),
        "epsilon_lb_guesses": {"guesses": best.guesses, "correct": best.correct, "candidates": best.candidates},
        "epsilon_lb_guarantee": False,  # the halves' member counts are set, not coins (core/one_run.py)
        "epsilon_lb_proven": max(b.epsilon for b in proven) if drawn else None,
        "epsilon_lb_proven_max_provable": max(b.max_provable for b in proven) if drawn else None,
        "split_design": split_design,
        "epsilon_lb_assumption": one_run_assumption(split_design),
        "delta": delta,
        "epsilon_lb_many_runs": max(epsilon_lower_bound(p, q, 1 / m, confidence=0.975) for p, q in cf.folds),
        "delta_many_runs": 1 / m,
    }
    return figures, cf


def one_run_assumption(split_design: str | None) -> str:
    """What the one-run figures rest on, in a sentence for results.json and the report."""
    indicative = (
        "epsilon_lb assumes every candidate was included by an independent fair coin (Steinke, Nasr & "
        "Jagielski 2023, Theorem 5.2); the audit's halves hold a set number of members, so it is indicative, "
        "not a guarantee."
    )
    if split_design in DRAWN_DESIGNS:
        return (
            f"{indicative} epsilon_lb_proven is one: the same test at level x P[Binomial(m, 1/2) = members], "
            f"valid because cpaudit drew this ({split_design}) split at random."
        )
    if split_design == "user":
        return f"{indicative} This split is the user's own record, drawn by no coin cpaudit knows: no figure here is a guarantee."
    return f"{indicative} The split's design was not given: no figure here is a guarantee."


def summarise(
    key: str,
    title: str,
    threat_model: ThreatModel,
    s: AttackScores,
    rng: np.random.Generator,
    n_null: int,
    n_boot: int = BOOTSTRAP_REPLICATES,
    split_design: str | None = None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The figures every attack reports, selection-free (headline_figures), and the arrays for its ROC."""
    figures, cf = headline_figures(s.pos, s.neg, rng, n_null, n_boot, split_design)
    summary = {
        "title": title,
        "threat_model": threat_model,
        "queries_per_image": s.queries_per_image,
        "n_members": int(s.pos.shape[1]),
        "n_holdout": int(s.neg.shape[1]),
        **figures,
        "selection": f"cross-fitted: variant and sign chosen on one half of the images, AUC on the other, swapped and averaged "
        f"({len(s.variants)} variant{'s' if len(s.variants) != 1 else ''})",
        "chosen": [{"variant": s.variants[k], "sign": sign} for k, sign in cf.chosen],
        # Each variant's AUC on all images: descriptive only (the best of them is selected, so biased upward).
        "by_variant": [{"variant": v, "auc": auc(p, q)} for v, p, q in zip(s.variants, s.pos, s.neg)],
        **s.extra,
    }
    return summary, {f"attack_{key}_pos": cf.pos, f"attack_{key}_neg": cf.neg}
