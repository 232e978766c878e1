"""Reference embeddings streamed to a memory-mapped .npy, batch by batch.

An audit against a large training set never holds all member embeddings in memory: each batch is embedded,
L2-normalised and written to disk; the nearest-neighbour search then reads the file in blocks
(neighbours.py). The file is written under a temporary name and renamed, so a half-written store is never read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from cpaudit.auditing.features import FeatureSpec, batch_embedder
from cpaudit.data.imageset import ImageRows
from cpaudit.io_utils import atomic_path


def stream_embeddings(
    images: torch.Tensor | ImageRows,
    spec: FeatureSpec,
    path: Path,
    *,
    batch_size: int = 4096,
    on_batch: Callable[[], None] | None = None,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Unit-norm embeddings of `images` written to `path`; returns them memory-mapped read-only.

    `images`: float (N, C, H, W), or rows of an ImageSet, which are converted to float a batch at a time.
    """
    fn = batch_embedder(spec, device)
    n = len(images)
    batch = images.batch if isinstance(images, ImageRows) else (lambda a, b: images[a:b])
    with atomic_path(path) as tmp:
        store = None
        for start in range(0, n, batch_size):
            unit = fn(batch(start, start + batch_size))
            if spec.kind != "pixel":  # the pixel embedding is unit-norm already
                norm = np.linalg.norm(unit, axis=1, keepdims=True)
                unit = np.divide(unit, norm, out=np.zeros_like(unit), where=norm > 0)
            if store is None:
                store = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, unit.shape[1]))
            store[start : start + len(unit)] = unit
            if on_batch is not None:
                on_batch()
        if store is None:
            raise ValueError("no images to embed")
        store.flush()
        del store
    return np.load(path, mmap_mode="r")
