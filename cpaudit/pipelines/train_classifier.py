"""`cpaudit train-classifier`: CPSample's random-label classifier for a model's members."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cpaudit.core.flow import FlowSchedule
from cpaudit.core.schedules import Schedule
from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.data.members import MemberSource, model_members, require_model_shape
from cpaudit.data.split import Split, make_split, write_split
from cpaudit.device import describe, resolve_device
from cpaudit.distributed import world
from cpaudit.errors import InputError
from cpaudit.io_utils import write_json
from cpaudit.models.checkpoint import save_weights, write_config
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier
from cpaudit.models.load import LoadedModel, load_model
from cpaudit.provenance import provenance
from cpaudit.sampling.protection import LATENT_CLASSIFIER_WIDTH
from cpaudit.seeding import derive_seed, torch_generator
from cpaudit.train.classifier import AccuracyTable, ClassifierTrainConfig, Progress, train_random_label_classifier
from cpaudit.train.random_labels import label_seed_for, random_labels
from cpaudit.version import __version__


@dataclass(frozen=True)
class TrainClassifierOptions:
    data: str | None
    out: Path
    model: Path | None = None  # take members, schedule and data from this model folder
    split: Path | None = None  # members from this split.json (e.g. for a diffusers model trained elsewhere)
    members: int | None = 64  # without a model or a split: this many members drawn from DATA
    # Or the members and held-out images as the user keeps them (folders, .npz files, metadata.jsonl listings).
    member_source: str | Path | ImageSet | None = None  # ImageSet: images in memory (the Python API)
    holdout_source: str | Path | ImageSet | None = None
    resize: tuple[int, int] | None = None
    seed: int = 0
    label_seed: int | None = None  # default: derived from seed
    train: ClassifierTrainConfig = field(default_factory=ClassifierTrainConfig)
    schedule: Schedule = field(default_factory=Schedule)
    base_channels: int | None = None  # None: 32, or LATENT_CLASSIFIER_WIDTH for a latent model
    channel_mult: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 2
    device: str = "auto"  # see device.py


def _members(opts: TrainClassifierOptions, lm: LoadedModel | None) -> tuple[ImageSet, Split]:
    """The user's split (--split, or --members/--holdout sources); else a cpaudit model's own; else, with no
    model, a seeded draw from DATA. A model trained elsewhere without a split is refused: never guessed."""
    source = MemberSource(opts.data, opts.split, opts.member_source, opts.holdout_source, opts.resize)
    if lm is not None or source.given:
        return model_members(opts.model, None if lm is None else lm.config, source)
    if opts.data is None:
        raise InputError("DATA", "give DATA (members are drawn from it), --split, or --members and --holdout")
    data = load_data(opts.data, resize=opts.resize)
    return data, make_split(data, members=opts.members, seed=opts.seed)


@dataclass
class TrainClassifierResult:
    out: Path
    steps: int
    seconds: float
    accuracy: AccuracyTable
    n_parameters: int


def train_classifier(opts: TrainClassifierOptions, progress: Progress | None = None) -> TrainClassifierResult:
    if opts.train.steps < 1:
        raise InputError("--steps", f"must be >= 1, got {opts.train.steps}")
    device = resolve_device(opts.device)
    schedule: Schedule | FlowSchedule = opts.schedule  # a flow model's own: the classifier trains on its path
    lm = None if opts.model is None else load_model(Path(opts.model))
    if lm is not None:
        schedule = lm.schedule
    data, split = _members(opts, lm)
    if lm is not None:
        given = opts.data or opts.split or opts.member_source
        require_model_shape(data, lm.image_shape, given.source if isinstance(given, ImageSet) else given or data.source)
    members = data.take(split.member_idx)
    if lm is not None and lm.codec.latent:  # CPSample on a latent model: the classifier reads its latents
        members = lm.codec.to(device).encode(members.to(device)).cpu()
    c, h, w = members.shape[1:]
    if h != w:
        raise InputError(
            data.source,
            f"images are {h}x{w}; the classifier needs square images: pass --resize {min(h, w)}x{min(h, w)}",
        )
    width = opts.base_channels or (LATENT_CLASSIFIER_WIDTH if lm is not None and lm.codec.latent else 32)
    clf_cfg = ClassifierConfig(c, h, width, opts.channel_mult, opts.num_res_blocks)
    label_seed = label_seed_for(opts.seed, opts.label_seed)
    labels = random_labels(len(split.member_idx), label_seed)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-classifier"))
        model = TimeClassifier(clf_cfg)
    gen = torch_generator(derive_seed(opts.seed, "train-classifier"))
    ranks = world()
    t0 = time.perf_counter()
    model, steps, table = train_random_label_classifier(
        model,
        members,
        labels,
        schedule,
        opts.train,
        gen,
        derive_seed(opts.seed, "eval-classifier"),
        progress=progress if ranks.is_main else None,
        world=ranks,
        device=device,
    )
    seconds = time.perf_counter() - t0
    result = TrainClassifierResult(Path(opts.out), steps, seconds, table, sum(p.numel() for p in model.parameters()))
    if not ranks.is_main:  # every rank holds the same weights; rank 0 writes them
        return result

    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    write_split(out / "split.json", data, split)
    write_json(out / "labels.json", {data.ids[i]: int(y) for i, y in zip(split.member_idx, labels)})
    save_weights(out / "classifier.safetensors", model.state_dict(), metadata={"format": "pt"})
    write_config(
        out / "config.json",
        {
            "kind": "cpaudit-classifier",
            "cpaudit_version": __version__,
            "classifier": clf_cfg.to_dict(),
            "schedule": schedule.to_dict(),
            "image_shape": [c, h, w],
            "space": "latent" if lm is not None and lm.codec.latent else "pixel",
            "data": data.source,
            "data_fingerprint": data.fingerprint(),
            "model": str(opts.model) if opts.model is not None else None,
            "seed": opts.seed,
            "label_seed": label_seed,
            "n_members": len(split.member_idx),
            "world_size": ranks.size,
            "device": describe(device),
            "provenance": provenance(device),
            "train": {**opts.train.__dict__},
            "steps_done": steps,
            "train_seconds": round(seconds, 2),
            "accuracy": table.to_dict(),
        },
    )
    return result
