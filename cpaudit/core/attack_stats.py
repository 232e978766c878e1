"""Statistics of one membership attack's scores: AUC with its interval, resolvable TPRs, empirical epsilon.

Scores are numpy arrays, higher = "member". Pure functions: no files, no printing, no global RNG.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

# FPRs at which a TPR is reported when the negatives can resolve them (at least 1/FPR negatives).
TPR_FPRS: tuple[float, ...] = (0.1, 0.01, 0.001)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) + 1/2 P(tie), from mid-ranks (the Mann-Whitney U / (m n))."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    return float(auc_rows(np.asarray(pos)[None], np.asarray(neg)[None])[0])


def auc_rows(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """auc of every row at once: pos (K, m), neg (K, n) -> (K,)."""
    m, n = pos.shape[1], neg.shape[1]
    ranks = sps.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    return (ranks[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)


def delong_variance(pos: np.ndarray, neg: np.ndarray) -> float:
    """Variance of the empirical AUC by DeLong et al. (1988), eq. for one ROC curve:
    V10_i = mean_j psi(pos_i, neg_j), V01_j = mean_i psi(pos_i, neg_j), psi = 1 / 1/2 / 0 for >, =, <;
    var = S10 / m + S01 / n with S the sample variances of the placement values.

    Computed from mid-ranks (Sun & Xu 2014): V10_i = (rank of pos_i among all - rank among pos) / n.
    """
    m, n = len(pos), len(neg)
    if m < 2 or n < 2:
        return float("nan")
    all_ranks = sps.rankdata(np.concatenate([pos, neg]))
    v10 = (all_ranks[:m] - sps.rankdata(pos)) / n
    v01 = 1 - (all_ranks[m:] - sps.rankdata(neg)) / m
    return float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)


def normal_interval(centre: float, variance: float, confidence: float = 0.95) -> tuple[float, float]:
    """centre +- z sqrt(variance), clipped to [0, 1] (an AUC's range)."""
    if not np.isfinite(variance):
        return float("nan"), float("nan")
    half = float(sps.norm.ppf(0.5 + confidence / 2)) * float(np.sqrt(max(variance, 0.0)))
    return max(0.0, centre - half), min(1.0, centre + half)


Folds = list[tuple[np.ndarray, np.ndarray]]  # (member scores, held-out scores) of each evaluation half


def tpr_at_fprs(folds: Folds, fprs: tuple[float, ...] = TPR_FPRS) -> dict[str, float | None]:
    """TPR at each FPR that every fold's held-out images can resolve (n_neg >= 1/FPR), else None.

    Each fold has its own score scale (its variant was chosen on the other half), so each gets its own
    threshold, admitting at most floor(FPR * n_neg) of its held-out images; true positives are summed
    over folds. Keys are the FPR as text ("0.01").
    """
    out: dict[str, float | None] = {}
    for f in fprs:
        if any(len(neg) * f < 1 - 1e-9 for _, neg in folds):
            out[f"{f:g}"] = None
            continue
        tp = sum(_tp_with_false_positives(pos, neg, int(np.floor(f * len(neg) + 1e-9))) for pos, neg in folds)
        out[f"{f:g}"] = tp / sum(len(pos) for pos, _ in folds)
    return out


def tpr_without_false_positives(folds: Folds) -> dict[str, float]:
    """The lowest FPR held-out images can measure is none of them: TPR where no held-out image passes."""
    tp = sum(_tp_with_false_positives(pos, neg, 0) for pos, neg in folds)
    return {
        "fpr": 0.0,
        "n_negatives": int(sum(len(neg) for _, neg in folds)),
        "tpr": tp / sum(len(pos) for pos, _ in folds),
    }


def _tp_with_false_positives(pos: np.ndarray, neg: np.ndarray, allowed: int) -> int:
    """Members strictly above the (allowed + 1)-th highest held-out score: at most `allowed` held-out pass."""
    if allowed >= len(neg):
        return len(pos)
    bar = np.sort(neg)[::-1][allowed]
    return int(np.sum(pos > bar))


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided upper (1 - alpha) Clopper-Pearson bound on a binomial proportion with k successes of n."""
    return float(_cp_upper(np.array([k]), n, alpha)[0])


def epsilon_lower_bound(pos: np.ndarray, neg: np.ndarray, delta: float, confidence: float = 0.95) -> float:
    """Empirical epsilon lower bound from an attack's scores (the threshold attack of Jagielski et al. 2020,
    in the form of jax_privacy/auditing.py, Bonferroni threshold strategy).

    For every threshold tau among the observed scores (predict member when score >= tau), one-sided
    Clopper-Pearson upper bounds FPR_u and FNR_u, each at level alpha / (2 T) for T thresholds, so all hold
    together with probability >= `confidence`. An (epsilon, delta)-DP mechanism has
    FPR + e^epsilon FNR >= 1 - delta and FNR + e^epsilon FPR >= 1 - delta, hence
    epsilon >= max over tau of log((1 - FNR_u - delta) / FPR_u) and log((1 - FPR_u - delta) / FNR_u); 0 if none is positive.
    """
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    taus = np.unique(np.concatenate([pos, neg]))
    alpha = (1 - confidence) / (2 * len(taus))
    fn = np.searchsorted(np.sort(pos), taus, side="left")  # members below tau
    fp = len(neg) - np.searchsorted(np.sort(neg), taus, side="left")  # held-out at or above tau
    fpr_u = _cp_upper(fp, len(neg), alpha)
    fnr_u = _cp_upper(fn, len(pos), alpha)
    best = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        for num, den in ((1 - fnr_u - delta, fpr_u), (1 - fpr_u - delta, fnr_u)):
            ok = (num > 0) & (den > 0)
            if ok.any():
                best = max(best, float(np.max(np.log(num[ok] / den[ok]))))
    return best


def _cp_upper(k: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """clopper_pearson_upper over an array of counts (1 where every trial succeeded)."""
    out = np.ones(len(k))
    below = k < n
    out[below] = sps.beta.ppf(1 - alpha, k[below] + 1, n - k[below])
    return out
