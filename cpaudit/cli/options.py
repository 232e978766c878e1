"""Option declarations shared by several commands."""

from __future__ import annotations

from pathlib import Path

import typer

from cpaudit.device import DEVICE_HELP

Quiet = typer.Option(False, "--quiet", "-q", help="No progress bars.")
Seed = typer.Option(0, "--seed", min=0, max=2**63 - 1, help="Seed for the split, initial weights and training draws.")
Device = typer.Option("auto", "--device", help=DEVICE_HELP)
Members = typer.Option(64, "--members", min=1, help="Number of member (training) images drawn from DATA.")
# Which images a model was trained on, where it records none (a model trained elsewhere): data/members.py MemberSource.
SplitOpt = typer.Option(
    None,
    "--split",
    help="The split.json naming the members and held-out images (`cpaudit split` writes "
    "one), for a model trained elsewhere [default: the members a cpaudit model records].",
)
DataOpt = typer.Option(None, "--data", help="With --split: the images it names, where it names no data.")
MemberImagesOpt = typer.Option(
    None,
    "--members",
    metavar="DIR|FILE",
    help="Instead of --split: the training images (a folder, an .npz or a metadata.jsonl listing); give --holdout too.",
)
HoldoutOpt = typer.Option(
    None, "--holdout", metavar="DIR|FILE", help="With --members: images of the same kind the model never saw."
)
ResizeOpt = typer.Option(
    None,
    "--resize",
    metavar="HxW",
    help="With --members/--holdout: read the images at this size (the model's), e.g. 512x512.",
)


def number_list(text: str, option: str, kind: type = int) -> tuple:
    """'1,2,3' -> (1, 2, 3), with a usage error naming the option on a bad value."""
    try:
        return tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated {kind.__name__}s such as 1,2, got {text!r}", param_hint=option
        ) from None


def member_count_or_source(text: str) -> tuple[int | None, str | None]:
    """--members N (how many to draw from DATA) or --members DIR|FILE (the training images themselves)."""
    if text.isdigit() and not Path(text).exists():
        if int(text) < 1:
            raise typer.BadParameter(f"must be at least 1, got {text}", param_hint="--members")
        return int(text), None
    return None, text
