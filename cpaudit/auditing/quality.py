"""Sample quality on a named embedding: FID (Heusel et al. 2017) and KID (Binkowski et al. 2018)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to rows of a and b.

    NaN when either side has fewer than 2 rows: no covariance to fit (the report says so)."""
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((S_a S_b)^(1/2)) is the sum of square roots of the eigenvalues of S_a S_b, which are real and
    # >= 0 for PSD S_a, S_b; this avoids sqrtm's trouble with singular covariances (blank image borders).
    eig = np.linalg.eigvals(s_a @ s_b).real.clip(min=0)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.sqrt(eig).sum())


def kernel_inception_distance(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, *, subsets: int = 50, subset_size: int = 1000
) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over subsets."""
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    if m < 2:
        return float("nan")  # the unbiased estimate needs two rows a side
    total = 0.0
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        total += (
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        )
    return float(total / subsets)


POOLED_SIZE = 8  # the side of the pooled images of the tables' "pixel FID"


def pooled_pixels(images: torch.Tensor, size: int = POOLED_SIZE) -> np.ndarray:
    """(N, C*size*size) float64: images average-pooled to size x size, the pixel features of a "pixel FID" on
    small images (fewer dimensions than images, so the covariance is not singular)."""
    return F.adaptive_avg_pool2d(images.float(), size).flatten(1).double().numpy()
