"""An .npz holding uint8 `images` shaped (N, H, W) or (N, H, W, C); optional string `ids`, string
`captions` (text-to-image) and integer `labels` (class-conditional), one per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cpaudit.data.imageset import ImageSet
from cpaudit.data.limits import MAX_SIDE, MIN_SIDE
from cpaudit.errors import InputError


def load_npz(path: Path) -> ImageSet:
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as f:  # never unpickle user files
            if "images" not in f.files:
                raise InputError(path, f"has no 'images' array (found: {', '.join(f.files) or 'nothing'})")
            images = f["images"]
            ids = f["ids"] if "ids" in f.files else None
            captions = f["captions"] if "captions" in f.files else None
            labels = f["labels"] if "labels" in f.files else None
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - numpy's parser raises many types on hostile bytes
        first = str(e).splitlines()[0] if str(e) else "corrupt"
        raise InputError(path, f"cannot read .npz ({type(e).__name__}: {first})") from None
    if not isinstance(images, np.ndarray) or (ids is not None and not isinstance(ids, np.ndarray)):
        raise InputError(path, "'images' (or 'ids') is not a valid .npy array inside the archive")
    if images.dtype != np.uint8:
        raise InputError(path, f"'images' must be uint8 (0..255), got {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InputError(path, f"'images' must be (N,H,W) or (N,H,W,C) with C in 1 or 3, got shape {images.shape}")
    n, h, w, _ = images.shape
    if n == 0:
        raise InputError(path, "'images' is empty")
    if min(h, w) < MIN_SIDE or max(h, w) > MAX_SIDE:
        raise InputError(path, f"images are {h}x{w}; sides must be in [{MIN_SIDE}, {MAX_SIDE}]")
    if ids is None:
        id_list = [f"{i:06d}" for i in range(n)]
    else:
        if ids.shape != (n,) or ids.dtype.kind not in "US":
            raise InputError(path, f"'ids' must be {n} strings, got dtype {ids.dtype} shape {ids.shape}")
        id_list = [str(i) for i in ids]
        if len(set(id_list)) != n:
            raise InputError(path, "'ids' are not unique")
    if captions is not None and (
        not isinstance(captions, np.ndarray) or captions.shape != (n,) or captions.dtype.kind not in "US"
    ):
        raise InputError(path, f"'captions' must be {n} strings, one per image")
    if labels is not None and (
        not isinstance(labels, np.ndarray)
        or labels.shape != (n,)
        or labels.dtype.kind not in "iu"
        or (n and labels.min() < 0)
    ):
        raise InputError(path, f"'labels' must be {n} non-negative integers, one per image")
    return ImageSet(
        np.ascontiguousarray(images),
        id_list,
        str(path),
        captions=None if captions is None else [str(c) for c in captions],
        labels=None if labels is None else labels.astype(np.int64),
    )
