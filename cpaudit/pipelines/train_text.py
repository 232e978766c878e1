"""`cpaudit train-diffusion DATA --text`: a small Stable-Diffusion-architecture pipeline trained on the
members' captioned images, saved as a diffusers pipeline folder (models/tiny_sd.py); `--arch sdxl`: the
SDXL architecture instead (models/tiny_sdxl.py: two text encoders, the pooled embedding and size/crop time
ids as added conditions, a StableDiffusionXLPipeline folder); `--arch sd3` / `--arch flux`: a rectified-flow
transformer instead of the UNet (models/tiny_flow.py, train/flow_objective.py), on 4-channel latents (FLUX packs
them 2x2 into 16-channel tokens), saved as a StableDiffusion3Pipeline / FluxPipeline folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpaudit.core.flow import FlowSchedule
from cpaudit.core.schedules import Schedule
from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.data.reference import ReferenceDraw, check_same_data, draw_reference, write_reference_split
from cpaudit.data.split import Split, make_split, read_manifest, write_split
from cpaudit.device import describe, resolve_device
from cpaudit.errors import InputError
from cpaudit.io_utils import read_json, write_json
from cpaudit.models.configured import ConfiguredModule
from cpaudit.models.diffusers_unet import BETA_SCHEDULES
from cpaudit.models.prompts import PromptEncoder, SDXLPromptEncoder
from cpaudit.models.sd_pipeline import load_diffusers_module
from cpaudit.models.sdxl_pipeline import add_time_ids
from cpaudit.models.tiny_flow import (
    PIPELINE_CLASS,
    TinyFlowConfig,
    TinyFluxConfig,
    TinySD3Config,
    flow_config_from_dict,
    flow_pipeline,
    flow_scheduler,
    flow_text_encoders,
    flow_tokenizers,
    flow_transformer,
    flow_vae,
    save_flow_pipeline,
)
from cpaudit.models.tiny_sd import TinySDConfig, save_pipeline, tiny_text_encoder, tiny_unet, tiny_vae, word_tokenizer
from cpaudit.models.tiny_sdxl import TinySDXLConfig, save_sdxl_pipeline, sdxl_text_encoders, sdxl_tokenizers, sdxl_unet
from cpaudit.provenance import provenance
from cpaudit.seeding import derive_seed, torch_generator
from cpaudit.train.flow_objective import FlowCond, FlowTrainConfig, flow_train_config, train_flow_transformer
from cpaudit.train.text_diffusion import TextTrainConfig, latent_scaling_factor, train_text_unet, train_vae
from cpaudit.version import __version__

# Stable Diffusion's schedule (scaled-linear betas 0.00085..0.012 over 1,000 steps).
TEXT_SCHEDULE = Schedule("scaled_linear", 1000, 0.00085, 0.012)
MIN_VAE_IMAGES = 64
ARCHITECTURES: dict[str, type[TinySDConfig | TinyFlowConfig]] = {  # --arch
    "sd": TinySDConfig,
    "sdxl": TinySDXLConfig,
    "sd3": TinySD3Config,
    "flux": TinyFluxConfig,
}
# SD3 / FLUX: the guidance the memorisation was measured at (classifier-free; FLUX's true_cfg_scale with the
# negative prompt ''), the loader's default for these folders; ../shared/calibration.md: 1, 3, 5 sample alike.
FLOW_GUIDANCE_SCALE = 4.0
FORCE_ZEROS_FOR_EMPTY_PROMPT = True  # SDXL base's setting: the unconditional half is zeros, in training as in sampling
Progress = Callable[[str, int, int, dict], None]  # (stage, step, total, metrics)


@dataclass(frozen=True)
class TrainTextOptions:
    data: str
    out: Path
    members: int | None = 64
    holdout: int | None = None  # default: up to 256 of the non-members; the rest train the autoencoder
    seed: int = 0
    train: TextTrainConfig | None = None  # None: the architecture's defaults (default_train_config)
    schedule: Schedule = TEXT_SCHEDULE
    arch: TinySDConfig | TinyFlowConfig = field(
        default_factory=TinySDConfig
    )  # TinySDXLConfig, TinySD3Config, TinyFluxConfig
    vae: Path | None = None  # reuse this pipeline's (or vae folder's) autoencoder instead of training one
    resize: tuple[int, int] | None = None
    device: str = "auto"
    # Train the reference model for this pipeline folder: its members drawn from images the folder's model never
    # saw (data/reference.py), its autoencoder on images that are none of those members; see reference_text_options.
    reference_for: Path | None = None

    def __post_init__(self) -> None:
        if self.train is None:  # a flow transformer trains at its own rate and length, not the UNet's
            object.__setattr__(self, "train", default_train_config(arch_name(self.arch)))

    @property
    def train_config(self) -> TextTrainConfig:
        """`train` as __post_init__ leaves it: never None (None there only asks for the architecture's defaults)."""
        if self.train is None:
            raise AssertionError("TrainTextOptions.__post_init__ sets train")
        return self.train


@dataclass
class TrainTextResult:
    out: Path
    steps: int
    seconds: float
    n_members: int
    n_parameters: int
    vae_seconds: float
    vae_source: str


def text_architecture(name: str) -> TinySDConfig | TinyFlowConfig:
    """--arch NAME's default sizes: 'sd' (Stable Diffusion 1.x), 'sdxl', 'sd3' or 'flux'."""
    if name not in ARCHITECTURES:
        raise InputError("--arch", f"{name!r} is not one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]()


def arch_name(arch: TinySDConfig | TinyFlowConfig) -> str:
    if isinstance(arch, TinyFlowConfig):
        return arch.family
    return "sdxl" if isinstance(arch, TinySDXLConfig) else "sd"


def default_train_config(arch: str, **given) -> TextTrainConfig:
    """--arch's training defaults with the options given (None: the default): the flow transformers' are
    train/flow_objective.py's (AdamW 4e-3, 100 autoencoder steps, 1,000 or 700 steps), the UNets' TextTrainConfig's."""
    if arch in ("sd3", "flux"):
        return flow_train_config(arch, **given)
    return TextTrainConfig(**{k: v for k, v in given.items() if v is not None})


def _check_data(opts: TrainTextOptions, data: ImageSet) -> list[str]:
    """The data's captions, after checking the images' shape fits the architecture."""
    if data.captions is None:
        raise InputError(
            opts.data,
            "has no captions; --text needs an image folder with metadata.jsonl "
            "({\"file_name\": ..., \"text\": ...} per line), an .npz with a 'captions' array, or 'captioned-digits'",
        )
    _, h, w = data.shape
    f = 2 ** (len(opts.arch.vae_channels) - 1)
    if h != w or h % (4 * f):
        raise InputError(
            opts.data,
            f"images are {h}x{w}; --text needs square images with sides a multiple of {4 * f} (pass --resize)",
        )
    return data.captions


def _split(opts: TrainTextOptions, data: ImageSet) -> tuple[Split, np.ndarray]:
    """Members, held-out images, and the rest (which trains the autoencoder, as a pretrained one saw neither)."""
    m = opts.members if opts.members is not None else len(data)
    holdout = opts.holdout if opts.holdout is not None else min(256, max(len(data) - m, 0) // 2)
    split = make_split(data, members=opts.members, seed=opts.seed, holdout=holdout)
    used = np.zeros(len(data), dtype=bool)
    used[split.member_idx] = used[split.holdout_idx] = True
    return split, np.flatnonzero(~used)


def _vae_rows(split: Split, pool: np.ndarray) -> tuple[np.ndarray, str]:
    """The images an autoencoder is trained on here: neither members nor held-out (as a pretrained one saw
    neither), or, with fewer than 64 of those, the members too."""
    if len(pool) >= MIN_VAE_IMAGES:
        return pool, "images that are neither members nor held-out"
    return np.concatenate([split.member_idx, pool]), "members and unused images (fewer than 64 unused images)"


def _autoencoder(
    opts: TrainTextOptions,
    data: ImageSet,
    split: Split,
    pool: np.ndarray,
    gen: torch.Generator,
    progress: Progress | None,
    device: torch.device,
) -> tuple[ConfiguredModule, str, float]:
    """The autoencoder to reuse (--vae) or one trained here, where it came from, and its training seconds
    (SD3 / FLUX: no quant convs)."""
    t0 = time.perf_counter()
    if opts.vae is not None:
        folder = Path(opts.vae) / "vae" if (Path(opts.vae) / "vae").is_dir() else Path(opts.vae)
        vae = load_diffusers_module(folder, "AutoencoderKL")
        if vae.config.in_channels != data.shape[0]:
            raise InputError(
                folder / "config.json",
                f"autoencoder takes {vae.config.in_channels} channels, the data has {data.shape[0]}",
            )
        return vae, str(folder), 0.0
    rows, source = _vae_rows(split, pool)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-vae"))
        if isinstance(opts.arch, TinyFlowConfig):
            vae = flow_vae(data.shape[0], data.shape[1], opts.arch)
        else:
            vae = tiny_vae(data.shape[0], data.shape[1], opts.arch)
    step = (lambda s, n, m: progress("autoencoder", s, n, m)) if progress else None
    vae = train_vae(vae, data.take(rows), opts.train_config, gen, progress=step, device=device)
    return vae, f"trained on {len(rows)} {source}", time.perf_counter() - t0


def _text_model(
    opts: TrainTextOptions, captions: list[str], latent_size: int, vae: ConfiguredModule, device: torch.device
) -> tuple[ConfiguredModule, PromptEncoder | SDXLPromptEncoder, Callable]:
    """The untrained UNet, the frozen prompt encoder on `device`, and save(out, unet, vae) writing the pipeline
    folder: SD 1.x's one encoder, or SDXL's two with the text-time added conditioning (opts.arch's type)."""
    arch = opts.arch
    if isinstance(arch, TinySDXLConfig):
        return _sdxl_text_model(opts, arch, captions, latent_size, vae, device)
    if not isinstance(arch, TinySDConfig):
        raise TypeError(f"a UNet architecture (TinySDConfig or TinySDXLConfig), not {type(arch).__name__}")
    tokenizer = word_tokenizer(captions, arch.max_length)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-text-encoder"))
        encoder = tiny_text_encoder(tokenizer, arch)
        torch.manual_seed(derive_seed(opts.seed, "init-diffusion"))
        unet = tiny_unet(latent_size, arch)
    encoder = encoder.to(device)
    return (
        unet,
        PromptEncoder(tokenizer, encoder),
        lambda out, unet, vae: save_pipeline(out, unet, vae, encoder.cpu(), tokenizer, opts.schedule),
    )


def _sdxl_text_model(
    opts: TrainTextOptions,
    arch: TinySDXLConfig,
    captions: list[str],
    latent_size: int,
    vae: ConfiguredModule,
    device: torch.device,
) -> tuple[ConfiguredModule, SDXLPromptEncoder, Callable]:
    """_text_model for SDXL: two tokenizers and text encoders, and the size/crop time ids the UNet's added
    embedding takes with the pooled prompt."""
    tokenizer, tokenizer_2 = sdxl_tokenizers(captions, arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-text-encoder"))
        encoder, encoder_2 = sdxl_text_encoders(tokenizer, tokenizer_2, arch)
        torch.manual_seed(derive_seed(opts.seed, "init-diffusion"))
        unet = sdxl_unet(latent_size, arch)
    encoder, encoder_2 = encoder.to(device), encoder_2.to(device)
    time_ids = add_time_ids(unet, vae, arch.projection_dim, Path("--arch sdxl"))
    prompts = SDXLPromptEncoder(tokenizer, tokenizer_2, encoder, encoder_2, time_ids, FORCE_ZEROS_FOR_EMPTY_PROMPT)
    return (
        unet,
        prompts,
        lambda out, unet, vae: save_sdxl_pipeline(
            out,
            unet,
            vae,
            encoder.cpu(),
            encoder_2.cpu(),
            tokenizer,
            tokenizer_2,
            opts.schedule,
            FORCE_ZEROS_FOR_EMPTY_PROMPT,
        ),
    )


@torch.no_grad()
def latent_shift_and_scale(vae: ConfiguredModule, images: torch.Tensor, batch: int = 256) -> tuple[float, float]:
    """(shift_factor, scaling_factor): the mean and 1 / std of the posterior-mean latents of `images`, so that
    (z - shift) * scale has zero mean and unit variance, as SD3's and FLUX's autoencoders record them
    (`latents = (latents - shift_factor) * scaling_factor` in their pipelines and training scripts)."""
    dev = next(vae.parameters()).device
    z = torch.cat(
        [
            vae.encode(images[i : i + batch].to(dev)).latent_dist.mean.double().cpu()
            for i in range(0, len(images), batch)
        ]
    )
    return float(z.mean()), float(1.0 / z.std())


def _flow_velocity(family: str, transformer: torch.nn.Module, text_ids: torch.Tensor | None):
    """The transformer called as the pipeline calls it, on (B, C, H, W) latents: SD3 takes 1000 sigma; FLUX
    takes sigma (it multiplies by 1000 itself) on the latents packed 2x2 into tokens, with position ids."""
    from diffusers import FluxPipeline

    if family == "sd3":
        return lambda x, sigma, embeds, pooled: transformer(
            hidden_states=x,
            timestep=sigma * 1000,
            encoder_hidden_states=embeds,
            pooled_projections=pooled,
            return_dict=False,
        )[0]

    if text_ids is None:
        raise ValueError("FLUX's transformer takes the text position ids its pipeline's encode_prompt returns")

    def flux(x, sigma, embeds, pooled):
        b, c, h, w = x.shape
        img_ids = FluxPipeline._prepare_latent_image_ids(b, h // 2, w // 2, x.device, x.dtype)
        out = transformer(
            hidden_states=FluxPipeline._pack_latents(x, b, c, h, w),
            timestep=sigma,
            guidance=None,
            pooled_projections=pooled,
            encoder_hidden_states=embeds,
            txt_ids=text_ids.to(x.device),
            img_ids=img_ids,
            return_dict=False,
        )[0]
        return FluxPipeline._unpack_latents(out, h, w, 1)

    return flux


@torch.no_grad()
def _flow_condition(
    pipe, family: str, captions: list[str], max_sequence_length: int
) -> tuple[FlowCond, torch.Tensor | None]:
    """Each caption's and the empty prompt's embeddings from the pipeline's own `encode_prompt` (what sampling
    feeds the transformer), and FLUX's text position ids."""

    def encode(prompts):
        if family == "flux":
            embeds, pooled, text_ids = pipe.encode_prompt(
                prompts, None, device="cpu", max_sequence_length=max_sequence_length
            )
            return embeds, pooled, text_ids
        embeds, _, pooled, _ = pipe.encode_prompt(
            prompts,
            None,
            None,
            device="cpu",
            do_classifier_free_guidance=False,
            max_sequence_length=max_sequence_length,
        )
        return embeds, pooled, None

    embeds, pooled, text_ids = encode(captions)
    empty_embeds, empty_pooled, _ = encode([""])
    return FlowCond(embeds, pooled, empty_embeds, empty_pooled), text_ids


def _train_flow(
    opts: TrainTextOptions,
    data: ImageSet,
    captions: list[str],
    split: Split,
    pool: np.ndarray,
    vae: ConfiguredModule,
    gen: torch.Generator,
    progress: Progress | None,
    device: torch.device,
) -> tuple[torch.nn.Module, Callable]:
    """The trained SD3 / FLUX transformer and save(out) writing the pipeline folder. The autoencoder's
    shift and scale are measured on the images it is trained on (as a pretrained one's are), not the members."""
    arch = opts.arch
    assert isinstance(arch, TinyFlowConfig)
    if getattr(arch, "guidance_embeds", False):
        raise InputError(
            "--arch flux",
            "a guidance-distilled transformer (guidance_embeds) needs a teacher; train with guidance_embeds=False",
        )
    train = opts.train_config
    cfg = train if isinstance(train, FlowTrainConfig) else FlowTrainConfig(**train.__dict__)
    rows, _ = _vae_rows(split, pool)
    shift, scale = latent_shift_and_scale(vae.to(device), data.take(rows))
    vae.register_to_config(shift_factor=shift, scaling_factor=scale)
    latent_size = data.shape[1] // 2 ** (len(arch.vae_channels) - 1)
    tokenizers = flow_tokenizers(captions, arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(opts.seed, "init-text-encoder"))
        encoders = flow_text_encoders(tokenizers, arch)
        torch.manual_seed(derive_seed(opts.seed, "init-diffusion"))
        transformer = flow_transformer(latent_size, arch)
    schedule = FlowSchedule(shift=arch.shift, dynamic=arch.dynamic_shift, pipeline=arch.family)
    scheduler = flow_scheduler(arch.shift, arch.dynamic_shift)
    pipe = flow_pipeline(arch.family, transformer, vae.cpu(), scheduler, encoders, tokenizers)
    cond, text_ids = _flow_condition(
        pipe, arch.family, [captions[i] for i in split.member_idx], arch.max_sequence_length
    )
    members = data.take(split.member_idx)
    with torch.no_grad():
        dev_vae = vae.to(device)
        latents = (dev_vae.encode(members.to(device)).latent_dist.mean - shift) * scale
    step = (lambda s, n, m: progress("denoiser", s, n, m)) if progress else None
    velocity = _flow_velocity(arch.family, transformer, text_ids)
    grid = schedule.training_sigmas().flip(0)  # descending, as the scheduler's after __init__
    transformer = train_flow_transformer(
        transformer, velocity, latents, cond, grid, cfg, gen, progress=step, device=device
    )
    return transformer, lambda out: save_flow_pipeline(
        out, arch.family, transformer.cpu(), vae.cpu(), scheduler, encoders, tokenizers
    )


def train_text_diffusion(opts: TrainTextOptions, progress: Progress | None = None) -> TrainTextResult:
    if opts.train_config.steps < 1 or opts.train_config.vae_steps < 1:
        raise InputError("--steps", "must be >= 1")
    if isinstance(opts.arch, TinyFlowConfig) and opts.schedule != TEXT_SCHEDULE:
        raise InputError(
            "--schedule",
            f"does not apply to --arch {arch_name(opts.arch)}: its scheduler is a "
            f"FlowMatchEulerDiscreteScheduler (shift {opts.arch.shift})",
        )
    device = resolve_device(opts.device)
    data = load_data(opts.data, resize=opts.resize)
    captions = _check_data(opts, data)
    draw = _reference_draw(opts, data)
    split, pool = _split(opts, data) if draw is None else _reference_pool(draw, len(data))
    result = _train_and_save(opts, data, captions, split, pool, progress, device)
    if draw is not None:
        _record_reference(Path(opts.out), data, draw)
    return result


def _train_and_save(
    opts: TrainTextOptions,
    data: ImageSet,
    captions: list[str],
    split: Split,
    pool: np.ndarray,
    progress: Progress | None,
    device: torch.device,
) -> TrainTextResult:
    """Train the autoencoder (or reuse --vae's) and the denoiser on the split's members; write the folder."""
    gen = torch_generator(derive_seed(opts.seed, "train-text"))
    t0 = time.perf_counter()
    vae, vae_source, vae_seconds = _autoencoder(opts, data, split, pool, gen, progress, device)
    if isinstance(opts.arch, TinyFlowConfig):
        model, save_flow = _train_flow(opts, data, captions, split, pool, vae, gen, progress, device)
        return _finish(opts, data, split, model, save_flow, t0, vae_source, vae_seconds, device)
    members = data.take(split.member_idx)
    vae.register_to_config(scaling_factor=latent_scaling_factor(vae, members))
    latent_size = data.shape[1] // 2 ** (len(opts.arch.vae_channels) - 1)
    unet, prompts, save = _text_model(opts, captions, latent_size, vae, device)
    # Each member's caption and the unconditional input, as the sampler's classifier-free guidance builds them.
    cond = prompts.condition([captions[i] for i in split.member_idx], 1.0)
    with torch.no_grad():
        dev_vae = vae.to(device)
        latents = dev_vae.encode(members.to(device)).latent_dist.mean * dev_vae.config.scaling_factor
    step = (lambda s, n, m: progress("denoiser", s, n, m)) if progress else None
    trained = train_text_unet(unet, latents, cond, opts.schedule, opts.train_config, gen, progress=step, device=device)
    return _finish(
        opts, data, split, trained, lambda out: save(out, trained.cpu(), vae.cpu()), t0, vae_source, vae_seconds, device
    )


def _reference_draw(opts: TrainTextOptions, data: ImageSet) -> ReferenceDraw | None:
    """The reference model's split (opts.reference_for), after checking the data is the one the model trained on."""
    if opts.reference_for is None:
        return None
    record = read_json(Path(opts.reference_for) / "cpaudit.json")
    check_same_data(opts.reference_for, record, data)
    return draw_reference(opts.reference_for, data, opts.seed)


def _reference_pool(draw: ReferenceDraw, n: int) -> tuple[Split, np.ndarray]:
    """The reference's split and its autoencoder's images: neither its members nor held-out, and none of the
    audited model's members (a decoder trained on them could draw them)."""
    used = np.zeros(n, dtype=bool)
    used[draw.split.member_idx] = used[draw.split.holdout_idx] = used[draw.model_members] = True
    return draw.split, np.flatnonzero(~used)


def _record_reference(out: Path, data: ImageSet, draw: ReferenceDraw) -> None:
    """split.json and cpaudit.json say which model this is the reference for."""
    write_reference_split(out / "split.json", data, draw)
    record = read_json(out / "cpaudit.json")
    write_json(out / "cpaudit.json", {**record, "reference_for": draw.reference_for})


def reference_text_options(model: Path, record: dict, out: Path, seed: int, device: str) -> TrainTextOptions:
    """The options that trained the pipeline folder `model` (its cpaudit.json, `record`), for a reference model
    written to `out`: same data, architecture, training, schedule and autoencoder source; the members differ."""
    folder = Path(model)
    arch_dict = record["architecture"]
    name = record["arch"]
    arch = flow_config_from_dict(arch_dict) if name in ("sd3", "flux") else ARCHITECTURES[name].from_dict(arch_dict)
    trained_vae = str(record.get("vae_source", "trained")).startswith("trained on")
    _, h, w = read_manifest(folder / "split.json")["image_shape"]
    return TrainTextOptions(
        record["data"],
        out,
        int(record["n_members"]),
        int(record["n_holdout"]),
        seed,
        default_train_config(name, **record["train"]),
        _recorded_schedule(folder, arch),
        arch,
        vae=None if trained_vae else Path(record["vae_source"]),
        resize=(h, w),
        device=device,
        reference_for=folder,
    )


def _recorded_schedule(folder: Path, arch: TinySDConfig | TinyFlowConfig) -> Schedule:
    """The UNet's noise schedule as its scheduler config records it (a flow transformer's is fixed)."""
    if isinstance(arch, TinyFlowConfig):
        return TEXT_SCHEDULE
    cfg = read_json(folder / "scheduler" / "scheduler_config.json")
    kind = BETA_SCHEDULES[cfg["beta_schedule"]]
    return Schedule(kind, int(cfg["num_train_timesteps"]), float(cfg["beta_start"]), float(cfg["beta_end"]))


def _finish(
    opts: TrainTextOptions,
    data: ImageSet,
    split: Split,
    model: torch.nn.Module,
    save: Callable[[Path], None],
    t0: float,
    vae_source: str,
    vae_seconds: float,
    device: torch.device,
) -> TrainTextResult:
    """Write the pipeline folder, split.json and cpaudit.json (what was trained on what, how); a flow
    pipeline's also records the image shape (FLUX's transformer has no sample_size), the T5 sequence length
    its prompts were encoded at, and its pipeline class."""
    seconds = time.perf_counter() - t0
    out = Path(opts.out)
    save(out)
    write_split(out / "split.json", data, split)
    record: dict[str, Any] = {
        "kind": "cpaudit-text-diffusion",
        "cpaudit_version": __version__,
        "data": data.source,
        "data_fingerprint": data.fingerprint(),
        "conditions_fingerprint": data.conditions_fingerprint(),
        "seed": opts.seed,
        "n_members": len(split.member_idx),
        "n_holdout": len(split.holdout_idx),
        "train": {**opts.train_config.__dict__},
        "arch": arch_name(opts.arch),
        "architecture": opts.arch.to_dict(),
        "vae_source": vae_source,
        "vae_seconds": round(vae_seconds, 2),
        "train_seconds": round(seconds, 2),
        "device": describe(device),
        "provenance": provenance(device),
    }
    if isinstance(opts.arch, TinyFlowConfig):
        record.update(
            {
                "pipeline": PIPELINE_CLASS[opts.arch.family],
                "image_shape": list(data.shape),
                "image_size": int(data.shape[1]),
                "max_sequence_length": opts.arch.max_sequence_length,
                "default_guidance_scale": FLOW_GUIDANCE_SCALE,
            }
        )
    write_json(out / "cpaudit.json", record)
    n_params = sum(p.numel() for p in model.parameters())
    return TrainTextResult(
        out, opts.train_config.steps, seconds, len(split.member_idx), n_params, vae_seconds, vae_source
    )
