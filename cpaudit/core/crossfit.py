"""A selection-free headline for an attack with several variants (timesteps, score kinds) and a free sign.

Choosing the best variant and sign on the data one reports inflates the AUC: with five timesteps and
64 vs 64 images, a model that leaks nothing reads about 0.58. Cross-fitting removes the selection: split
members and held-out images into two halves; on one half choose the variant and sign with the highest
AUC, evaluate that choice on the other half; swap the halves and average the two AUCs.

The interval bootstraps the whole procedure: each replicate resamples members and held-out images with
replacement, splits the draws into new halves and redoes the selection; the interval is the centre +- 1.96
standard errors (the bootstrap's, capped by the null distribution's: see crossfit()). The two folds' AUCs
are not independent (each fold's choice is made on the other's data; under the null they correlate at
about 2/pi), so adding their DeLong variances, as an earlier version did, covered the true AUC only 87-89%
of the time at 64 vs 64 under the null (89% measured here). Resampling inside fixed halves, or keeping an
image's copies in one half, double-counts the split's own variance (standard errors 20-30% too large,
measured); splitting the draws lets a few copies sit on both sides of a choice, which the measured
coverage includes (benchmarks/crossfit_coverage.py, benchmarks/results/crossfit_coverage.json).
What the interval covers is the true AUC of the attack the cross-fit chose (variant and sign). Under a weak
signal at small sizes a half sometimes picks the wrong sign, choosing an attack whose true AUC is below
0.5, so no selection can promise coverage of the best variant's AUC there; the script reports that too.

The chance band is the same procedure's distribution under random relabelling of members and held-out
images (the null of no leakage, with the sample sizes at hand), so it accounts for the selection too.

The strongest attack's AUC, max over variants and signs of the population AUC, is a different target: when
one variant leaks and the others do not, a half sometimes chooses a null variant, and the cross-fit's interval
(which follows the choice) covered 0.65 in 71% of sets (one variant at 0.65 among 7 nulls, 64 v 64).
strongest_interval() covers it on all images, without a choice: its upper end is the largest variant's
estimate + 1.96 of its own standard error (the strongest variant alone needs to be covered from above), its
lower end the largest estimate - c standard errors, c the 97.5% point of the largest |studentised| AUC over
all variants (max-t; every variant must be covered from below, since any one of them may read high). Each
end misses at most 2.5% and the two misses cannot happen together (a lower end above the truth puts the
upper end above it too), so it covers at least 95%: measured 0.963-0.998 over 12 cells, equal and unequal
variants, 64 v 64 and 256 v 256 (benchmarks/results/crossfit_coverage.json, parts unequal and strongest_equal;
above 0.97 where nulls lie close to the strongest variant or all variants tie, which a valid end must allow for).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats as sps

from cpaudit.core.attack_stats import auc, auc_rows, normal_interval

MAX_T_DRAWS = 20_000  # Gaussian draws for the max-t point: it moves by about 0.01 (of ~2.9) between seeds
BOOTSTRAP_REPLICATES = 200  # the interval's resamplings: its ends move by about 0.005 between seeds at 64 vs 64

Halves = tuple[np.ndarray, np.ndarray]  # column indices of the two halves (may repeat, in a bootstrap)


@dataclass
class CrossFit:
    auc: float  # mean of the two folds' held-apart AUCs
    auc_ci95: tuple[float, float]  # centre +- 1.96 auc_se, clipped to [0, 1]
    auc_se: float  # bootstrap standard error, capped by the null's (see crossfit); NaN without replicates
    fold_aucs: list[float]
    chosen: list[tuple[int, int]]  # per fold: (variant index, sign), chosen on the other half
    folds: list[tuple[np.ndarray, np.ndarray]]  # per fold: signed scores of its evaluation half (members, held-out)
    # Out-of-fold scores on one scale, for the ROC plot: each fold's chosen score, signed and standardised by
    # the mean and standard deviation of the held-out images in the half it was chosen on.
    pos: np.ndarray
    neg: np.ndarray
    null: np.ndarray  # the cross-fitted AUC under relabelling (empty where n_null = 0): the chance band's source


def _halves(n: int, rng: np.random.Generator) -> Halves:
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2 :]


def _bootstrap_halves(n: int, rng: np.random.Generator) -> Halves:
    """A bootstrap resample of n images, split at random into two halves of draws."""
    draws = rng.integers(0, n, n)
    a, b = _halves(n, rng)
    return draws[a], draws[b]


def _choose(pos: np.ndarray, neg: np.ndarray) -> tuple[int, int]:
    """(variant, sign) with the highest AUC on this half; pos, neg: (K, m), (K, n)."""
    aucs = auc_rows(pos, neg)
    k = int(np.argmax(np.abs(aucs - 0.5)))  # a sign flip turns AUC a into 1 - a
    return k, (1 if aucs[k] >= 0.5 else -1)


FOLDS = ((0, 1), (1, 0))  # (half the choice is made on, half it is scored on)


def _choices(pos: np.ndarray, neg: np.ndarray, pm: Halves, ph: Halves) -> list[tuple[int, int]]:
    """Per fold, (variant, sign) chosen on its fitting half; pm, ph: halves of members and held-out images."""
    return [_choose(pos[:, pm[fit]], neg[:, ph[fit]]) for fit, _ in FOLDS]


def _fold_aucs(pos: np.ndarray, neg: np.ndarray, pm: Halves, ph: Halves) -> list[float]:
    """The two held-apart AUCs for halves pm (members) and ph (held-out): the point estimate's core."""
    return [auc(s * pos[k, pm[ev]], s * neg[k, ph[ev]]) for (k, s), (_, ev) in zip(_choices(pos, neg, pm, ph), FOLDS)]


def _check(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos, neg = np.atleast_2d(pos).astype(np.float64), np.atleast_2d(neg).astype(np.float64)
    if pos.shape[1] < 4 or neg.shape[1] < 4:
        raise ValueError(
            f"cross-fitting needs at least 4 members and 4 held-out images, got {pos.shape[1]} and {neg.shape[1]}"
        )
    return pos, neg


def crossfit(
    pos: np.ndarray, neg: np.ndarray, rng: np.random.Generator, n_boot: int = BOOTSTRAP_REPLICATES, n_null: int = 0
) -> CrossFit:
    """pos: (K, M) member scores, neg: (K, H) held-out scores of K variants; needs M, H >= 4.

    With n_null relabellings the standard error is the smaller of the bootstrap's and the null
    distribution's: where the selection is at its least stable (no signal) the null's is exact and the
    bootstrap's too large, since resampled copies of an image on both sides of a choice tie the folds
    together; with a signal the bootstrap's is the estimate. Coverage of the chosen attack's AUC, measured:
    0.95-0.99 at 64 v 64 and 256 v 256, null and weak signal (benchmarks/results/crossfit_coverage.json).
    """
    pos, neg = _check(pos, neg)
    pm, ph = _halves(pos.shape[1], rng), _halves(neg.shape[1], rng)
    chosen = _choices(pos, neg, pm, ph)
    fold_aucs, out_pos, out_neg, folds = [], [], [], []
    for (k, s), (fit, ev) in zip(chosen, FOLDS):
        ref = neg[k, ph[fit]]
        sd = ref.std(ddof=1) if len(ref) > 1 and ref.std(ddof=1) > 0 else 1.0
        p = s * (pos[k, pm[ev]] - ref.mean()) / sd
        q = s * (neg[k, ph[ev]] - ref.mean()) / sd
        folds.append((s * pos[k, pm[ev]], s * neg[k, ph[ev]]))
        fold_aucs.append(auc(p, q))
        out_pos.append(p)
        out_neg.append(q)
    centre = float(np.mean(fold_aucs))
    se = bootstrap_se(pos, neg, n_boot, rng) if n_boot else float("nan")
    null = crossfit_null(pos, neg, n_null, rng) if n_null else np.empty(0)
    if len(null) > 1:
        se = min(se, float(np.std(null, ddof=1)))
    return CrossFit(
        centre,
        normal_interval(centre, se**2),
        se,
        fold_aucs,
        chosen,
        folds,
        np.concatenate(out_pos),
        np.concatenate(out_neg),
        null,
    )


def crossfit_bootstrap(pos: np.ndarray, neg: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """The cross-fitted AUC of `n_boot` bootstrap replicates of the whole procedure (members and held-out
    images resampled with replacement, the draws split into new halves, the variant and sign chosen again)."""
    pos, neg = _check(pos, neg)
    out = np.empty(n_boot)
    for b in range(n_boot):
        pm, ph = _bootstrap_halves(pos.shape[1], rng), _bootstrap_halves(neg.shape[1], rng)
        out[b] = np.mean(_fold_aucs(pos, neg, pm, ph))
    return out


def bootstrap_se(pos: np.ndarray, neg: np.ndarray, n_boot: int, rng: np.random.Generator) -> float:
    return float(np.std(crossfit_bootstrap(pos, neg, n_boot, rng), ddof=1))


def crossfit_null(pos: np.ndarray, neg: np.ndarray, n_null: int, rng: np.random.Generator) -> np.ndarray:
    """The cross-fitted AUC under `n_null` random relabellings of members and held-out images. Every
    variant is relabelled by the same permutation, so a selection over variants (or over several attacks'
    variants stacked as one) is part of the null."""
    pos, neg = _check(pos, neg)
    both = np.concatenate([pos, neg], axis=1)
    m, h = pos.shape[1], neg.shape[1]
    null = np.empty(n_null)
    for b in range(n_null):
        perm = rng.permutation(both.shape[1])
        null[b] = np.mean(_fold_aucs(both[:, perm[:m]], both[:, perm[m:]], _halves(m, rng), _halves(h, rng)))
    return null


def delong_covariance(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """(K, K) covariance of K variants' empirical AUCs on the same images (DeLong, DeLong & Clarke-Pearson
    1988, the correlated-curves form): S10 / m + S01 / n, S the covariances of the placement values,
    computed from mid-ranks (Sun & Xu 2014) as attack_stats.delong_variance does for one curve."""
    m, n = pos.shape[1], neg.shape[1]
    ranks = sps.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    v10 = (ranks[:, :m] - sps.rankdata(pos, axis=1)) / n
    v01 = 1 - (ranks[:, m:] - sps.rankdata(neg, axis=1)) / m
    return np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n


def max_t_point(corr: np.ndarray, confidence: float, rng: np.random.Generator, draws: int = MAX_T_DRAWS) -> float:
    """The `confidence` quantile of max_j |Z_j|, Z ~ N(0, corr): the simultaneous two-sided point for K
    correlated estimates (Hothorn, Bretz & Westfall 2008's single-step max-t), from Gaussian draws."""
    k = corr.shape[0]
    w, v = np.linalg.eigh(corr)
    root = v * np.sqrt(np.clip(w, 0, None))  # corr = root root^T, positive semi-definite after clipping
    z = rng.standard_normal((draws, k)) @ root.T
    return float(np.quantile(np.abs(z).max(axis=1), confidence))


def strongest_interval(pos: np.ndarray, neg: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95% interval for the strongest attack's AUC, max_j max(AUC_j, 1 - AUC_j) over the K variants of pos
    (K, M), neg (K, H), from all images (see the module's docstring): [max_j (g_j - c se_j), max_j (g_j +
    1.96 se_j)], g_j = max(A_j, 1 - A_j), A_j the empirical AUC, se_j its DeLong standard error, c the
    97.5% max-t point of the K variants' DeLong correlation; clipped to [0.5, 1], the range of a free sign."""
    pos, neg = _check(pos, neg)
    a = auc_rows(pos, neg)
    cov = delong_covariance(pos, neg)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    g = 0.5 + np.abs(a - 0.5)
    z = float(sps.norm.ppf(0.975))
    live = se > 0  # a variant whose ranks leave no spread (AUC 0 or 1) is its own interval
    corr = cov[np.ix_(live, live)] / np.outer(se[live], se[live])
    c = max_t_point(corr, 0.975, rng) if live.any() else z
    lo, hi = float(np.max(g - c * se)), float(np.max(g + z * se))
    return max(0.5, lo), min(1.0, hi)
