"""Every option of `train-diffusion`, declared once (cpaudit/options.py): the CLI's flags, the Python API's
keywords and their help come from `TrainDiffusionRequest`. One command trains three kinds of model (a pixel DDPM,
optionally with DP-SGD; a small text-to-image pipeline, --text; a class-conditional UNet, --classes), whose
defaults differ: `train_model` checks the combination, fills each kind's defaults and calls its pipeline, so the
CLI and the API train the same model from the same request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from cpaudit.core.schedules import Schedule
from cpaudit.data.reference import training_record
from cpaudit.data.split import DRAWN_DESIGNS
from cpaudit.device import DEVICE_HELP
from cpaudit.errors import InputError
from cpaudit.options import as_path, comma_joined, int_tuple_or_none, option, size_hw
from cpaudit.pipelines.train_classes import TrainClassesOptions, TrainClassesResult, train_class_diffusion
from cpaudit.pipelines.train_diffusion import (
    TrainDiffusionOptions,
    TrainDiffusionResult,
    reference_options,
    train_diffusion,
)
from cpaudit.pipelines.train_text import (
    TEXT_SCHEDULE,
    TrainTextOptions,
    TrainTextResult,
    default_train_config,
    reference_text_options,
    text_architecture,
    train_text_diffusion,
)
from cpaudit.train.diffusion import DiffusionTrainConfig
from cpaudit.train.dp import DPConfig

SEED_HELP = "Seed for the split, initial weights and training draws."
N_MEMBERS_HELP = "Number of member (training) images drawn from DATA."
# A training step as the pipelines report it: (stage, step, total, metrics); the stage names what is trained.
StepProgress = Callable[[str, int, int, dict], None]


def _positive_ints(value: object) -> tuple[int, ...]:
    """'1,2' (or [1, 2]; '' for none) -> (1, 2), every value at least 1 (widths, resolutions)."""
    values = int_tuple_or_none(value)
    if min(values, default=1) < 1:
        raise ValueError("values must be >= 1")
    return values


@dataclass(frozen=True, kw_only=True)  # DATA is optional (--reference-for names it) and comes first
class TrainDiffusionRequest:
    """What the user asks `train-diffusion` for, as the command line and the API take it (flat, unresolved)."""

    data: str | None = option(
        None,
        help="'digits', an image folder, an .npz or a CIFAR-10 batches folder [default with --reference-for: the "
        "data MODEL_DIR was trained on].",
        cli=False,
        config=False,
        parse=str,
    )
    out: Path = option(help="Model folder to write (model.safetensors, config.json, split.json).", parse=as_path)
    reference_for: Path | None = option(
        None,
        metavar="MODEL_DIR",
        parse=as_path,
        help="Train the reference model for MODEL_DIR (a cpaudit model): its settings, as many members drawn from "
        "images MODEL_DIR never trained on; give the folder to `tune --reference`.",
    )
    n_members: int = option(64, min=1, old=("--members",), help=N_MEMBERS_HELP)
    seed: int = option(0, min=0, max=2**63 - 1, help=SEED_HELP)
    split_design: str = option(
        "fixed",
        metavar="fixed|poisson",
        choices=DRAWN_DESIGNS,
        help="How the members are drawn: fixed, exactly --n-members images; poisson, each of 2 x --n-members "
        "images a member by its own fair coin (the one-run epsilon bound's assumption; the rest of those images "
        "are held out).",
    )
    steps: int | None = option(None, min=1, help="Optimiser steps [default: 4000; 400 with --dp].")
    batch_size: int | None = option(
        None, min=1, max=4096, help="Batch size [default: 64; expected Poisson batch 16 with --dp]."
    )
    lr: float | None = option(
        None, min=1e-7, max=1.0, help="Learning rate [default: 1e-3; 4e-3 with --text --arch sd3 or flux]."
    )
    ema: float = option(0.999, min=0.0, max=0.99999, help="")
    schedule: str | None = option(
        None,
        help="linear (1e-4..0.02) or cosine [default: linear; with --text, Stable Diffusion's scaled_linear "
        "0.00085..0.012].",
    )
    timesteps: int = option(1000, min=2, max=100000, help="T, the number of diffusion steps.")
    channels: int = option(32, min=8, max=1024, help="UNet base width.")
    channel_mult: tuple[int, ...] = option(
        (1, 2), cli_type=str, parse=_positive_ints, shown=comma_joined, help="Width multiplier per resolution."
    )
    res_blocks: int = option(2, min=1, max=8, help="")
    attention: tuple[int, ...] = option(
        (), cli_type=str, parse=_positive_ints, shown=comma_joined, help="Resolutions with self-attention, e.g. 16,8."
    )
    resize: tuple[int, int] | None = option(
        None, cli_type=str | None, parse=size_hw, help="Resize folder images to HxW."
    )
    skip_bad: bool = option(
        False, help="Skip unreadable files in an image folder (with a warning) instead of stopping."
    )
    resume: bool = option(False, help="Continue from OUT/training_state.safetensors.")
    checkpoint_every: int = option(500, min=1, help="Steps between training-state checkpoints.")
    dp: bool = option(False, help="Train with DP-SGD (DPDM): per-example clipping, Gaussian noise, RDP accounting.")
    epsilon: float = option(10.0, help="DP target epsilon (> 0).")
    delta: float = option(1e-3, help="DP delta, below 1/members.")
    max_grad_norm: float = option(1.0, help="DP per-example clipping norm C.")
    noise_multiplicity: int = option(4, help="DPDM's K: noise draws per example before clipping.")
    text: bool = option(
        False,
        help="Train a small Stable-Diffusion-architecture text-to-image pipeline on the members' captions "
        "(metadata.jsonl, an .npz's 'captions', or 'captioned-digits'); writes a diffusers pipeline folder.",
    )
    classes: bool = option(
        False,
        help="Train a class-conditional pixel model (diffusers UNet2DModel with class embeddings) on class "
        "subfolders, an .npz's 'labels', or 'digits'.",
    )
    n_holdout: int | None = option(
        None,
        min=0,
        old=("--holdout",),
        help="--text: held-out images kept apart [default: up to 256; the remaining images train the autoencoder].",
    )
    vae: Path | None = option(None, parse=as_path, help="--text: reuse this pipeline's (or vae folder's) autoencoder.")
    vae_steps: int | None = option(
        None, min=1, help="--text: autoencoder training steps [default: 500; 100 with --arch sd3 or flux]."
    )
    arch: str = option(
        "sd",
        help="--text: sd (Stable Diffusion 1.x: one CLIP text encoder), sdxl (SDXL: two text encoders, the pooled "
        "embedding and size/crop time ids; a StableDiffusionXLPipeline folder), sd3 (a rectified-flow "
        "SD3Transformer2DModel on the 4 latent channels, two CLIP encoders, no T5; a StableDiffusion3Pipeline "
        "folder, 1000 steps) or flux (a FluxTransformer2DModel on the 4 latent channels packed 2x2 into "
        "16-channel tokens, CLIP pooled + a small T5; a FluxPipeline folder, 700 steps). SD3 and FLUX prompts are "
        "encoded at 16 T5 positions: sample with max_sequence_length=16 (cpaudit.json).",
    )
    device: str = option("auto", help=DEVICE_HELP)


def check_request(req: TrainDiffusionRequest) -> None:
    """The options that belong to one kind of model, refused with another (one line naming the flag)."""
    if req.arch != "sd" and not req.text:
        raise InputError("--arch", "applies to --text")
    if not (req.text or req.classes):
        return
    if req.split_design != "fixed":
        raise InputError("--split-design", "applies to the pixel DDPM, not to --text or --classes")
    if req.text and req.classes or req.dp or req.resume:
        raise InputError("--text" if req.text else "--classes", "cannot be combined with --classes, --dp or --resume")


TrainResult = TrainDiffusionResult | TrainTextResult | TrainClassesResult


def train_model(req: TrainDiffusionRequest, progress: StepProgress | None = None) -> TrainResult:
    """Train the model the request asks for (the pixel DDPM, --text or --classes); `progress(stage, step,
    total, metrics)` after every optimiser step, the stage naming what is trained."""
    check_request(req)
    if req.reference_for is not None:
        return _train_reference(req, progress)
    if req.data is None:
        raise InputError("DATA", "missing: name the images to train on, e.g. 'digits' (or give --reference-for)")
    if req.text:
        return _train_text(req, progress)
    if req.classes:
        return _train_classes(req, progress)
    return _train_pixel(req, progress)


REFERENCE_OPTIONS = ("out", "reference_for", "seed", "device")  # all a reference model takes: the rest is recorded


def _train_reference(req: TrainDiffusionRequest, progress: StepProgress | None) -> TrainResult:
    """A reference model for req.reference_for: trained as that model was (its recorded config), on as many
    members drawn from images it never trained on (data/reference.py). Only --out, --seed and --device apply."""
    model = Path(req.reference_for)  # type: ignore[arg-type]
    given = [f.name for f in fields(req) if f.name not in REFERENCE_OPTIONS and getattr(req, f.name) != f.default]
    if given:
        flag = "DATA" if given[0] == "data" else "--" + given[0].replace("_", "-")
        raise InputError(flag, "does not apply to --reference-for: the model's recorded settings are used")
    kind, record = training_record(model)
    if Path(req.out).resolve() == model.resolve():
        raise InputError("--out", "must differ from --reference-for's folder")
    if kind == "text":
        opts = reference_text_options(model, record, req.out, req.seed, req.device)
        stage = None if progress is None else lambda name, s, n, m: progress(f"train reference {name}", s, n, m)
        return train_text_diffusion(opts, stage)
    pixel = reference_options(model, record, req.out, req.seed, req.device)
    return train_diffusion(pixel, progress=_stage(progress, "train reference diffusion"))


def _stage(progress: StepProgress | None, name: str) -> Callable[[int, int, dict], None] | None:
    return None if progress is None else lambda step, total, metrics: progress(name, step, total, metrics)


def _train_pixel(req: TrainDiffusionRequest, progress: StepProgress | None) -> TrainDiffusionResult:
    steps = req.steps or (400 if req.dp else 4000)
    dp = None
    if req.dp:
        dp = DPConfig(
            epsilon=req.epsilon,
            delta=req.delta,
            max_grad_norm=req.max_grad_norm,
            noise_multiplicity=req.noise_multiplicity,
            expected_batch_size=req.batch_size or 16,
            steps=steps,
        )
    train = DiffusionTrainConfig(
        steps=steps,
        batch_size=req.batch_size or 64,
        lr=req.lr or 1e-3,
        ema_decay=req.ema,
        checkpoint_every=req.checkpoint_every,
    )
    opts = TrainDiffusionOptions(
        data=str(req.data),
        out=req.out,
        members=req.n_members,
        seed=req.seed,
        split_design=req.split_design,
        train=train,
        schedule=Schedule(kind=req.schedule or "linear", T=req.timesteps),  # type: ignore[arg-type]
        base_channels=req.channels,
        channel_mult=req.channel_mult,
        num_res_blocks=req.res_blocks,
        attention_resolutions=req.attention,
        resize=req.resize,
        skip_bad=req.skip_bad,
        resume=req.resume,
        dp=dp,
        device=req.device,
    )
    return train_diffusion(opts, progress=_stage(progress, "train diffusion" + (" (DP-SGD)" if req.dp else "")))


def _train_classes(req: TrainDiffusionRequest, progress: StepProgress | None) -> TrainClassesResult:
    train = DiffusionTrainConfig(
        steps=req.steps or 4000, batch_size=req.batch_size or 64, lr=req.lr or 1e-3, ema_decay=req.ema
    )
    opts = TrainClassesOptions(
        str(req.data),
        req.out,
        req.n_members,
        req.seed,
        train,
        Schedule(kind=req.schedule or "linear", T=req.timesteps),  # type: ignore[arg-type]
        resize=req.resize,
        device=req.device,
    )
    return train_class_diffusion(opts, progress=_stage(progress, "train class-conditional"))


def _train_text(req: TrainDiffusionRequest, progress: StepProgress | None) -> TrainTextResult:
    schedule = TEXT_SCHEDULE if req.schedule is None else Schedule(kind=req.schedule, T=req.timesteps)  # type: ignore[arg-type]
    cfg = default_train_config(req.arch, vae_steps=req.vae_steps, steps=req.steps, batch_size=req.batch_size, lr=req.lr)
    opts = TrainTextOptions(
        str(req.data),
        req.out,
        req.n_members,
        req.n_holdout,
        req.seed,
        cfg,
        schedule,
        text_architecture(req.arch),
        vae=req.vae,
        resize=req.resize,
        device=req.device,
    )
    stage = (
        None if progress is None else lambda name, step, total, metrics: progress(f"train {name}", step, total, metrics)
    )
    return train_text_diffusion(opts, stage)
