"""A folder of images in any format PIL reads (PNG, JPEG, WebP, BMP, TIFF, ...), searched recursively; ids are
paths relative to the folder. Other files are counted and named in one warning, never skipped silently."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from cpaudit.data.captions import folder_captions, read_metadata_jsonl, subfolder_labels
from cpaudit.data.channels import reconcile_channels
from cpaudit.data.imageset import ImageSet
from cpaudit.data.limits import MAX_PIXELS, MAX_SIDE, MIN_SIDE
from cpaudit.errors import InputError

# Every extension PIL registers for a format it can open (Image.registered_extensions after Image.init()), but
# EPS (PIL runs Ghostscript on it) and the stub formats PIL names but cannot decode without a plugin.
Image.init()
UNREAD_FORMATS = {"EPS", "BUFR", "GRIB", "HDF5", "WMF", "MPEG"}
IMAGE_SUFFIXES = {
    ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN and fmt not in UNREAD_FORMATS
}
NOT_IMAGES = {"metadata.jsonl", "split.json"}  # files an image folder may hold beside its images


def _read_image(path: Path, resize: tuple[int, int] | None) -> np.ndarray:
    """Decode one file to uint8 (H, W) or (H, W, 3); raise InputError naming the file."""
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes), not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if min(w, h) < MIN_SIDE or max(w, h) > MAX_SIDE or w * h > MAX_PIXELS:
                    raise InputError(path, f"image is {w}x{h} pixels; sides must be in [{MIN_SIDE}, {MAX_SIDE}]")
                im.load()
                gray = im.mode in ("1", "L", "LA", "I", "I;16", "F")
                pixels = im.convert("L" if gray else "RGB")
                if resize is not None:
                    pixels = pixels.resize((resize[1], resize[0]), Image.Resampling.BICUBIC)
                return np.asarray(pixels, dtype=np.uint8)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            path, f"image too large (over {MAX_PIXELS:,} pixels; sides must be in [{MIN_SIDE}, {MAX_SIDE}])"
        ) from None
    except (OSError, ValueError, SyntaxError) as e:
        raise InputError(
            path, f"cannot decode image ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})"
        ) from None


def load_folder(folder: Path, *, resize: tuple[int, int] | None = None, skip_bad: bool = False) -> ImageSet:
    if not folder.is_dir():
        raise InputError(folder, "not a folder")
    every = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    files = sorted(p for p in every if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(
            folder, "no images found (searched recursively for every format PIL reads: .png, .jpg, .webp, ...)"
        )
    others = sorted(
        p.relative_to(folder).as_posix()
        for p in every
        if p.suffix.lower() not in IMAGE_SUFFIXES and p.name not in NOT_IMAGES
    )
    if others:
        warnings.warn(f"{folder}: skipped {len(others)} file(s) that are not images, e.g. {others[0]}", stacklevel=2)
    data = load_files(folder, files, resize=resize, skip_bad=skip_bad)
    labels = subfolder_labels(data.ids)
    data.captions = folder_captions(folder, data.ids)
    if labels is not None:
        data.labels, data.class_names = labels
    return data


def load_listing(listing: Path, *, resize: tuple[int, int] | None = None) -> ImageSet:
    """The images a metadata.jsonl names (`file_name` relative to its folder), with their captions: a member
    or held-out list kept as a listing rather than a folder of its own."""
    try:
        by_name = read_metadata_jsonl(listing)
    except UnicodeDecodeError:
        raise InputError(listing, "is not UTF-8 text") from None
    if not by_name:
        raise InputError(listing, "lists no images")
    root = listing.parent
    missing = [name for name in by_name if not (root / name).is_file()]
    if missing:
        raise InputError(listing, f"names {len(missing)} file(s) that do not exist beside it, e.g. {missing[0]!r}")
    data = load_files(root, [root / name for name in by_name], resize=resize, skip_bad=False, source=str(listing))
    data.captions = [by_name[i] for i in data.ids]
    return data


def load_files(
    root: Path, files: list[Path], *, resize: tuple[int, int] | None, skip_bad: bool, source: str | None = None
) -> ImageSet:
    """Decode `files` (ids: paths relative to `root`) to one ImageSet of one size and one channel count."""
    arrays, ids, skipped, kept = [], [], [], []
    for p in files:
        try:
            arrays.append(_read_image(p, resize))
            ids.append(p.relative_to(root).as_posix())
            kept.append(p)
        except InputError as e:
            if not skip_bad:
                raise
            skipped.append(str(e))
    for msg in skipped:
        warnings.warn(f"skipped {msg}", stacklevel=2)
    if not arrays:
        raise InputError(root, "no readable images left after skipping bad files")
    shapes = {a.shape[:2] for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape[:2]
        odd = next(i for i, a in enumerate(arrays) if a.shape[:2] != first)
        raise InputError(
            root / ids[odd],
            f"is {arrays[odd].shape[0]}x{arrays[odd].shape[1]} but {ids[0]} is {first[0]}x{first[1]}; "
            f"images differ in size: pass --resize HxW (e.g. --resize {first[0]}x{first[1]})",
        )
    return ImageSet(_one_mode(arrays, source or str(root)), ids, source or str(root), files=kept)


def _one_mode(arrays: list[np.ndarray], where: str) -> np.ndarray:
    """Grey (H, W) and colour (H, W, 3) images as one uint8 (N, H, W, C) stack by channels.reconcile_channels'
    rule, the conversion (if any) said in one line naming the folder."""
    done = reconcile_channels([a[..., None] if a.ndim == 2 else a for a in arrays])
    if done.message is not None:
        warnings.warn(f"{where}: {done.message}", stacklevel=3)
    return np.stack(done.groups)
