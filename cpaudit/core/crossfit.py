"""A selection-free headline for an attack with several variants (timesteps, score kinds) and a free sign.

Choosing the best variant and sign on the data one reports inflates the AUC: with five timesteps and
64 vs 64 images, a model that leaks nothing reads about 0.58. Cross-fitting removes the selection: split
members and held-out images into two halves; on one half choose the variant and sign with the highest
AUC, evaluate that choice on the other half; swap the halves and average the two AUCs.

The chance band is the same procedure's distribution under random relabelling of members and held-out
images (the null of no leakage, with the sample sizes at hand), so it accounts for the selection too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cpaudit.core.attack_stats import auc, auc_rows, delong_variance, normal_interval


@dataclass
class CrossFit:
    auc: float  # mean of the two folds' held-apart AUCs
    auc_ci95: tuple[float, float]  # DeLong on each fold, folds independent: var = (v1 + v2) / 4
    fold_aucs: list[float]
    chosen: list[tuple[int, int]]  # per fold: (variant index, sign), chosen on the other half
    folds: list[tuple[np.ndarray, np.ndarray]]  # per fold: signed scores of its evaluation half (members, held-out)
    # Out-of-fold scores on one scale, for the ROC plot: each fold's chosen score, signed and standardised by
    # the mean and standard deviation of the held-out images in the half it was chosen on.
    pos: np.ndarray
    neg: np.ndarray


def _halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2 :]


def _choose(pos: np.ndarray, neg: np.ndarray) -> tuple[int, int]:
    """(variant, sign) with the highest AUC on this half; pos, neg: (K, m), (K, n)."""
    aucs = auc_rows(pos, neg)
    k = int(np.argmax(np.abs(aucs - 0.5)))  # a sign flip turns AUC a into 1 - a
    return k, (1 if aucs[k] >= 0.5 else -1)


def crossfit(pos: np.ndarray, neg: np.ndarray, rng: np.random.Generator) -> CrossFit:
    """pos: (K, M) member scores, neg: (K, H) held-out scores of K variants; needs M, H >= 4."""
    pos, neg = np.atleast_2d(pos).astype(np.float64), np.atleast_2d(neg).astype(np.float64)
    if pos.shape[1] < 4 or neg.shape[1] < 4:
        raise ValueError(f"cross-fitting needs at least 4 members and 4 held-out images, got {pos.shape[1]} and {neg.shape[1]}")
    pm, ph = _halves(pos.shape[1], rng), _halves(neg.shape[1], rng)
    fold_aucs, variances, chosen, out_pos, out_neg, folds = [], [], [], [], [], []
    for fit, ev in ((0, 1), (1, 0)):
        k, s = _choose(pos[:, pm[fit]], neg[:, ph[fit]])
        ref = neg[k, ph[fit]]
        sd = ref.std(ddof=1) if len(ref) > 1 and ref.std(ddof=1) > 0 else 1.0
        p = s * (pos[k, pm[ev]] - ref.mean()) / sd
        q = s * (neg[k, ph[ev]] - ref.mean()) / sd
        folds.append((s * pos[k, pm[ev]], s * neg[k, ph[ev]]))
        fold_aucs.append(auc(p, q))
        variances.append(delong_variance(p, q))
        chosen.append((k, s))
        out_pos.append(p)
        out_neg.append(q)
    centre = float(np.mean(fold_aucs))
    return CrossFit(centre, normal_interval(centre, sum(variances) / 4), fold_aucs, chosen, folds,
                    np.concatenate(out_pos), np.concatenate(out_neg))


def crossfit_null(pos: np.ndarray, neg: np.ndarray, n_null: int, rng: np.random.Generator) -> np.ndarray:
    """The cross-fitted AUC under `n_null` random relabellings of members and held-out images."""
    pos, neg = np.atleast_2d(pos), np.atleast_2d(neg)
    both = np.concatenate([pos, neg], axis=1)
    m = pos.shape[1]
    null = np.empty(n_null)
    for b in range(n_null):
        perm = rng.permutation(both.shape[1])
        null[b] = crossfit(both[:, perm[:m]], both[:, perm[m:]], rng).auc
    return null
