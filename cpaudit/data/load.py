"""Resolve a DATA argument to an ImageSet: 'digits', an .npz, a CIFAR-10 batches folder or an image folder."""

from __future__ import annotations

from pathlib import Path

from cpaudit.data.captioned_digits import NAME as CAPTIONED_DIGITS
from cpaudit.data.captioned_digits import load_captioned_digits
from cpaudit.data.cifar10 import is_cifar10_folder, load_cifar10
from cpaudit.data.digits import load_digits_set
from cpaudit.data.folder import load_folder, load_listing
from cpaudit.data.imageset import ImageSet
from cpaudit.data.npz import load_npz
from cpaudit.errors import InputError


def parse_resize(text: str | None) -> tuple[int, int] | None:
    """'HxW' -> (H, W)."""
    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError("--resize", f"expected HxW such as 32x32, got {text!r}") from None
    if not (4 <= h <= 4096 and 4 <= w <= 4096):
        raise InputError("--resize", f"sides must be in [4, 4096], got {text!r}")
    return h, w


def load_data(data: str | Path, *, resize: tuple[int, int] | None = None, skip_bad: bool = False) -> ImageSet:
    if str(data) == "digits":
        return load_digits_set()
    if str(data) == CAPTIONED_DIGITS:
        return load_captioned_digits()
    path = Path(data)
    if not path.exists():
        raise InputError(
            path,
            "no such file or folder (data is 'digits', 'captioned-digits', an image folder, an .npz, a metadata.jsonl "
            "listing or a CIFAR-10 batches folder)",
        )
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return load_npz(path)
        if path.suffix.lower() == ".jsonl":
            return load_listing(path, resize=resize)
        raise InputError(path, "unsupported data file (expected an image folder, an .npz or a metadata.jsonl listing)")
    if is_cifar10_folder(path):
        return load_cifar10(path)
    return load_folder(path, resize=resize, skip_bad=skip_bad)
