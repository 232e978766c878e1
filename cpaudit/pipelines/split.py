"""`cpaudit split`: a split.json from the user's own record of membership, so no one calls internals; or, with
a design, one drawn by cpaudit before training elsewhere (the one-run epsilon bound's guarantee needs a drawn
split: core/one_run.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cpaudit.data.imageset import ImageSet
from cpaudit.data.listing import split_from_listing
from cpaudit.data.load import load_data
from cpaudit.data.pair import load_pair
from cpaudit.data.split import DRAWN_DESIGNS, Split, make_split, write_split
from cpaudit.errors import InputError
from cpaudit.options import as_path, option, size_hw


@dataclass(frozen=True)
class SplitOptions:
    """`cpaudit split`'s options, declared once (cpaudit/options.py): the command's flags come from here."""

    out: Path = option(help="split.json to write.", parse=as_path)
    # The user's own record: the training images and images of the same kind the model never saw ...
    members: str | None = option(
        None, parse=str, help="The training images: a folder, an .npz or a metadata.jsonl listing."
    )
    holdout: str | None = option(
        None, parse=str, help="Images of the same kind the model never saw (folder, .npz or listing)."
    )
    # ... or a CSV/JSONL listing with a member column, of the images in `data`
    listing: Path | None = option(
        None,
        parse=as_path,
        help="Instead of --members/--holdout: a CSV or JSONL file with a file column (file_name, file, path or id) "
        "and a member column (true/false, 1/0).",
    )
    data: str | None = option(
        None,
        parse=str,
        help="With --listing: the folder its file names are relative to [default: the listing's folder]. With "
        "--design: the images to draw the split from.",
    )
    member_column: str = option("member", help="With --listing: the column that marks members.")
    resize: tuple[int, int] | None = option(
        None, cli_type=str | None, metavar="HxW", parse=size_hw, help="Read every image at this size, e.g. 32x32."
    )
    # Or draw one from `data`: "poisson" (each image a member by its own fair coin) or "fixed" (exactly half)
    design: str | None = option(
        None,
        metavar="poisson|fixed",
        help="Instead of your own record: draw a split of --data to train on. poisson: every image a member by its "
        "own fair coin, which the one-run epsilon bound's guarantee assumes; fixed: exactly half of them.",
    )
    seed: int = option(0, min=0, max=2**63 - 1, help="With --design: the seed of the draw.")


@dataclass(frozen=True)
class SplitResult:
    path: Path
    n_members: int
    n_holdout: int
    design: str = "user"


def write_split_file(opts: SplitOptions) -> SplitResult:
    """Read the members and held-out images, check them, and write split.json (ids and pixel sha256s)."""
    data, split = _read(opts)
    if len(split.member_idx) == 0 or len(split.holdout_idx) == 0:
        raise InputError(
            opts.listing or "--members",
            f"{len(split.member_idx)} members and {len(split.holdout_idx)} held-out images: an audit needs both",
        )
    if split.sources is not None:  # paths as seen from the split.json's folder, so the pair travels with it
        base = Path(opts.out).resolve().parent
        rel = {k: os.path.relpath(Path(v).resolve(), base) for k, v in split.sources.items() if k != "resize"}
        split = Split(split.seed, split.member_idx, split.holdout_idx, {**split.sources, **rel}, split.design)
    write_split(Path(opts.out), data, split)
    return SplitResult(Path(opts.out), len(split.member_idx), len(split.holdout_idx), str(split.design))


def _read(opts: SplitOptions) -> tuple[ImageSet, Split]:
    if opts.design is not None:
        return _draw(opts)
    if opts.listing is not None:
        if opts.members is not None or opts.holdout is not None:
            raise InputError("--listing", "give either --listing or --members/--holdout, not both")
        data = load_data(opts.data if opts.data is not None else Path(opts.listing).parent, resize=opts.resize)
        return data, split_from_listing(Path(opts.listing), data, opts.member_column)
    if opts.members is None or opts.holdout is None:
        raise InputError(
            "--members",
            "give --members and --holdout (folders, .npz files or metadata.jsonl listings), "
            "or --listing FILE with a member column",
        )
    return load_pair(opts.members, opts.holdout, resize=opts.resize)


def _draw(opts: SplitOptions) -> tuple[ImageSet, Split]:
    """A split of DATA drawn by the seed: "poisson", every image a member by its own fair coin; "fixed", exactly
    half of them (data/split.py, make_split)."""
    if opts.design not in DRAWN_DESIGNS:
        raise InputError("--design", f"must be poisson or fixed, got {opts.design!r}")
    if opts.listing is not None or opts.members is not None or opts.holdout is not None or opts.data is None:
        raise InputError("--design", "draws a split of --data: give --data and no --listing, --members or --holdout")
    data = load_data(opts.data, resize=opts.resize)
    members = None if opts.design == "poisson" else len(data) // 2
    return data, make_split(data, members=members, seed=opts.seed, design=opts.design)  # type: ignore[arg-type]
