"""Replication search: each sample's nearest members, replica rate with a Wilson interval, and a
data-driven threshold from how close held-out images come to the members; and, for the replica gate, which
candidate images (members and held-out images) some sample reaches at the threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cpaudit.core.stats import reach_excess_p, replica_excess_p, wilson_interval
from cpaudit.similarity.neighbours import CHUNK_ROWS, Neighbours, SearchMethod, exact_nearest, nearest


@dataclass
class ReplicationResult:
    threshold: float
    data_threshold: float  # (1 - 1/n_holdout) quantile of held-out nearest-member similarity
    sample_sim: np.ndarray  # (N,) nearest-member similarity of each sample
    sample_nn: np.ndarray  # (N, k) member indices, nearest first
    sample_topk_sim: np.ndarray  # (N, k)
    holdout_sim: np.ndarray  # (H,) nearest-member similarity of each held-out image
    replicas: int
    replica_rate: float
    ci95: tuple[float, float]
    replicas_at_data_threshold: int
    search: dict  # how the neighbours were found (exact, or IVF with its measured recall)
    member_reach_sim: np.ndarray  # (M,) each member's similarity to its nearest sample
    holdout_reach_sim: np.ndarray  # (H,) each held-out image's similarity to its nearest sample

    def summary(self, features: str, candidates: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
        """results.json `nn`. `candidates`: boolean masks of the members and held-out images the replica gate
        compares (a text audit: those whose caption prompted samples), else all of them."""
        held, n_h = int((self.holdout_sim >= self.threshold).sum()), int(len(self.holdout_sim))
        return {
            "features": features,
            "threshold": self.threshold,
            "n_samples": int(len(self.sample_sim)),
            "replicas": self.replicas,
            "replica_rate": self.replica_rate,
            "replica_rate_ci95": list(self.ci95),
            "data_threshold": self.data_threshold,
            "replicas_at_data_threshold": self.replicas_at_data_threshold,
            "median_nearest_member_similarity": float(np.median(self.sample_sim)) if len(self.sample_sim) else None,
            "holdout_median_nearest_member_similarity": float(np.median(self.holdout_sim)),
            "holdout_over_threshold": held,
            "n_holdout": n_h,
            # The base rate: how often unseen images reach the threshold, and whether samples exceed it.
            "holdout_replica_rate": held / n_h if n_h else None,
            "holdout_replica_rate_ci95": list(wilson_interval(held, n_h)),
            "replica_excess_p": replica_excess_p(self.replicas, len(self.sample_sim), held, n_h),
            **self.reach(candidates),
            "search": self.search,
        }

    def reach(self, candidates: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
        """The replica gate's figures: members and held-out images that some sample reaches at the threshold."""
        m_sim, h_sim = self.member_reach_sim, self.holdout_reach_sim
        if candidates is not None:
            m_sim, h_sim = m_sim[candidates[0]], h_sim[candidates[1]]
        k_m, n_m = int((m_sim >= self.threshold).sum()), int(len(m_sim))
        k_h, n_h = int((h_sim >= self.threshold).sum()), int(len(h_sim))
        return {
            "reach_candidates": "all members and held-out images"
            if candidates is None
            else "the members and held-out images whose captions prompted samples",
            "members_reached": k_m,
            "n_members_reached_of": n_m,
            "members_reached_rate": k_m / n_m if n_m else None,
            "members_reached_rate_ci95": list(wilson_interval(k_m, n_m)),
            "holdout_reached": k_h,
            "n_holdout_reached_of": n_h,
            "holdout_reached_rate": k_h / n_h if n_h else None,
            "holdout_reached_rate_ci95": list(wilson_interval(k_h, n_h)),
            "reach_excess_p": reach_excess_p(k_m, n_m, k_h, n_h),
        }


def nearest_sample_similarity(candidates: np.ndarray, samples: np.ndarray, block_rows: int = CHUNK_ROWS) -> np.ndarray:
    """(Q,) each candidate's similarity to its nearest sample (exact; candidates may be memory-mapped: read in
    blocks). -inf where there are no samples."""
    if len(samples) == 0:
        return np.full(len(candidates), -np.inf, dtype=np.float32)
    out = np.empty(len(candidates), dtype=np.float32)
    for start in range(0, len(candidates), block_rows):
        block = np.ascontiguousarray(candidates[start : start + block_rows], dtype=np.float32)
        out[start : start + len(block)] = exact_nearest(block, samples, 1).similarity[:, 0]
    return out


def replication(
    samples: np.ndarray,
    members: np.ndarray,
    holdout: np.ndarray,
    *,
    threshold: float,
    k: int = 5,
    method: SearchMethod = "auto",
) -> ReplicationResult:
    """samples, members, holdout: L2-normalised embeddings (rows); members may be memory-mapped.

    Samples and held-out images are searched together, so an IVF index is built once."""
    nn = nearest(np.concatenate([samples, holdout]), members, k, method=method)
    n_s = samples.shape[0]
    nn_s = Neighbours(nn.similarity[:n_s], nn.index[:n_s])
    nn_h = Neighbours(nn.similarity[n_s:, :1], nn.index[n_s:, :1])
    s_sim = nn_s.similarity[:, 0]
    h_sim = nn_h.similarity[:, 0]
    q = 1 - 1 / len(h_sim)
    data_threshold = float(np.quantile(h_sim, q, method="higher"))
    replicas = int((s_sim >= threshold).sum())
    n = len(s_sim)
    return ReplicationResult(
        threshold=threshold,
        data_threshold=data_threshold,
        sample_sim=s_sim,
        sample_nn=nn_s.index,
        sample_topk_sim=nn_s.similarity,
        holdout_sim=h_sim,
        replicas=replicas,
        replica_rate=replicas / n if n else 0.0,
        ci95=wilson_interval(replicas, n),
        replicas_at_data_threshold=int((s_sim > data_threshold).sum()),
        search=nn.search,
        member_reach_sim=nearest_sample_similarity(members, samples),
        holdout_reach_sim=nearest_sample_similarity(holdout, samples),
    )
