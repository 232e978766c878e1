"""`cpaudit train-diffusion DATA --text`: a small Stable-Diffusion-architecture pipeline trained on the
members' captioned images, saved as a diffusers pipeline folder (models/tiny_sd.py); `--arch sdxl`: the
SDXL architecture instead (models/tiny_sdxl.py: two text encoders, the pooled embedding and size/crop time
ids as added conditions, a StableDiffusionXLPipeline folder)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cpaudit.core.schedules import Schedule
from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.data.split import Split, make_split, write_split
from cpaudit.device import describe, resolve_device
from cpaudit.errors import InputError
from cpaudit.io_utils import write_json
from cpaudit.models.prompts import PromptEncoder, SDXLPromptEncoder
from cpaudit.models.sd_pipeline import load_diffusers_module
from cpaudit.models.sdxl_pipeline import add_time_ids
from cpaudit.models.tiny_sd import TinySDConfig, save_pipeline, tiny_text_encoder, tiny_unet, tiny_vae, word_tokenizer
from cpaudit.models.tiny_sdxl import TinySDXLConfig, save_sdxl_pipeline, sdxl_text_encoders, sdxl_tokenizers, sdxl_unet
from cpaudit.seeding import derive_seed, torch_generator
from cpaudit.train.text_diffusion import TextTrainConfig, latent_scaling_factor, train_text_unet, train_vae
from cpaudit.version import __version__

# Stable Diffusion's schedule (scaled-linear betas 0.00085..0.012 over 1,000 steps).
TEXT_SCHEDULE = Schedule("scaled_linear", 1000, 0.00085, 0.012)
MIN_VAE_IMAGES = 64
ARCHITECTURES: dict[str, type[TinySDConfig]] = {"sd": TinySDConfig, "sdxl": TinySDXLConfig}  # --arch
FORCE_ZEROS_FOR_EMPTY_PROMPT = True  # SDXL base's setting: the unconditional half is zeros, in training as in sampling
Progress = Callable[[str, int, int, dict], None]  # (stage, step, total, metrics)


@dataclass(frozen=True)
class TrainTextOptions:
    data: str
    out: Path
    members: int | None = 64
    holdout: int | None = None  # default: up to 256 of the non-members; the rest train the autoencoder
    seed: int = 0
    train: TextTrainConfig = field(default_factory=TextTrainConfig)
    schedule: Schedule = TEXT_SCHEDULE
    arch: TinySDConfig = field(default_factory=TinySDConfig)  # a TinySDXLConfig trains the SDXL architecture
    vae: Path | None = None  # reuse this pipeline's (or vae folder's) autoencoder instead of training one
    resize: tuple[int, int] | None = None
    device: str = "auto"


@dataclass
class TrainTextResult:
    out: Path
    steps: int
    seconds: float
    n_members: int
    n_parameters: int
    vae_seconds: float
    vae_source: str


def text_architecture(name: str) -> TinySDConfig:
    """--arch NAME's default sizes: 'sd' (Stable Diffusion 1.x) or 'sdxl'."""
    if name not in ARCHITECTURES:
        raise InputError("--arch", f"{name!r} is not one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]()


def arch_name(arch: TinySDConfig) -> str:
    return "sdxl" if isinstance(arch, TinySDXLConfig) else "sd"


def _check_data(opts: TrainTextOptions, data: ImageSet) -> None:
    if data.captions is None:
        raise InputError(opts.data, "has no captions; --text needs an image folder with metadata.jsonl "
                         "({\"file_name\": ..., \"text\": ...} per line), an .npz with a 'captions' array, or 'captioned-digits'")
    _, h, w = data.shape
    f = 2 ** (len(opts.arch.vae_channels) - 1)
    if h != w or h % (4 * f):
        raise InputError(opts.data, f"images are {h}x{w}; --text needs square images with sides a multiple of {4 * f} (pass --resize)")


def _split(opts: TrainTextOptions, data: ImageSet) -> tuple[Split, np.ndarray]:
    """Members, held-out images, and the rest (which trains the autoencoder, as a pretrained one saw neither)."""
    m = opts.members if opts.members is not None else len(data)
    holdout = opts.holdout if opts.holdout is not None else min(256, max(len(data) - m, 0) // 2)
    split = make_split(data, members=opts.members, seed=opts.seed, holdout=holdout)
    used = np.zeros(len(data), dtype=bool)
    used[split.member_idx] = used[split.holdout_idx] = True
    return split, np.flatnonzero(~used)


def _autoencoder(opts: TrainTextOptions, data: ImageSet, split: Split, pool: np.ndarray, gen: torch.Generator,
                 progress: Progress | None, device: torch.device) -> tuple[torch.nn.Module, str, float]:
    """The autoencoder to reuse (--vae) or one trained here, where it came from, and its training seconds."""
    t0 = time.perf_counter()
    if opts.vae is not None:
        folder = Path(opts.vae) / "vae" if (Path(opts.vae) / "vae").is_dir() else Path(opts.vae)
        vae = load_diffusers_module(folder, "AutoencoderKL")
        if vae.config.in_channels != data.shape[0]:
            raise InputError(folder / "config.json", f"autoencoder takes {vae.config.in_channels} channels, the data has {data.shape[0]}")
        return vae, str(folder), 0.0
    rows, source = (pool, "images that are neither members nor held-out") if len(pool) >= MIN_VAE_IMAGES else (
        np.concatenate([split.member_idx, pool]), "members and unused images (fewer than 64 unused images)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-vae"))
        vae = tiny_vae(data.shape[0], data.shape[1], opts.arch)
    step = (lambda s, n, m: progress("autoencoder", s, n, m)) if progress else None
    vae = train_vae(vae, data.take(rows), opts.train, gen, progress=step, device=device)
    return vae, f"trained on {len(rows)} {source}", time.perf_counter() - t0


def _text_model(opts: TrainTextOptions, captions: list[str], latent_size: int, vae: torch.nn.Module,
                device: torch.device) -> tuple[torch.nn.Module, PromptEncoder | SDXLPromptEncoder, Callable]:
    """The untrained UNet, the frozen prompt encoder on `device`, and save(out, unet, vae) writing the pipeline
    folder: SD 1.x's one encoder, or SDXL's two with the text-time added conditioning (opts.arch's type)."""
    arch = opts.arch
    sdxl = isinstance(arch, TinySDXLConfig)
    tokenizers = sdxl_tokenizers(captions, arch) if sdxl else (word_tokenizer(captions, arch.max_length),)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-text-encoder"))
        encoders = sdxl_text_encoders(*tokenizers, arch) if sdxl else (tiny_text_encoder(tokenizers[0], arch),)
        torch.manual_seed(derive_seed(opts.seed, "init-diffusion"))
        unet = (sdxl_unet if sdxl else tiny_unet)(latent_size, arch)
    encoders = tuple(e.to(device) for e in encoders)
    if not sdxl:
        return unet, PromptEncoder(tokenizers[0], encoders[0]), lambda out, unet, vae: save_pipeline(
            out, unet, vae, encoders[0].cpu(), tokenizers[0], opts.schedule)
    time_ids = add_time_ids(unet, vae, arch.projection_dim, Path("--arch sdxl"))
    prompts = SDXLPromptEncoder(tokenizers[0], tokenizers[1], encoders[0], encoders[1], time_ids, FORCE_ZEROS_FOR_EMPTY_PROMPT)
    return unet, prompts, lambda out, unet, vae: save_sdxl_pipeline(
        out, unet, vae, encoders[0].cpu(), encoders[1].cpu(), *tokenizers, opts.schedule, FORCE_ZEROS_FOR_EMPTY_PROMPT)


def train_text_diffusion(opts: TrainTextOptions, progress: Progress | None = None) -> TrainTextResult:
    if opts.train.steps < 1 or opts.train.vae_steps < 1:
        raise InputError("--steps", "must be >= 1")
    device = resolve_device(opts.device)
    data = load_data(opts.data, resize=opts.resize)
    _check_data(opts, data)
    split, pool = _split(opts, data)
    gen = torch_generator(derive_seed(opts.seed, "train-text"))
    t0 = time.perf_counter()
    vae, vae_source, vae_seconds = _autoencoder(opts, data, split, pool, gen, progress, device)
    members = data.take(split.member_idx)
    vae.register_to_config(scaling_factor=latent_scaling_factor(vae, members))
    latent_size = data.shape[1] // 2 ** (len(opts.arch.vae_channels) - 1)
    unet, prompts, save = _text_model(opts, data.captions, latent_size, vae, device)
    # Each member's caption and the unconditional input, as the sampler's classifier-free guidance builds them.
    cond = prompts.condition([data.captions[i] for i in split.member_idx], 1.0)
    with torch.no_grad():
        dev_vae = vae.to(device)
        latents = dev_vae.encode(members.to(device)).latent_dist.mean * dev_vae.config.scaling_factor
    step = (lambda s, n, m: progress("denoiser", s, n, m)) if progress else None
    unet = train_text_unet(unet, latents, cond, opts.schedule, opts.train, gen, progress=step, device=device)
    seconds = time.perf_counter() - t0
    out = Path(opts.out)
    save(out, unet.cpu(), vae.cpu())
    write_split(out / "split.json", data, split)
    write_json(out / "cpaudit.json", {
        "kind": "cpaudit-text-diffusion", "cpaudit_version": __version__, "data": data.source,
        "data_fingerprint": data.fingerprint(), "conditions_fingerprint": data.conditions_fingerprint(), "seed": opts.seed,
        "n_members": len(split.member_idx), "n_holdout": len(split.holdout_idx), "train": {**opts.train.__dict__},
        "arch": arch_name(opts.arch), "architecture": opts.arch.to_dict(), "vae_source": vae_source,
        "vae_seconds": round(vae_seconds, 2), "train_seconds": round(seconds, 2), "device": describe(device),
    })
    n_params = sum(p.numel() for p in unet.parameters())
    return TrainTextResult(out, opts.train.steps, seconds, len(split.member_idx), n_params, vae_seconds, vae_source)
