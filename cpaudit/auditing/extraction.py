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


@dataclass
class CaptionScores:
    best_own: np.ndarray  # (C,)
    replicas: np.ndarray  # (C,) int
    agreement: np.ndarray  # (C,); NaN-free: a caption with one sample agrees with itself at 1
    n_samples: np.ndarray  # (C,) samples per caption

    def stacked(self) -> np.ndarray:
        """(3, C) the variants in VARIANTS' order, higher = more extracted."""
        return np.stack([self.best_own, self.replicas.astype(np.float64), self.agreement])


def sample_groups(sample_prompts: tuple[str, ...], captions: list[str]) -> list[np.ndarray]:
    """For each caption, the rows of the samples prompted with it (exact text), in sample order."""
    rows: dict[str, list[int]] = {}
    for i, p in enumerate(sample_prompts):
        rows.setdefault(p, []).append(i)
    return [np.asarray(rows.get(c, []), dtype=np.int64) for c in captions]


def caption_scores(sample_emb: np.ndarray, groups: list[np.ndarray], own_emb: np.ndarray, threshold: float,
                   per_caption: int | None = None) -> CaptionScores:
    """Scores of C captions from L2-normalised embeddings: samples (N, D), each caption's own image (C, D), and
    its samples' rows (the first `per_caption` of them, where given). Every caption needs a sample."""
    best, reps, agree, n = [], [], [], []
    for g, own in zip(groups, own_emb):
        g = g[:per_caption] if per_caption is not None else g
        if len(g) == 0:
            raise ValueError("a caption without samples has no extraction score")
        e = sample_emb[g]
        sim = e @ own
        best.append(float(sim.max()))
        reps.append(int((sim >= threshold).sum()))
        pair = e @ e.T
        k = len(g)
        agree.append(1.0 if k == 1 else float((pair.sum() - np.trace(pair)) / (k * (k - 1))))
        n.append(k)
    return CaptionScores(np.asarray(best), np.asarray(reps), np.asarray(agree), np.asarray(n))


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
