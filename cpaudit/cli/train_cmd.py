"""`cpaudit train-diffusion` and `cpaudit train-classifier`."""

from __future__ import annotations

from pathlib import Path

import typer

from cpaudit.cli.common import info, progress_bar, state, user_errors
from cpaudit.cli.options import Device, Members, Quiet, Seed, member_count_or_source, number_list
from cpaudit.core.schedules import Schedule
from cpaudit.data.load import parse_resize
from cpaudit.errors import InputError
from cpaudit.pipelines.train_classes import TrainClassesOptions, train_class_diffusion
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, train_diffusion
from cpaudit.pipelines.train_text import (
    TEXT_SCHEDULE,
    TrainTextOptions,
    default_train_config,
    text_architecture,
    train_text_diffusion,
)
from cpaudit.train.classifier import ClassifierTrainConfig
from cpaudit.train.diffusion import DiffusionTrainConfig
from cpaudit.train.dp import DPConfig, dp_summary


def _mult(text: str, option: str) -> tuple[int, ...]:
    mult = number_list(text, option)
    if min(mult) < 1:
        raise typer.BadParameter(f"values must be >= 1, got {text!r}", param_hint=option)
    return mult


def _train_conditional(
    data,
    out,
    members,
    seed,
    steps,
    batch_size,
    lr,
    ema,
    schedule,
    timesteps,
    resize,
    text,
    holdout,
    vae,
    vae_steps,
    device,
    arch="sd",
) -> None:
    with user_errors():
        if text:
            sched = TEXT_SCHEDULE if schedule is None else Schedule(kind=schedule, T=timesteps)  # type: ignore[arg-type]
            cfg = default_train_config(arch, vae_steps=vae_steps, steps=steps, batch_size=batch_size, lr=lr)
            opts = TrainTextOptions(
                data,
                out,
                members,
                holdout,
                seed,
                cfg,
                sched,
                text_architecture(arch),
                vae=vae,
                resize=parse_resize(resize),
                device=device,
            )
            with progress_bar("train text-to-image", cfg.vae_steps + cfg.steps) as advance:
                result = train_text_diffusion(
                    opts, lambda stage, s, n, m: advance(s, n, m, description=f"train {stage}")
                )
            net = {
                "sd": "SD-architecture UNet",
                "sdxl": "SDXL-architecture UNet",
                "sd3": "SD3-architecture transformer",
                "flux": "FLUX-architecture transformer",
            }.get(arch, arch)
            info(
                f"trained a {result.n_parameters:,}-parameter {net} on "
                f"{result.n_members} captioned members in "
                f"{result.seconds:.0f} s (autoencoder {result.vae_source}) -> {result.out}"
            )
            return
        train = DiffusionTrainConfig(steps=steps or 4000, batch_size=batch_size or 64, lr=lr or 1e-3, ema_decay=ema)
        copts = TrainClassesOptions(
            data,
            out,
            members,
            seed,
            train,
            Schedule(kind=schedule or "linear", T=timesteps),  # type: ignore[arg-type]
            resize=parse_resize(resize),
            device=device,
        )
        with progress_bar("train class-conditional", train.steps) as advance:
            cres = train_class_diffusion(copts, progress=advance)
    info(
        f"trained a {cres.n_parameters:,}-parameter class-conditional UNet ({cres.n_classes} classes) on {cres.n_members} "
        f"members in {cres.seconds:.0f} s -> {cres.out}"
    )


def train_diffusion_cmd(
    data: str = typer.Argument(..., help="'digits', an image folder, an .npz or a CIFAR-10 batches folder."),
    out: Path = typer.Option(..., "--out", help="Model folder to write (model.safetensors, config.json, split.json)."),
    members: int = Members,
    seed: int = Seed,
    split_design: str = typer.Option(
        "fixed",
        "--split-design",
        metavar="fixed|poisson",
        help="How the members are drawn: fixed, "
        "exactly --members images; poisson, each of 2 x --members images a member by its own fair coin "
        "(the one-run epsilon bound's assumption; the rest of those images are held out).",
    ),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Optimiser steps [default: 4000; 400 with --dp]."),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, max=4096, help="Batch size [default: 64; expected Poisson batch 16 with --dp]."
    ),
    lr: float | None = typer.Option(
        None, "--lr", min=1e-7, max=1.0, help="Learning rate [default: 1e-3; 4e-3 with --text --arch sd3 or flux]."
    ),
    ema: float = typer.Option(0.999, "--ema", min=0.0, max=0.99999),
    schedule: str | None = typer.Option(
        None,
        "--schedule",
        help="linear (1e-4..0.02) or cosine [default: linear; "
        "with --text, Stable Diffusion's scaled_linear 0.00085..0.012].",
    ),
    timesteps: int = typer.Option(1000, "--timesteps", min=2, max=100000, help="T, the number of diffusion steps."),
    channels: int = typer.Option(32, "--channels", min=8, max=1024, help="UNet base width."),
    channel_mult: str = typer.Option("1,2", "--channel-mult", help="Width multiplier per resolution."),
    res_blocks: int = typer.Option(2, "--res-blocks", min=1, max=8),
    attention: str = typer.Option("", "--attention", help="Resolutions with self-attention, e.g. 16,8."),
    resize: str | None = typer.Option(None, "--resize", help="Resize folder images to HxW."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Skip unreadable files in an image folder (with a warning) instead of stopping."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/training_state.safetensors."),
    checkpoint_every: int = typer.Option(
        500, "--checkpoint-every", min=1, help="Steps between training-state checkpoints."
    ),
    dp: bool = typer.Option(
        False, "--dp", help="Train with DP-SGD (DPDM): per-example clipping, Gaussian noise, RDP accounting."
    ),
    epsilon: float = typer.Option(10.0, "--epsilon", help="DP target epsilon (> 0)."),
    delta: float = typer.Option(1e-3, "--delta", help="DP delta, below 1/members."),
    max_grad_norm: float = typer.Option(1.0, "--max-grad-norm", help="DP per-example clipping norm C."),
    noise_multiplicity: int = typer.Option(
        4, "--noise-multiplicity", help="DPDM's K: noise draws per example before clipping."
    ),
    text: bool = typer.Option(
        False,
        "--text",
        help="Train a small Stable-Diffusion-architecture text-to-image pipeline on the "
        "members' captions (metadata.jsonl, an .npz's 'captions', or 'captioned-digits'); writes a diffusers pipeline folder.",
    ),
    classes: bool = typer.Option(
        False,
        "--classes",
        help="Train a class-conditional pixel model (diffusers UNet2DModel with "
        "class embeddings) on class subfolders, an .npz's 'labels', or 'digits'.",
    ),
    holdout: int | None = typer.Option(
        None,
        "--holdout",
        min=0,
        help="--text: held-out images kept apart [default: up to 256; the remaining images train the autoencoder].",
    ),
    vae: Path | None = typer.Option(None, "--vae", help="--text: reuse this pipeline's (or vae folder's) autoencoder."),
    vae_steps: int | None = typer.Option(
        None,
        "--vae-steps",
        min=1,
        help="--text: autoencoder training steps [default: 500; 100 with --arch sd3 or flux].",
    ),
    arch: str = typer.Option(
        "sd",
        "--arch",
        help="--text: sd (Stable Diffusion 1.x: one CLIP text encoder), sdxl "
        "(SDXL: two text encoders, the pooled embedding and size/crop time ids; a StableDiffusionXLPipeline folder), "
        "sd3 (a rectified-flow SD3Transformer2DModel on the 4 latent channels, two CLIP encoders, no T5; "
        "a StableDiffusion3Pipeline folder, 1000 steps) or flux (a FluxTransformer2DModel on the 4 latent "
        "channels packed 2x2 into 16-channel tokens, CLIP pooled + a small T5; a FluxPipeline folder, 700 steps). "
        "SD3 and FLUX prompts are encoded at 16 T5 positions: sample with max_sequence_length=16 (cpaudit.json).",
    ),
    device: str = Device,
    quiet: bool = Quiet,
) -> None:
    """Train a DDPM denoiser on a member subset of DATA (optionally with differential privacy), or a small
    text-to-image (--text) or class-conditional (--classes) model.

    Example: cpaudit train-diffusion digits --out runs/model --members 64 --steps 4000
    Example: cpaudit train-diffusion digits --out runs/dp --dp --epsilon 10 --delta 1e-3
    Example: cpaudit train-diffusion captioned-digits --text --out runs/sd
    Example: cpaudit train-diffusion captioned-digits --text --arch sdxl --out runs/sdxl
    Example: cpaudit train-diffusion captioned-digits --text --arch flux --out runs/flux
    """
    state.quiet = state.quiet or quiet
    if arch != "sd" and not text:
        with user_errors():
            raise InputError("--arch", "applies to --text")
    if text or classes:
        if split_design != "fixed":
            with user_errors():
                raise InputError("--split-design", "applies to the pixel DDPM, not to --text or --classes")
        if text and classes or dp or resume:
            with user_errors():
                raise InputError(
                    "--text" if text else "--classes", "cannot be combined with --classes, --dp or --resume"
                )
        return _train_conditional(
            data,
            out,
            members,
            seed,
            steps,
            batch_size,
            lr,
            ema,
            schedule,
            timesteps,
            resize,
            text,
            holdout,
            vae,
            vae_steps,
            device,
            arch,
        )
    dp_cfg = None
    if dp:
        steps = steps or 400
        dp_cfg = DPConfig(
            epsilon=epsilon,
            delta=delta,
            max_grad_norm=max_grad_norm,
            noise_multiplicity=noise_multiplicity,
            expected_batch_size=batch_size or 16,
            steps=steps,
        )
    steps = steps or 4000
    batch_size = batch_size or 64
    with user_errors():
        opts = TrainDiffusionOptions(
            data=data,
            out=out,
            members=members,
            seed=seed,
            split_design=split_design,
            train=DiffusionTrainConfig(
                steps=steps, batch_size=batch_size, lr=lr or 1e-3, ema_decay=ema, checkpoint_every=checkpoint_every
            ),
            schedule=Schedule(kind=schedule or "linear", T=timesteps),  # type: ignore[arg-type]
            base_channels=channels,
            channel_mult=_mult(channel_mult, "--channel-mult"),
            num_res_blocks=res_blocks,
            attention_resolutions=_mult(attention, "--attention") if attention else (),
            resize=parse_resize(resize),
            skip_bad=skip_bad,
            resume=resume,
            dp=dp_cfg,
            device=device,
        )
        with progress_bar("train diffusion" + (" (DP-SGD)" if dp else ""), steps) as advance:
            result = train_diffusion(opts, progress=advance)
    info(
        f"trained {result.n_parameters:,} parameters on {result.n_members} members for {result.steps} steps "
        f"in {result.seconds:.0f} s -> {result.out}"
    )
    if result.dp is not None:
        info(dp_summary(result.dp))


def train_classifier_cmd(
    data: str | None = typer.Argument(
        None,
        help="'digits', an image folder, an .npz, a metadata.jsonl listing or a "
        "CIFAR-10 batches folder [default: the data --model or --split names].",
    ),
    out: Path = typer.Option(..., "--out", help="Classifier folder to write."),
    model: Path | None = typer.Option(
        None,
        "--model",
        help="Model folder (cpaudit or diffusers): use its schedule, and its members and split where it records them.",
    ),
    split: Path | None = typer.Option(
        None,
        "--split",
        help="split.json naming the members, as `cpaudit split` writes it "
        "(for a model trained elsewhere, which records none).",
    ),
    members: str = typer.Option(
        "64",
        "--members",
        metavar="N|DIR|FILE",
        help="The training images (a folder, an .npz "
        "or a metadata.jsonl listing; give --holdout too), or without a model or split, how many "
        "members to draw from DATA.",
    ),
    holdout: str | None = typer.Option(
        None, "--holdout", help="With --members DIR|FILE: images of the same kind the model never saw."
    ),
    resize: str | None = typer.Option(
        None, "--resize", metavar="HxW", help="Read the images at this size, e.g. 32x32."
    ),
    seed: int = Seed,
    label_seed: int | None = typer.Option(
        None, "--label-seed", min=0, max=2**63 - 1, help="Seed of the random labels."
    ),
    steps: int = typer.Option(
        3000, "--steps", min=1, help="Maximum optimiser steps (stops early near the Bayes limit)."
    ),
    batch_size: int = typer.Option(128, "--batch-size", min=1, max=4096),
    lr: float = typer.Option(1e-3, "--lr", min=1e-7, max=1.0),
    channels: int | None = typer.Option(
        None,
        "--channels",
        min=4,
        max=1024,
        help="Classifier base width [default: 32; "
        "for a latent model, LATENT_CLASSIFIER_WIDTH in sampling/protection.py].",
    ),
    device: str = Device,
    quiet: bool = Quiet,
) -> None:
    """Train CPSample's random-label classifier p(y | x_t, t) on the members.

    Example: cpaudit train-classifier digits --model runs/model --out runs/classifier
    Example: cpaudit train-classifier --model sd-finetune --split split.json --out runs/classifier   # a model trained elsewhere
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        count, source = member_count_or_source(members)
        opts = TrainClassifierOptions(
            data=data,
            out=out,
            model=model,
            split=split,
            members=count,
            member_source=source,
            holdout_source=holdout,
            resize=parse_resize(resize),
            seed=seed,
            label_seed=label_seed,
            train=ClassifierTrainConfig(steps=steps, batch_size=batch_size, lr=lr),
            base_channels=channels,
            device=device,
        )
        with progress_bar("train classifier", steps) as advance:
            result = train_classifier(opts, progress=advance)
    acc = result.accuracy
    info(f"trained for {result.steps} steps in {result.seconds:.0f} s -> {result.out}")
    info(
        "member accuracy by t (learned / Bayes-optimal): "
        + ", ".join(f"t={t}: {a:.3f} / {b:.3f}" for t, a, b in zip(acc.t, acc.learned, acc.bayes))
    )
