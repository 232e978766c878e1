"""`cpaudit split`."""

from __future__ import annotations

from pathlib import Path

import typer

from cpaudit.cli.common import info, print_json, user_errors
from cpaudit.data.load import parse_resize
from cpaudit.pipelines.split import SplitOptions, write_split_file


def split_cmd(
    out: Path = typer.Option(..., "--out", help="split.json to write."),
    members: str | None = typer.Option(
        None, "--members", help="The training images: a folder, an .npz or a metadata.jsonl listing."
    ),
    holdout: str | None = typer.Option(
        None, "--holdout", help="Images of the same kind the model never saw (folder, .npz or listing)."
    ),
    listing: Path | None = typer.Option(
        None,
        "--listing",
        help="Instead of --members/--holdout: a CSV or JSONL file with a "
        "file column (file_name, file, path or id) and a member column (true/false, 1/0).",
    ),
    data: str | None = typer.Option(
        None,
        "--data",
        help="With --listing: the folder its file names are relative to [default: the listing's "
        "folder]. With --design: the images to draw the split from.",
    ),
    member_column: str = typer.Option(
        "member", "--member-column", help="With --listing: the column that marks members."
    ),
    resize: str | None = typer.Option(
        None, "--resize", metavar="HxW", help="Read every image at this size, e.g. 32x32."
    ),
    design: str | None = typer.Option(
        None,
        "--design",
        metavar="poisson|fixed",
        help="Instead of your own record: draw a split "
        "of --data to train on. poisson: every image a member by its own fair coin, which the one-run "
        "epsilon bound's guarantee assumes; fixed: exactly half of them.",
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=2**63 - 1, help="With --design: the seed of the draw."),
    json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Write a split.json (which images were trained on, which were held out) from your own folders or listing,
    or draw one (--design) before training elsewhere.

    Example: cpaudit split --members data/train --holdout data/holdout --out split.json

    Example: cpaudit split --data data/images --design poisson --seed 0 --out split.json
    """
    with user_errors():
        result = write_split_file(
            SplitOptions(
                out=out,
                members=members,
                holdout=holdout,
                listing=listing,
                data=data,
                member_column=member_column,
                resize=parse_resize(resize),
                design=design,
                seed=seed,
            )
        )
    if json_out:
        print_json({"split": str(result.path), "n_members": result.n_members, "n_holdout": result.n_holdout})
    info(f"{result.n_members} members, {result.n_holdout} held-out images ({result.design} design) -> {result.path}")
