"""The figures a defence is compared on, from its samples alone (threat model `samples`), and the choice of
settings on the privacy/quality frontier.

Every defence (sampling-time guidance, rejection, DP-SGD training) is judged on what its published samples
give away, so one function scores them all alike: replicas against the held-out base rate, the sample-only
attack (auditing/attacks/sample_only.py) with its interval, chance band and epsilon lower bound, pixel
FID against the whole held-out set, and precision, recall and authenticity on the same raw pixels
(auditing/fidelity.py: Kynkaanniemi et al. 2019; Alaa et al. 2022): FID alone cannot say whether a defence
lost fidelity (precision), variety (recall) or only the members' copies (authenticity).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cpaudit.auditing.attacks.base import AttackContext, summarise
from cpaudit.auditing.attacks.sample_only import SampleOnlyAttack
from cpaudit.auditing.fidelity import fidelity_figures
from cpaudit.auditing.quality import frechet_distance
from cpaudit.auditing.replication import replication
from cpaudit.similarity.pixel import pixel_embedding


@dataclass(frozen=True)
class Reference:
    """Members and held-out images, embedded once for every point of a sweep."""

    member_emb: np.ndarray  # (M, D) unit rows (pixel embedding)
    holdout_emb: np.ndarray  # (H, D)
    holdout_features: np.ndarray  # (H, D') raw pixels, FID's reference: the whole held-out set
    threshold: float  # replica threshold on the embedding
    member_features: np.ndarray  # (M, D') raw pixels: authenticity is judged against the members

    @classmethod
    def of(cls, members: torch.Tensor, holdout: torch.Tensor, threshold: float) -> Reference:
        return cls(
            pixel_embedding(members),
            pixel_embedding(holdout),
            holdout.flatten(1).double().numpy(),
            threshold,
            members.flatten(1).double().numpy(),
        )


def evaluate_samples(images: torch.Tensor, ref: Reference, rng: np.random.Generator, n_null: int = 200) -> dict:
    """Samples-threat-model figures of one set of samples (N, C, H, W) in [-1, 1].

    The sample-only attack scores every member against every held-out image (more negatives than the
    audit's equal-size draw: a tighter AUC at the same members).
    """
    emb = pixel_embedding(images)
    features = images.flatten(1).double().numpy()
    rep = replication(emb, ref.member_emb, ref.holdout_emb, threshold=ref.threshold, k=1, method="exact").summary(
        "pixel"
    )
    ctx = AttackContext(
        seed=0, sample_emb=emb, member_emb=ref.member_emb, holdout_emb=ref.holdout_emb, threshold=ref.threshold
    )
    attack, _ = summarise("sample_only", SampleOnlyAttack.title, "samples", SampleOnlyAttack().scores(ctx), rng, n_null)
    return {
        "n_samples": rep["n_samples"],
        "replicas": rep["replicas"],
        "replica_rate": rep["replica_rate"],
        "replica_rate_ci95": rep["replica_rate_ci95"],
        "holdout_replica_rate": rep["holdout_replica_rate"],
        "replica_excess_p": rep["replica_excess_p"],
        # The replica gate's figure (members reached vs held-out images reached), which budgets read.
        "members_reached": rep["members_reached"],
        "holdout_reached": rep["holdout_reached"],
        "reach_excess_p": rep["reach_excess_p"],
        "median_nearest_member_similarity": rep["median_nearest_member_similarity"],
        "sample_only_auc": attack["auc"],
        "sample_only_auc_ci95": attack["auc_ci95"],
        "sample_only_chance_band95": attack["chance_band95"],
        "epsilon_lb": attack["epsilon_lb"],
        "tpr_at_fpr": attack["tpr_at_fpr"],
        # Leakage grows with what is published: the nearest-sample AUC on the first 64, 256, ... samples.
        "sample_only_auc_by_n": attack["by_n_samples"],
        "fid": frechet_distance(features, ref.holdout_features),
        "fid_reference": int(len(ref.holdout_features)),
        # Precision and recall against the held-out images, authenticity against the members, on FID's features.
        "fidelity": fidelity_figures(features, ref.holdout_features, ref.member_features),
    }


def pareto_front(fid: Sequence[float], leak: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats on both FID and leakage (lower is better for both),
    in order of FID. Ties keep the first."""
    order = sorted(range(len(fid)), key=lambda i: (fid[i], leak[i], i))
    front, best = [], float("inf")
    for i in order:
        if leak[i] < best:
            front.append(i)
            best = leak[i]
    return front


def spread(indices: list[int], k: int) -> list[int]:
    """At most k of the indices (kept in order), evenly spaced, always with the first and the last."""
    if len(indices) <= k:
        return list(indices)
    picks = np.unique(np.round(np.linspace(0, len(indices) - 1, k)).astype(int))
    return [indices[p] for p in picks]


def within_budget(point: dict, fid_limit: float, excess_level: float) -> bool:
    """FID at most the limit, and replicas not significantly above the held-out base rate."""
    return point["fid"] <= fid_limit and copy_excess_p(point) >= excess_level


def copy_excess_p(point: dict) -> float:
    """The replica gate's p-value (reach_excess_p); points recorded before it have only the per-sample test."""
    return point.get("reach_excess_p", point["replica_excess_p"])


def best_within_budget(points: Sequence[dict], fid_limit: float, excess_level: float = 0.05) -> int | None:
    """Index of the lowest sample-only AUC (ties: lower FID) among points within the budget; None if none is."""
    ok = [i for i, p in enumerate(points) if within_budget(p, fid_limit, excess_level)]
    return min(ok, key=lambda i: (points[i]["sample_only_auc"], points[i]["fid"])) if ok else None
