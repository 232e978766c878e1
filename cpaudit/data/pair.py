"""Members and held-out images as a user keeps them: two sources (folders, .npz files, metadata.jsonl
listings), one ImageSet and the Split that says which rows are which. Membership is the user's word,
never guessed."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from cpaudit.data.channels import reconcile_channels
from cpaudit.data.imageset import ImageSet
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
    """Grey on one side and colour on the other, reconciled by channels.reconcile_channels' rule (as within a
    folder); the conversion is said in one line naming the converted side's source."""
    done = reconcile_channels([m.pixels, h.pixels], [MEMBERS, HOLDOUT])
    if done.message is not None:
        where = " and ".join((m, h)[i].source for i in done.converted)
        warnings.warn(f"{where}: {done.message}", stacklevel=3)
    return done.groups[0], done.groups[1]


def _joined(a: list[str] | None, b: list[str] | None, na: int, nb: int) -> list[str] | None:
    """Captions of both sides, or None where neither has any; a side without them gets empty captions."""
    if a is None and b is None:
        return None
    return (a or [""] * na) + (b or [""] * nb)
