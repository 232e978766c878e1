"""`cpaudit train-diffusion DATA --classes`: a class-conditional pixel denoiser (diffusers' UNet2DModel with
`num_class_embeds`), trained on the members with their class ids and saved as a diffusers folder
(`unet/`, `scheduler/`) that diffusers' own UNet2DModel loads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cpaudit.core.schedules import Schedule
from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.data.split import Split, make_split, write_split
from cpaudit.device import describe, resolve_device
from cpaudit.errors import InputError
from cpaudit.io_utils import write_json
from cpaudit.models.diffusers_denoiser import DiffusersDenoiser
from cpaudit.models.diffusers_unet import DIFFUSERS_BETA_SCHEDULE
from cpaudit.provenance import provenance
from cpaudit.seeding import derive_seed, torch_generator
from cpaudit.train.diffusion import DiffusionTrainConfig, Progress, train_denoiser
from cpaudit.version import __version__


@dataclass(frozen=True)
class TrainClassesOptions:
    data: str
    out: Path
    members: int | None = 64
    seed: int = 0
    train: DiffusionTrainConfig = field(default_factory=DiffusionTrainConfig)
    schedule: Schedule = field(default_factory=Schedule)
    channels: tuple[int, ...] = (32, 64)
    layers_per_block: int = 2
    resize: tuple[int, int] | None = None
    device: str = "auto"


@dataclass
class TrainClassesResult:
    out: Path
    steps: int
    seconds: float
    n_members: int
    n_parameters: int
    n_classes: int


def _scheduler_config(schedule: Schedule) -> dict:
    return {
        "_class_name": "DDPMScheduler",
        "num_train_timesteps": schedule.T,
        "beta_start": schedule.beta_start,
        "beta_end": schedule.beta_end,
        "beta_schedule": DIFFUSERS_BETA_SCHEDULE[schedule.kind],
        "prediction_type": "epsilon",
    }


def train_class_diffusion(opts: TrainClassesOptions, progress: Progress | None = None) -> TrainClassesResult:
    device = resolve_device(opts.device)
    data = load_data(opts.data, resize=opts.resize)
    if data.labels is None:
        raise InputError(
            opts.data, "has no classes; --classes needs class subfolders, an .npz with a 'labels' array, or 'digits'"
        )
    c, h, w = data.shape
    if h != w or h % 2 ** (len(opts.channels) - 1):
        raise InputError(
            opts.data,
            f"images are {h}x{w}; --classes needs square images with sides a multiple of "
            f"{2 ** (len(opts.channels) - 1)} (pass --resize)",
        )
    split = make_split(data, members=opts.members, seed=opts.seed)
    n_classes = int(data.labels.max()) + 1
    unet = _class_unet(opts, c, h, n_classes)
    model = DiffusersDenoiser(unet)
    gen = torch_generator(derive_seed(opts.seed, "train-diffusion"))
    t0 = time.perf_counter()
    labels = torch.from_numpy(data.labels[split.member_idx])
    ema, steps = train_denoiser(
        model,
        data.take(split.member_idx),
        opts.schedule,
        opts.train,
        gen,
        progress=progress,
        device=device,
        labels=labels,
    )
    seconds = time.perf_counter() - t0
    out = Path(opts.out)
    ema.unet.cpu().save_pretrained(str(out / "unet"), safe_serialization=True)
    write_json(out / "scheduler" / "scheduler_config.json", _scheduler_config(opts.schedule))
    write_split(out / "split.json", data, split)
    write_json(out / "cpaudit.json", _run_record(opts, data, split, seconds, device))
    return TrainClassesResult(
        out, steps, seconds, len(split.member_idx), sum(p.numel() for p in unet.parameters()), n_classes
    )


def _class_unet(opts: TrainClassesOptions, channels_in: int, side: int, n_classes: int):
    """diffusers' UNet2DModel with one class embedding a class, its initial weights drawn from the run's seed
    under a forked RNG, so a run is reproducible end to end and the caller's global RNG is left as it was."""
    from diffusers import UNet2DModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-diffusion"))
        return UNet2DModel(
            sample_size=side,
            in_channels=channels_in,
            out_channels=channels_in,
            block_out_channels=opts.channels,
            layers_per_block=opts.layers_per_block,
            down_block_types=("DownBlock2D",) * len(opts.channels),
            up_block_types=("UpBlock2D",) * len(opts.channels),
            norm_num_groups=8,
            num_class_embeds=n_classes,
        )


def _run_record(opts: TrainClassesOptions, data: ImageSet, split: Split, seconds: float, device: torch.device) -> dict:
    """cpaudit.json of the folder: what the audit needs to trust the model (data and condition fingerprints,
    seed, members, class names, training settings, device and provenance); diffusers ignores it."""
    return {
        "kind": "cpaudit-class-diffusion",
        "cpaudit_version": __version__,
        "data": data.source,
        "data_fingerprint": data.fingerprint(),
        "conditions_fingerprint": data.conditions_fingerprint(),
        "seed": opts.seed,
        "n_members": len(split.member_idx),
        "class_names": data.class_names,
        "train": {**opts.train.__dict__},
        "train_seconds": round(seconds, 2),
        "device": describe(device),
        "provenance": provenance(device),
    }
