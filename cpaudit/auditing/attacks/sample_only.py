"""Membership inference from the samples alone (threat model `samples`): no model, no classifier.

A candidate image the model trained on tends to have a generated sample close to it. Score of a candidate
x = its similarity to the nearest generated sample on the audit's embedding, as in GAN-Leaks' full black-box
attack (Chen et al., CCS 2020, Sec. 5.1: min over samples of the distance to x) and the Monte Carlo
set-membership attack of Hilprecht et al. (PETS 2019), which counts samples within a distance of x:
  nearest  = max_i s(x, g_i)
  mean-k   = mean of the k largest s(x, g_i)
  count    = #{i : s(x, g_i) >= replica threshold}
Leakage grows with what is published, so the nearest-sample AUC is also reported for the first n samples
(in seed order) at n = 64, 256, 1024, ... up to all of them.
"""

from __future__ import annotations

import numpy as np

from cpaudit.auditing.attacks.base import AttackContext, AttackScores, AttackTarget, Denoiser
from cpaudit.core.attack_stats import auc, delong_variance, normal_interval

K_NEAREST = 5
SUBSET_SIZES = (64, 256, 1024, 4096, 16384, 65536)
BLOCK = 1024  # samples per block of the similarity matrix


def nearest_sample_scores(
    candidates: np.ndarray, samples: np.ndarray, threshold: float, k: int = K_NEAREST, checkpoints: tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """(nearest, mean of k nearest, count >= threshold, {n: nearest among the first n samples}) per candidate.

    candidates: (Q, D), samples: (N, D), both L2-normalised. Blocks of samples, so memory is Q x BLOCK.
    """
    n = len(samples)
    k = min(k, n)
    edges = sorted({*(c for c in checkpoints if 0 < c < n), *range(BLOCK, n, BLOCK), n})
    best = np.full(len(candidates), -np.inf, dtype=np.float32)
    topk = np.full((len(candidates), k), -np.inf, dtype=np.float32)
    count = np.zeros(len(candidates), dtype=np.int64)
    at: dict[int, np.ndarray] = {}
    start = 0
    q = np.ascontiguousarray(candidates, dtype=np.float32)
    for stop in edges:
        sims = q @ np.ascontiguousarray(samples[start:stop], dtype=np.float32).T
        best = np.maximum(best, sims.max(axis=1))
        both = np.concatenate([topk, sims], axis=1)
        topk = -np.partition(-both, k - 1, axis=1)[:, :k]
        count += (sims >= threshold).sum(axis=1)
        if stop in checkpoints:
            at[stop] = best.copy()
        start = stop
    return best, topk.mean(axis=1), count, at


class SampleOnlyAttack:
    name = "sample_only"
    title = "sample-only attack (nearest generated sample)"
    target: AttackTarget = "samples"

    def scores(self, ctx: AttackContext, denoiser: Denoiser | None = None) -> AttackScores:
        ctx.step("sample-only attack")
        n = len(ctx.sample_emb)
        sizes = tuple(s for s in SUBSET_SIZES if s < n) + (n,)
        m = len(ctx.member_emb)
        cand = np.concatenate([ctx.member_emb, ctx.holdout_emb])
        near, mean_k, count, at = nearest_sample_scores(cand, ctx.sample_emb, ctx.threshold, checkpoints=sizes)
        by_n = []
        for size in sizes:  # one pre-specified score, no selection: plain AUC with DeLong's interval
            pos, neg = at[size][:m], at[size][m:]
            a = auc(pos, neg)
            by_n.append(
                {"n_samples": int(size), "auc": a, "auc_ci95": list(normal_interval(a, delong_variance(pos, neg)))}
            )
        h = len(cand) - m
        # Chance band of a fixed score's AUC with m vs h images (Mann-Whitney null variance).
        band = normal_interval(0.5, (m + h + 1) / (12 * m * h))
        variants = ["nearest", f"mean of {min(K_NEAREST, n)} nearest", f"count >= {ctx.threshold:g}"]
        scores = np.stack([near, mean_k, count.astype(np.float64)])
        return AttackScores(
            variants,
            scores[:, :m],
            scores[:, m:],
            0,
            {
                "by_n_samples": by_n,
                "by_n_samples_chance_band95": list(band),
                "members_with_a_replica": int((count[:m] > 0).sum()),
                "holdout_with_a_replica": int((count[m:] > 0).sum()),
            },
        )
