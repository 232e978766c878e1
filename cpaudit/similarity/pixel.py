"""The pixel embedding: Pearson correlation between images as an inner product (shared/design.md)."""

from __future__ import annotations

import numpy as np
import torch

# The replica threshold on the pixel embedding: Pearson 0.97 on small images (shared/design.md). Every default
# that means "a replica" on pixels reads it (the audit's, rejection's, tune's and the text demo's).
PIXEL_REPLICA_THRESHOLD = 0.97


def pixel_embedding(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Flatten, subtract each image's own mean, divide by its L2 norm. (N, ...) -> float32 (N, D).

    The inner product of two rows is their Pearson correlation. A constant image has no direction;
    it maps to the zero vector (similarity 0 to everything) instead of NaN.
    """
    x = images.detach().cpu().double().numpy() if isinstance(images, torch.Tensor) else np.asarray(images, np.float64)
    x = x.reshape(x.shape[0], -1)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-12).astype(np.float32)
