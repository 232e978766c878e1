"""Prompted extraction (threat model `samples`; the attacker knows the captions): does prompting the released
sampler with a training caption reproduce that caption's image? (Carlini et al., "Extracting Training Data
from Diffusion Models", USENIX Security 2023, Sec. 4; Somepalli et al., CVPR 2023.)

Per candidate caption (members' captions and, as the base rate, held-out images' captions, which the model
never saw with their images) and its k samples:
- best_own: the highest similarity of its samples to the caption's own image;
- replicas: how many of its samples reach the replica threshold against that image;
- agreement: Carlini's black-box signal, needing no training image: memorised prompts collapse to one image,
  so the mean similarity between the caption's samples is high (their clique test, continuous here).
Pure arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import fisher_exact

from cpaudit.core.stats import wilson_interval

VARIANTS = ("best similarity to its own image", "replicas of its own image", "agreement between its samples")
# A sampler that refuses prompts (rejection of replicas) leaks through the refusal itself: refusals are
# scored as a variant of their own, and a caption with no image scores as extracting nothing.
REFUSED_VARIANT = "prompts refused"
NO_IMAGE = -1.0  # the lowest similarity: nothing was extracted


@dataclass
class CaptionScores:
    best_own: np.ndarray  # (C,)
    replicas: np.ndarray  # (C,) int
    agreement: np.ndarray  # (C,); NaN-free: a caption with one sample agrees with itself at 1
    n_samples: np.ndarray  # (C,) samples per caption
    refused: np.ndarray  # (C,) prompts of the caption the sampler refused

    def stacked(self, with_refusals: bool = False) -> np.ndarray:
        """(3, C) the variants in VARIANTS' order, higher = more extracted; (4, C) with the refusals."""
        rows = [self.best_own, self.replicas.astype(np.float64), self.agreement]
        return np.stack(rows + [self.refused.astype(np.float64)] if with_refusals else rows)


def refusals(refused_prompts: list[str], captions: list[str]) -> np.ndarray:
    """(C,) how many of each caption's prompts the sampler refused."""
    counts: dict[str, int] = {}
    for p in refused_prompts:
        counts[p] = counts.get(p, 0) + 1
    return np.asarray([counts.get(c, 0) for c in captions], dtype=np.int64)


def sample_groups(sample_prompts: tuple[str, ...], captions: list[str]) -> list[np.ndarray]:
    """For each caption, the rows of the samples prompted with it (exact text), in sample order."""
    rows: dict[str, list[int]] = {}
    for i, p in enumerate(sample_prompts):
        rows.setdefault(p, []).append(i)
    return [np.asarray(rows.get(c, []), dtype=np.int64) for c in captions]


def caption_scores(sample_emb: np.ndarray, groups: list[np.ndarray], own_emb: np.ndarray, threshold: float,
                   per_caption: int | None = None, refused: np.ndarray | None = None) -> CaptionScores:
    """Scores of C captions from L2-normalised embeddings: samples (N, D), each caption's own image (C, D), and
    its samples' rows (the first `per_caption` of them, where given); `refused`: prompts refused per caption."""
    best, reps, agree, n = [], [], [], []
    for g, own in zip(groups, own_emb):
        g = g[:per_caption] if per_caption is not None else g
        b, r, a = _one_caption(sample_emb[g], own, threshold) if len(g) else (NO_IMAGE, 0, NO_IMAGE)  # all refused
        best.append(b)
        reps.append(r)
        agree.append(a)
        n.append(len(g))
    refused = np.zeros(len(groups), dtype=np.int64) if refused is None else np.asarray(refused, dtype=np.int64)
    return CaptionScores(np.asarray(best), np.asarray(reps), np.asarray(agree), np.asarray(n), refused)


def _one_caption(e: np.ndarray, own: np.ndarray, threshold: float) -> tuple[float, int, float]:
    """(best similarity to its own image, replicas of it, mean similarity between its k samples)."""
    sim = e @ own
    pair = e @ e.T
    k = len(e)
    agreement = 1.0 if k == 1 else float((pair.sum() - np.trace(pair)) / (k * (k - 1)))
    return float(sim.max()), int((sim >= threshold).sum()), agreement


def replica_excess(member_replicas: np.ndarray, holdout_replicas: np.ndarray) -> dict:
    """Captions with at least one replica, members' against held-out captions' (the base rate), with Wilson
    intervals and the one-sided Fisher exact p that members' captions are extracted more often."""
    k_m, n_m = int((member_replicas > 0).sum()), len(member_replicas)
    k_h, n_h = int((holdout_replicas > 0).sum()), len(holdout_replicas)
    p = float(fisher_exact([[k_m, n_m - k_m], [k_h, n_h - k_h]], alternative="greater")[1])
    return {"member_captions_extracted": k_m, "n_member_captions": n_m, "rate": k_m / n_m,
            "rate_ci95": list(wilson_interval(k_m, n_m)), "holdout_captions_extracted": k_h, "n_holdout_captions": n_h,
            "holdout_rate": k_h / n_h, "holdout_rate_ci95": list(wilson_interval(k_h, n_h)), "fisher_p": p,
            "test": "one-sided Fisher exact test: member captions extracted more often than held-out captions"}


def codec_floor(own_emb: np.ndarray, reconstructed_emb: np.ndarray, threshold: float) -> dict:
    """How close a decoded image can come to each own image: the similarity of its autoencoder reconstruction.
    A sample decoded by the same autoencoder cannot, in general, beat it; where it falls below the threshold,
    no replica of that image can be counted."""
    r = (own_emb * reconstructed_emb).sum(1)
    return {"median": float(np.median(r)), "min": float(r.min()), "n": int(len(r)),
            "below_threshold": int((r < threshold).sum()), "threshold": threshold}
