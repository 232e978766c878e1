"""Writing images and sample archives, atomically."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from cpaudit.io_utils import atomic_path, write_bytes


def png_bytes(image_u8: np.ndarray) -> bytes:
    """uint8 (H, W, 1) or (H, W, 3) -> PNG bytes."""
    arr = image_u8[..., 0] if image_u8.shape[-1] == 1 else image_u8
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def save_png(path: Path, image_u8: np.ndarray) -> None:
    write_bytes(path, png_bytes(image_u8))


def save_samples_npz(path: Path, images_u8: np.ndarray, seeds: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, images=images_u8, seeds=seeds.astype(np.int64))
