"""`cpaudit split`: a split.json from the user's own record of membership, so no one calls internals."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cpaudit.data.imageset import ImageSet
from cpaudit.data.listing import split_from_listing
from cpaudit.data.load import load_data
from cpaudit.data.pair import load_pair
from cpaudit.data.split import Split, write_split
from cpaudit.errors import InputError


@dataclass(frozen=True)
class SplitOptions:
    out: Path
    members: str | None = None  # folder, .npz or metadata.jsonl of the training images ...
    holdout: str | None = None  # ... and of images of the same kind the model never saw
    listing: Path | None = None  # or a CSV/JSONL listing with a member column, of the images in `data`
    data: str | None = None  # the listing's images (default: the listing's folder)
    member_column: str = "member"
    resize: tuple[int, int] | None = None


@dataclass(frozen=True)
class SplitResult:
    path: Path
    n_members: int
    n_holdout: int


def write_split_file(opts: SplitOptions) -> SplitResult:
    """Read the members and held-out images, check them, and write split.json (ids and pixel sha256s)."""
    data, split = _read(opts)
    if len(split.member_idx) == 0 or len(split.holdout_idx) == 0:
        raise InputError(opts.listing or "--members", f"{len(split.member_idx)} members and {len(split.holdout_idx)} "
                         "held-out images: an audit needs both")
    if split.sources is not None:  # paths as seen from the split.json's folder, so the pair travels with it
        base = Path(opts.out).resolve().parent
        rel = {k: os.path.relpath(Path(v).resolve(), base) for k, v in split.sources.items() if k != "resize"}
        split = Split(split.seed, split.member_idx, split.holdout_idx, {**split.sources, **rel})
    write_split(Path(opts.out), data, split)
    return SplitResult(Path(opts.out), len(split.member_idx), len(split.holdout_idx))


def _read(opts: SplitOptions) -> tuple[ImageSet, Split]:
    if opts.listing is not None:
        if opts.members is not None or opts.holdout is not None:
            raise InputError("--listing", "give either --listing or --members/--holdout, not both")
        data = load_data(opts.data if opts.data is not None else Path(opts.listing).parent, resize=opts.resize)
        return data, split_from_listing(Path(opts.listing), data, opts.member_column)
    if opts.members is None or opts.holdout is None:
        raise InputError("--members", "give --members and --holdout (folders, .npz files or metadata.jsonl listings), "
                         "or --listing FILE with a member column")
    return load_pair(opts.members, opts.holdout, resize=opts.resize)
