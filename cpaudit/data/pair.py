"""Members and held-out images as a user keeps them: two sources (folders, .npz files, metadata.jsonl
listings), one ImageSet and the Split that says which rows are which. Membership is the user's word,
never guessed."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from cpaudit.data.imageset import GREY_SPREAD, ImageSet, colour_to_grey, grey_in_colour
from cpaudit.data.load import load_data
from cpaudit.data.split import Split
from cpaudit.errors import InputError

MEMBERS, HOLDOUT = "members", "holdout"  # id prefixes: the same file name may sit in both folders


def load_pair(
    members: str | Path | ImageSet, holdout: str | Path | ImageSet, *, resize: tuple[int, int] | None = None
) -> tuple[ImageSet, Split]:
    """Both sources (paths, or sets already in memory) as one ImageSet (ids 'members/<id>' and
    'holdout/<id>'), members first."""
    m = members if isinstance(members, ImageSet) else load_data(members, resize=resize)
    h = holdout if isinstance(holdout, ImageSet) else load_data(holdout, resize=resize)
    if m.pixels.shape[1:3] != h.pixels.shape[1:3]:
        (mh, mw), (hh, hw) = m.pixels.shape[1:3], h.pixels.shape[1:3]
        raise InputError(
            "--holdout",
            f"held-out images are {hh}x{hw} but members are {mh}x{mw}: pass --resize "
            f"{mh}x{mw} to bring both to one size",
        )
    pm, ph = _same_channels(m, h)
    data = ImageSet(
        np.concatenate([pm, ph]),
        [f"{MEMBERS}/{i}" for i in m.ids] + [f"{HOLDOUT}/{i}" for i in h.ids],
        f"{MEMBERS}={m.source} {HOLDOUT}={h.source}",
        captions=_joined(m.captions, h.captions, len(m), len(h)),
        labels=None if m.labels is None or h.labels is None else np.concatenate([m.labels, h.labels]),
        class_names=m.class_names if m.class_names == h.class_names else None,
        files=None if m.files is None or h.files is None else m.files + h.files,
    )
    sources = {MEMBERS: m.source, HOLDOUT: h.source, "resize": None if resize is None else list(resize)}
    return data, Split(None, np.arange(len(m)), np.arange(len(m), len(m) + len(h)), sources)


def _same_channels(m: ImageSet, h: ImageSet) -> tuple[np.ndarray, np.ndarray]:
    """Grey on one side and colour on the other: as within a folder (folder._one_mode), colour images that
    are grey in content (a grey PNG re-saved as WebP decodes as RGB) are read as grey, else grey becomes
    RGB; a warning says which in one line."""
    pm, ph = m.pixels, h.pixels
    if pm.shape[3] == ph.shape[3]:
        return pm, ph
    (grey, g_name), (colour, c_name) = (
        ((m, MEMBERS), (h, HOLDOUT)) if pm.shape[3] == 1 else ((h, HOLDOUT), (m, MEMBERS))
    )
    if grey_in_colour(colour.pixels):
        warnings.warn(
            f"read the {len(colour)} {c_name} image(s) of {colour.source} as grey: their three channels are "
            f"equal to within {GREY_SPREAD} levels, and the {g_name} images are grey",
            stacklevel=3,
        )
        return _grey(pm), _grey(ph)
    warnings.warn(
        f"converted the {len(grey)} grey {g_name} image(s) of {grey.source} to RGB to match the other side's "
        "colour images",
        stacklevel=3,
    )
    return _rgb(pm), _rgb(ph)


def _grey(pixels: np.ndarray) -> np.ndarray:
    return pixels if pixels.shape[3] == 1 else colour_to_grey(pixels)[..., None]


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels, 3, axis=3) if pixels.shape[3] == 1 else pixels


def _joined(a: list[str] | None, b: list[str] | None, na: int, nb: int) -> list[str] | None:
    """Captions of both sides, or None where neither has any; a side without them gets empty captions."""
    if a is None and b is None:
        return None
    return (a or [""] * na) + (b or [""] * nb)
