"""What the Python API accepts where the CLI takes a path: images already in memory, checked, so that a
wrong type is one line naming the argument rather than a TypeError deep inside."""

from __future__ import annotations

from pathlib import Path
from typing import TypeGuard

import numpy as np
import torch

from cpaudit.auditing.samples import SampleSet
from cpaudit.data.imageset import ImageSet, to_uint8, to_unit_range
from cpaudit.errors import InputError

ARRAY_FORMS = (
    "uint8 (N, H, W) or (N, H, W, C) arrays as images are stored, or float (N, C, H, W) in [-1, 1] as "
    "cpaudit's models make them"
)


def as_path(value: object, name: str) -> Path | None:
    if value is None or isinstance(value, Path):
        return value
    if isinstance(value, str):
        return Path(value)
    raise InputError(name, f"expected a path (str or pathlib.Path), got {type(value).__name__}")


def is_array(value: object) -> TypeGuard[np.ndarray | torch.Tensor]:
    return isinstance(value, (np.ndarray, torch.Tensor))


def as_image_set(value: object, name: str) -> ImageSet | str | Path:
    """An array or tensor of images as an ImageSet named `name`; a path or source name as it is."""
    if isinstance(value, (str, Path, ImageSet)):
        return value
    if not is_array(value):
        raise InputError(name, f"expected a path or images ({ARRAY_FORMS}), got {type(value).__name__}")
    pixels = _uint8_nhwc(value, name)
    # ids as an .npz without an `ids` array gets them, so the same images name the same members either way
    return ImageSet(pixels, [f"{i:06d}" for i in range(len(pixels))], f"{name} ({len(pixels)} images in memory)")


def as_samples(value: object, name: str = "samples") -> SampleSet | Path:
    """Samples as a folder path, or in memory: an array or tensor, or a SampleResult's images."""
    if isinstance(value, (str, Path)):
        return Path(value)
    if isinstance(value, SampleSet):
        return value
    images = getattr(value, "images", value)  # a SampleResult from cpaudit.sample(...)
    if not is_array(images):
        raise InputError(name, f"expected a samples folder or images ({ARRAY_FORMS}), got {type(value).__name__}")
    x = to_unit_range(_uint8_nhwc(images, name))
    return SampleSet(x, getattr(value, "run", None), Path(f"<{name}: {len(x)} images in memory>"))


def _uint8_nhwc(value: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    """uint8 (N, H, W, C): integers as stored, floats in [-1, 1] (N, C, H, W) rounded as `cpaudit sample` saves them."""
    a = value.detach().cpu() if isinstance(value, torch.Tensor) else value
    if a.dtype in (np.uint8, torch.uint8):
        a = np.asarray(a)
        if a.ndim == 3:
            a = a[..., None]
        if a.ndim != 4 or a.shape[3] not in (1, 3):
            raise InputError(name, f"uint8 images must be (N, H, W) or (N, H, W, C) with C 1 or 3, got shape {a.shape}")
        return a
    t = torch.as_tensor(np.asarray(a, dtype=np.float32))
    if t.ndim != 4 or t.shape[1] not in (1, 3):
        raise InputError(name, f"float images must be (N, C, H, W) with C 1 or 3, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all() or t.min() < -1.001 or t.max() > 1.001:
        raise InputError(
            name, "float images must be finite and in [-1, 1] (cpaudit's range; uint8 arrays are read as 0..255)"
        )
    return to_uint8(t)
