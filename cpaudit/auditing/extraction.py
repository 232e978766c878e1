"""Prompted extraction (threat model `samples`; the attacker knows the captions): does prompting the released
sampler with a training caption reproduce that caption's image? (Carlini et al., "Extracting Training Data
from Diffusion Models", USENIX Security 2023, Sec. 4; Somepalli et al., CVPR 2023.)

The unit is the caption, not the image: real caption sets repeat (LAION's do), and samples prompted with one
text cannot tell which of its images they came from. A distinct caption text is one unit with all its images
(caption_units): a member unit where it occurs only on members, a held-out unit (the base rate: the model
never saw its images) where it occurs only on held-out images; a caption on both sides is neither, and is
counted and left out of the test. Per unit and its k samples:
- best_own: the highest similarity of its samples to any of the unit's own images;
- replicas: how many of its samples reach the replica threshold against any of those images;
- agreement: Carlini's black-box signal, needing no training image: memorised prompts collapse to one image,
  so the mean similarity between the caption's samples is high (their clique test, continuous here).
Without repeats every unit is one image and these are the per-image figures. Pure arrays in, arrays out.
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


@dataclass
class CaptionUnits:
    """One side's units: each distinct caption (in order of first occurrence) and its images' positions."""

    captions: list[str]
    images: list[np.ndarray]  # per unit, positions in the side's caption list (ascending)

    def keep(self, wanted: set[str]) -> CaptionUnits:
        """The units whose caption is in `wanted` (e.g. the prompted ones)."""
        kept = [i for i, c in enumerate(self.captions) if c in wanted]
        return CaptionUnits([self.captions[i] for i in kept], [self.images[i] for i in kept])

    def positions(self) -> np.ndarray:
        """Every image of every unit, ascending: the rows the side's image arrays are taken at."""
        return np.sort(np.concatenate(self.images)) if self.images else np.zeros(0, dtype=np.int64)

    def reindexed(self) -> CaptionUnits:
        """The same units with image positions into positions() (the taken rows) instead of the side's list."""
        at = self.positions()
        return CaptionUnits(list(self.captions), [np.searchsorted(at, im) for im in self.images])


def caption_units(member_captions: list[str], holdout_captions: list[str]) -> tuple[CaptionUnits, CaptionUnits, dict]:
    """(member units, held-out units, shared): a caption on both sides is neither a member nor a non-member of
    the model's training captions, so it belongs to no unit; `shared` counts those captions and their images."""
    on_both = set(member_captions) & set(holdout_captions)

    def units(captions: list[str]) -> CaptionUnits:
        rows: dict[str, list[int]] = {}
        for i, c in enumerate(captions):
            if c not in on_both:
                rows.setdefault(c, []).append(i)
        return CaptionUnits(list(rows), [np.asarray(r, dtype=np.int64) for r in rows.values()])

    shared = {
        "captions": len(on_both),
        "member_images": sum(c in on_both for c in member_captions),
        "holdout_images": sum(c in on_both for c in holdout_captions),
    }
    return units(member_captions), units(holdout_captions), shared


def unit_means(scores: np.ndarray, images: list[np.ndarray]) -> np.ndarray:
    """(K, U) per-unit scores from (K, N) per-image ones: the mean over each unit's images. The mean, not the
    maximum, so that a unit's score does not grow with its number of images (a held-out caption with many
    images would otherwise look more member-like by chance). Without repeats, the scores themselves."""
    if all(len(im) == 1 for im in images) and len(images) == scores.shape[1]:
        return scores[:, np.concatenate(images)] if images else scores
    return np.stack([scores[:, im].mean(1) for im in images], axis=1)


def sample_groups(sample_prompts: tuple[str, ...], captions: list[str]) -> list[np.ndarray]:
    """For each caption, the rows of the samples prompted with it (exact text), in sample order."""
    rows: dict[str, list[int]] = {}
    for i, p in enumerate(sample_prompts):
        rows.setdefault(p, []).append(i)
    return [np.asarray(rows.get(c, []), dtype=np.int64) for c in captions]


def caption_scores(
    sample_emb: np.ndarray,
    groups: list[np.ndarray],
    own_emb: np.ndarray,
    threshold: float,
    per_caption: int | None = None,
    refused: np.ndarray | None = None,
    own_rows: list[np.ndarray] | None = None,
) -> CaptionScores:
    """Scores of C captions from L2-normalised embeddings: samples (N, D), own images (I, D), each caption's
    samples' rows (the first `per_caption` of them, where given) and its own images' rows in own_emb
    (`own_rows`; default: row c is caption c's one image); `refused`: prompts refused per caption."""
    own_rows = [np.asarray([c]) for c in range(len(groups))] if own_rows is None else own_rows
    best, reps, agree, n = [], [], [], []
    for g, rows in zip(groups, own_rows):
        g = g[:per_caption] if per_caption is not None else g
        own = own_emb[np.asarray(rows, dtype=np.int64)]
        b, r, a = _one_caption(sample_emb[g], own, threshold) if len(g) else (NO_IMAGE, 0, NO_IMAGE)  # all refused
        best.append(b)
        reps.append(r)
        agree.append(a)
        n.append(len(g))
    refused = np.zeros(len(groups), dtype=np.int64) if refused is None else np.asarray(refused, dtype=np.int64)
    return CaptionScores(np.asarray(best), np.asarray(reps), np.asarray(agree), np.asarray(n), refused)


def own_similarity(e: np.ndarray, own: np.ndarray) -> np.ndarray:
    """(k,) each sample's best similarity to any of the unit's own images (I, D); one vector product per image,
    so a one-image unit's figures are exactly the per-image ones."""
    return np.max(np.stack([e @ o for o in own]), axis=0)


def _one_caption(e: np.ndarray, own: np.ndarray, threshold: float) -> tuple[float, int, float]:
    """(best similarity to its own images, samples replicating one of them, mean similarity between its k samples)."""
    sim = own_similarity(e, own)
    pair = e @ e.T
    k = len(e)
    agreement = 1.0 if k == 1 else float((pair.sum() - np.trace(pair)) / (k * (k - 1)))
    return float(sim.max()), int((sim >= threshold).sum()), agreement


def replica_excess(member_replicas: np.ndarray, holdout_replicas: np.ndarray) -> dict:
    """Captions (units) with at least one replica, members' against held-out captions' (the base rate), with Wilson
    intervals and the one-sided Fisher exact p that members' captions are extracted more often."""
    k_m, n_m = int((member_replicas > 0).sum()), len(member_replicas)
    k_h, n_h = int((holdout_replicas > 0).sum()), len(holdout_replicas)
    p = float(fisher_exact([[k_m, n_m - k_m], [k_h, n_h - k_h]], alternative="greater")[1])
    return {
        "member_captions_extracted": k_m,
        "n_member_captions": n_m,
        "rate": k_m / n_m,
        "rate_ci95": list(wilson_interval(k_m, n_m)),
        "holdout_captions_extracted": k_h,
        "n_holdout_captions": n_h,
        "holdout_rate": k_h / n_h,
        "holdout_rate_ci95": list(wilson_interval(k_h, n_h)),
        "fisher_p": p,
        "test": "one-sided Fisher exact test: member captions extracted more often than held-out captions",
    }


def codec_floor(own_emb: np.ndarray, reconstructed_emb: np.ndarray, threshold: float) -> dict:
    """How close a decoded image can come to each own image: the similarity of its autoencoder reconstruction.
    A sample decoded by the same autoencoder cannot, in general, beat it; where it falls below the threshold,
    no replica of that image can be counted."""
    r = (own_emb * reconstructed_emb).sum(1)
    return {
        "median": float(np.median(r)),
        "min": float(r.min()),
        "n": int(len(r)),
        "below_threshold": int((r < threshold).sum()),
        "threshold": threshold,
    }
