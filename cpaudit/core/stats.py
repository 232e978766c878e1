"""Statistics for the audit, on numpy arrays; randomness only through a numpy Generator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n (Wilson 1927); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def roc_curve(scores_pos: np.ndarray, scores_neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) over every threshold, higher score = predicted positive; starts at (0, 0), ends at (1, 1)."""
    s = np.concatenate([scores_pos, scores_neg])
    y = np.concatenate([np.ones(len(scores_pos)), np.zeros(len(scores_neg))])
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    tpr = np.r_[0.0, tp / max(len(scores_pos), 1)]
    fpr = np.r_[0.0, fp / max(len(scores_neg), 1)]
    return fpr, tpr


@dataclass(frozen=True)
class PermutationResult:
    statistic: float
    p_value: float
    n_permutations: int
    null: np.ndarray  # the statistic under each relabelling


def nn_gap_statistic(sim_a: np.ndarray, sim_b: np.ndarray) -> float:
    """Mean over samples of (nearest similarity in set A - nearest similarity in set B); sim_*: (N, |set|)."""
    return float(np.mean(sim_a.max(axis=1) - sim_b.max(axis=1)))


def permutation_test(
    sim_members: np.ndarray, sim_holdout: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> PermutationResult:
    """Are samples closer to members than to held-out images?

    sim_members: (N, M), sim_holdout: (N, M) similarities of N samples to equal-size reference sets.
    Null: the member/holdout labels of the 2M references are exchangeable. One-sided p-value with the
    +1 correction (Phipson & Smyth 2010): p = (1 + #{null >= observed}) / (1 + B).
    """
    if sim_members.shape != sim_holdout.shape:
        raise ValueError(f"reference sets must have equal size, got {sim_members.shape} and {sim_holdout.shape}")
    observed = nn_gap_statistic(sim_members, sim_holdout)
    both = np.concatenate([sim_members, sim_holdout], axis=1)
    m = sim_members.shape[1]
    null = np.empty(n_permutations)
    for b in range(n_permutations):
        perm = rng.permutation(both.shape[1])
        null[b] = nn_gap_statistic(both[:, perm[:m]], both[:, perm[m:]])
    p = (1 + np.sum(null >= observed - 1e-12)) / (1 + n_permutations)
    return PermutationResult(observed, float(p), n_permutations, null)


def replica_excess_p(replicas: int, n_samples: int, holdout_over: int, n_holdout: int) -> float:
    """Do samples reach the replica threshold more often than unseen images do? One-sided Fisher exact
    test of the 2x2 table (samples vs held-out images, at or above the threshold vs below).

    Descriptive only: it treats the samples as independent draws exchangeable with held-out images, which a
    model collapsed onto a few images is not (benchmarks/replica_gate.py: it false-alarms far above its
    level there). The replica gate reads `reach_excess_p`, whose unit is the candidate image.
    """
    if n_samples == 0 or n_holdout == 0:
        return float("nan")
    table = [[replicas, n_samples - replicas], [holdout_over, n_holdout - holdout_over]]
    return float(sps.fisher_exact(table, alternative="greater").pvalue)


def reach_excess_p(members_reached: int, n_members: int, holdout_reached: int, n_holdout: int) -> float:
    """Are training images more often reached by some sample (at the replica threshold) than held-out images?
    One-sided Fisher exact test of the 2x2 table (members vs held-out images, reached vs not).

    The unit is the candidate image, as the membership attacks' is. Under "the model never saw the members"
    and a split drawn at random, which candidates the samples reach does not depend on which of them are
    members, however the samples were made (independent, collapsed onto a few images, repeated): the number
    of members among the reached candidates is then hypergeometric, which is exactly Fisher's null, so the
    false-alarm rate is at most the level. A sampler that copies members reaches members, not held-out images.
    """
    if n_members == 0 or n_holdout == 0:
        return float("nan")
    table = [[members_reached, n_members - members_reached], [holdout_reached, n_holdout - holdout_reached]]
    return float(sps.fisher_exact(table, alternative="greater").pvalue)
