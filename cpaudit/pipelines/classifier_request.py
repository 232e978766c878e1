"""Every option of `train-classifier`, declared once (cpaudit/options.py): the CLI's flags, the Python API's
keywords and their help come from `TrainClassifierRequest`; `classifier_options` turns a request into the
TrainClassifierOptions that pipelines/train_classifier.py trains with.

`--members` names the training images here as in every command (a folder, an .npz, a metadata.jsonl listing);
how many to draw from DATA is `--n-members`. A bare number given to --members that is no existing path is read as
the count it meant before, with a one-line notice, for one release."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from cpaudit.data.imageset import ImageSet
from cpaudit.device import DEVICE_HELP
from cpaudit.errors import InputError
from cpaudit.options import as_path, option, size_hw
from cpaudit.pipelines.train_classifier import TrainClassifierOptions
from cpaudit.pipelines.train_request import SEED_HELP
from cpaudit.train.classifier import ClassifierTrainConfig


def _source(value: object) -> str | ImageSet:
    return value if isinstance(value, ImageSet) else str(value)


@dataclass(frozen=True, kw_only=True)  # DATA is optional and comes first, as on the command line
class TrainClassifierRequest:
    """What the user asks `train-classifier` for, as the command line and the API take it (flat, unresolved)."""

    data: str | None = option(
        None,
        cli=False,
        config=False,
        parse=str,
        help="'digits', an image folder, an .npz, a metadata.jsonl listing or a CIFAR-10 batches folder [default: "
        "the data --model or --split names].",
    )
    out: Path = option(help="Classifier folder to write.", parse=as_path)
    model: Path | None = option(
        None,
        parse=as_path,
        help="Model folder (cpaudit or diffusers): use its schedule, and its members and split where it records them.",
    )
    split: Path | None = option(
        None,
        parse=as_path,
        help="split.json naming the members, as `cpaudit split` writes it (for a model trained elsewhere, which "
        "records none).",
    )
    members: str | ImageSet | None = option(
        None,
        cli_type=str | None,
        metavar="DIR|FILE",
        parse=_source,
        help="The training images (a folder, an .npz or a metadata.jsonl listing); give --holdout too.",
    )
    n_members: int = option(
        64, min=1, help="Without a model, --split or --members: how many members to draw from DATA."
    )
    holdout: str | ImageSet | None = option(
        None,
        cli_type=str | None,
        parse=_source,
        help="With --members DIR|FILE: images of the same kind the model never saw.",
    )
    resize: tuple[int, int] | None = option(
        None, cli_type=str | None, metavar="HxW", parse=size_hw, help="Read the images at this size, e.g. 32x32."
    )
    seed: int = option(0, min=0, max=2**63 - 1, help=SEED_HELP)
    label_seed: int | None = option(None, min=0, max=2**63 - 1, help="Seed of the random labels.")
    steps: int = option(3000, min=1, help="Maximum optimiser steps (stops early near the Bayes limit).")
    batch_size: int = option(128, min=1, max=4096, help="")
    lr: float = option(1e-3, min=1e-7, max=1.0, help="")
    channels: int | None = option(
        None,
        min=4,
        max=1024,
        help="Classifier base width [default: 32; for a latent model, LATENT_CLASSIFIER_WIDTH in "
        "sampling/protection.py].",
    )
    device: str = option("auto", help=DEVICE_HELP)


def member_count(members: str | ImageSet | None) -> int | None:
    """The count an old `--members N` meant (a whole number that is no existing path), with a one-line notice;
    None where `members` names the training images."""
    if not isinstance(members, str) or not members.isdigit() or Path(members).exists():
        return None
    if int(members) < 1:
        raise InputError("--members", f"must be at least 1, got {members}")
    warnings.warn(
        f"--members {members} is a count: give --n-members {members} (--members takes the training images; "
        "a count there goes in the next release)",
        FutureWarning,
        stacklevel=2,
    )
    return int(members)


def classifier_options(req: TrainClassifierRequest) -> TrainClassifierOptions:
    """The request as the training pipeline takes it."""
    count = member_count(req.members)
    return TrainClassifierOptions(
        data=req.data,
        out=req.out,
        model=req.model,
        split=req.split,
        members=req.n_members if count is None else count,
        member_source=None if count is not None else req.members,
        holdout_source=req.holdout,
        resize=req.resize,
        seed=req.seed,
        label_seed=req.label_seed,
        train=ClassifierTrainConfig(steps=req.steps, batch_size=req.batch_size, lr=req.lr),
        base_channels=req.channels,
        device=req.device,
    )
