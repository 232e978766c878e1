"""`cpaudit train-diffusion`: fit a denoiser on a member subset and write a model folder."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cpaudit.core.schedules import Schedule
from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.data.reference import ReferenceDraw, check_same_data, draw_reference, write_reference_split
from cpaudit.data.split import Split, make_split, write_split
from cpaudit.device import describe, resolve_device
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import save_weights, write_config
from cpaudit.models.unet import UNet, UNetConfig
from cpaudit.provenance import provenance
from cpaudit.seeding import derive_seed, torch_generator
from cpaudit.train.diffusion import DiffusionTrainConfig, Progress, train_denoiser
from cpaudit.train.dp import DPConfig, check_dp_config, train_dp_denoiser
from cpaudit.version import __version__


@dataclass(frozen=True)
class TrainDiffusionOptions:
    data: str
    out: Path
    members: int | None = 64
    seed: int = 0
    split_design: str = (
        "fixed"  # or "poisson": each of 2 x members images a member by its own fair coin (data/split.py)
    )
    train: DiffusionTrainConfig = field(default_factory=DiffusionTrainConfig)
    schedule: Schedule = field(default_factory=Schedule)
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 2
    attention_resolutions: tuple[int, ...] = ()
    resize: tuple[int, int] | None = None
    skip_bad: bool = False  # skip unreadable files in an image folder, with a warning
    resume: bool = False
    dp: DPConfig | None = None  # DP-SGD (DPDM) instead of plain training
    device: str = "auto"  # see device.py
    # Train the reference model for this model folder: its members drawn from images it never trained on
    # (data/reference.py); every other setting is the model's own (reference_options).
    reference_for: Path | None = None


@dataclass
class TrainDiffusionResult:
    out: Path
    steps: int
    seconds: float
    n_members: int
    n_parameters: int
    dp: dict | None = None


def _unet_config(opts: TrainDiffusionOptions, shape: tuple[int, int, int]) -> UNetConfig:
    c, h, w = shape
    if h != w:
        raise InputError(opts.data, f"images are {h}x{w}; the UNet needs square images (pass --resize HxH)")
    try:
        return UNetConfig(c, h, opts.base_channels, opts.channel_mult, opts.num_res_blocks, opts.attention_resolutions)
    except ValueError as e:
        raise InputError(opts.data, str(e)) from None


def train_diffusion(opts: TrainDiffusionOptions, progress: Progress | None = None) -> TrainDiffusionResult:
    if opts.train.steps < 1:
        raise InputError("--steps", f"must be >= 1, got {opts.train.steps}")
    device = resolve_device(opts.device)
    data = load_data(opts.data, resize=opts.resize, skip_bad=opts.skip_bad)
    draw = _reference_draw(opts, data)
    split = (
        draw.split
        if draw is not None
        else make_split(data, members=opts.members, seed=opts.seed, design=opts.split_design)  # type: ignore[arg-type]
    )
    unet_cfg = _unet_config(opts, data.shape)
    if opts.dp is not None:
        check_dp_config(opts.dp, len(split.member_idx))
        if opts.resume:
            raise InputError("--resume", "is not supported with --dp (the privacy accounting assumes one run)")
    out = Path(opts.out)
    state_path = out / "training_state.safetensors"
    config = _run_config(opts, data, split, unet_cfg, device)
    if opts.resume:
        _check_resumes_same_run(out, opts.seed, config["data_fingerprint"], split.design)
    out.mkdir(parents=True, exist_ok=True)
    if draw is None:
        write_split(out / "split.json", data, split)
    else:
        write_reference_split(out / "split.json", data, draw)
        config["reference_for"] = draw.reference_for
    write_config(out / "config.json", config)

    gen = torch_generator(derive_seed(opts.seed, "train-diffusion"))
    # Initial weights come from the same seed, so a run is reproducible end to end.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-diffusion"))
        model = UNet(unet_cfg)
    t0 = time.perf_counter()
    members = data.take(split.member_idx)
    dp_info = None
    if opts.dp is not None:
        ema_model, dp_info = train_dp_denoiser(
            model, members, opts.schedule, opts.dp, gen, progress=progress, device=device
        )
        steps = opts.dp.steps
        config["dp"] = dp_info
    else:
        ema_model, steps = train_denoiser(
            model,
            members,
            opts.schedule,
            opts.train,
            gen,
            state_path=state_path,
            resume=opts.resume,
            progress=progress,
            device=device,
        )
    seconds = time.perf_counter() - t0
    config["train_seconds"] = round(seconds, 2)
    save_weights(out / "model.safetensors", ema_model.state_dict(), metadata={"format": "pt"})
    write_config(out / "config.json", config)
    n_params = sum(p.numel() for p in model.parameters())
    return TrainDiffusionResult(out, steps, seconds, len(split.member_idx), n_params, dp_info)


def _reference_draw(opts: TrainDiffusionOptions, data: ImageSet) -> ReferenceDraw | None:
    """The reference model's split (opts.reference_for), after checking the data is the one the model trained on."""
    if opts.reference_for is None:
        return None
    if opts.resume:
        raise InputError("--resume", "does not apply to --reference-for (train the reference in one run)")
    record = json.loads((Path(opts.reference_for) / "config.json").read_text())
    check_same_data(opts.reference_for, record, data)
    return draw_reference(opts.reference_for, data, opts.seed)


def reference_options(model: Path, record: dict, out: Path, seed: int, device: str) -> TrainDiffusionOptions:
    """The options that trained `model` (its config.json, `record`), for a reference model written to `out`:
    same data, UNet, schedule, training (DP-SGD included) and number of members; the members differ."""
    unet = UNetConfig.from_dict(record["unet"])
    _, h, w = record["image_shape"]
    train, dp = dict(record["train"]), None
    if record.get("dp") is not None:
        dp = DPConfig(**train)
    return TrainDiffusionOptions(
        data=record["data"],
        out=out,
        members=int(record["n_members"]),
        seed=seed,
        train=DiffusionTrainConfig() if dp else DiffusionTrainConfig(**train),
        schedule=Schedule.from_dict(record["schedule"]),
        base_channels=unet.base_channels,
        channel_mult=unet.channel_mult,
        num_res_blocks=unet.num_res_blocks,
        attention_resolutions=unet.attention_resolutions,
        resize=(h, w),  # what a folder was read at (the fingerprint check catches any other reading)
        dp=dp,
        device=device,
        reference_for=Path(model),
    )


def _run_config(
    opts: TrainDiffusionOptions, data: ImageSet, split: Split, unet_cfg: UNetConfig, device: torch.device
) -> dict:
    """config.json of the model folder: what rebuilds the model (UNet, schedule, image shape) and what the audit
    needs to trust it (data fingerprint, seed, split design, training settings, device and provenance)."""
    return {
        "kind": "cpaudit-diffusion",
        "cpaudit_version": __version__,
        "unet": unet_cfg.to_dict(),
        "schedule": opts.schedule.to_dict(),
        "image_shape": list(data.shape),
        "data": data.source,
        "data_fingerprint": data.fingerprint(),
        "seed": opts.seed,
        "n_members": len(split.member_idx),
        "split_design": split.design,
        "train": {**opts.train.__dict__} if opts.dp is None else {**opts.dp.__dict__},
        "dp": None,
        "device": describe(device),
        "provenance": provenance(device),
    }


def _check_resumes_same_run(out: Path, seed: int, data_fingerprint: str, split_design: str | None) -> None:
    """--resume continues the run in `out` only: other data, seed or split design would train a model whose
    members are not the ones split.json names."""
    if not (out / "config.json").is_file():
        return
    old = json.loads((out / "config.json").read_text())
    if (
        old.get("data_fingerprint") != data_fingerprint
        or old.get("seed") != seed
        or old.get("split_design", "fixed") != split_design
    ):
        raise InputError(
            out / "config.json", "--resume with other data, seed or split design than the run being resumed"
        )
