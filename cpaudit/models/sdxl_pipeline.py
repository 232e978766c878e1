"""Stable Diffusion XL base pipeline folders as diffusers' StableDiffusionXLPipeline.save_pretrained writes them
(diffusers/pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py): `unet/` UNet2DConditionModel with
`addition_embed_type="text_time"`, `vae/` AutoencoderKL, `text_encoder/` CLIPTextModel, `text_encoder_2/`
CLIPTextModelWithProjection, `tokenizer/` and `tokenizer_2/` CLIPTokenizer, `scheduler/`, and
`force_zeros_for_empty_prompt` in model_index.json. Read from disk only, as sd_pipeline.py reads SD 1.x.

The prompt encoder (models/prompts.py SDXLPromptEncoder) follows `encode_prompt`; the time ids are the
pipeline's defaults for a call without sizes: original size = target size = the image size (unet sample_size
x vae scale factor), crop (0, 0) (`__call__`, `_get_add_time_ids`). A LoRA goes through
StableDiffusionXLLoraLoaderMixin (diffusers/loaders/lora_pipeline.py) in pipeline_lora.apply_lora.
The refiner (StableDiffusionXLImg2ImgPipeline, `requires_aesthetics_score`, no `text_encoder`) is refused:
it refines a base model's images and is never sampled alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cpaudit.errors import InputError
from cpaudit.models.configured import ConfiguredModule
from cpaudit.models.pipeline_lora import apply_lora
from cpaudit.models.pipeline_parts import (
    SUPPORTED,
    PipelineParts,
    assemble_parts,
    component_class,
    latent_size,
    load_clip_text_encoder,
    load_diffusers_module,
    load_tokenizer,
    read_scheduler,
    vae_factor,
)
from cpaudit.models.prompts import SDXLPromptEncoder

SDXL_PIPELINE = "StableDiffusionXLPipeline"
COMPONENTS = {
    "unet": ("UNet2DConditionModel",),
    "vae": ("AutoencoderKL",),
    "text_encoder": ("CLIPTextModel",),
    "text_encoder_2": ("CLIPTextModelWithProjection",),
    "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast"),
    "tokenizer_2": ("CLIPTokenizer", "CLIPTokenizerFast"),
    "scheduler": None,
}


def check_sdxl_supported(folder: Path, index: dict) -> None:
    """Refuse, in one line each, the SDXL refiner, other SDXL pipeline classes and missing or unexpected components."""
    where = folder / "model_index.json"
    name = str(index.get("_class_name", "")) or SDXL_PIPELINE
    refiner = (
        "Img2Img" in name or index.get("requires_aesthetics_score") or component_class(index, "text_encoder") is None
    )
    if refiner:
        raise InputError(
            where,
            f"{name} is an SDXL refiner / image-to-image pipeline (requires_aesthetics_score, no "
            f"text_encoder), which refines a base model's images and is not sampled alone; cpaudit supports {SUPPORTED}",
        )
    if name != SDXL_PIPELINE:
        raise InputError(
            where,
            f"{name} is not a text-to-image {SDXL_PIPELINE}, which is the SDXL pipeline cpaudit "
            f"supports; cpaudit supports {SUPPORTED}",
        )
    for key, classes in COMPONENTS.items():
        if component_class(index, key) is None or not (folder / key).is_dir():
            raise InputError(folder / key, f"missing: an SDXL pipeline needs {key}/; cpaudit supports {SUPPORTED}")
        if classes is not None and component_class(index, key) not in classes:
            raise InputError(
                where,
                f"{key} is {component_class(index, key)!r}, which is not supported (expected "
                f"{' or '.join(classes)}); cpaudit supports {SUPPORTED}",
            )


def add_time_ids(unet: ConfiguredModule, vae: ConfiguredModule, projection_dim: int, where: Path) -> tuple[int, ...]:
    """(h, w, 0, 0, h, w): `_get_add_time_ids` with the pipeline's default sizes, and its check that the time ids
    and the pooled embedding fill the UNet's added embedding (`add_embedding.linear_1.in_features`)."""
    if unet.config.addition_embed_type != "text_time":
        raise InputError(
            where, f"addition_embed_type is {unet.config.addition_embed_type!r}; an SDXL UNet has 'text_time'"
        )
    h, w = (s * vae_factor(vae) for s in latent_size(unet))
    ids = (h, w, 0, 0, h, w)
    passed = unet.config.addition_time_embed_dim * len(ids) + projection_dim
    expected = unet.add_embedding.linear_1.in_features
    if passed != expected:
        raise InputError(
            where,
            f"the added embedding takes {expected} values, but six time ids of "
            f"{unet.config.addition_time_embed_dim} and text_encoder_2's projection_dim {projection_dim} make {passed}",
        )
    return ids


def _check_encoders(
    folder: Path, unet: ConfiguredModule, te1: ConfiguredModule, te2: ConfiguredModule, tok1: Any, tok2: Any
) -> None:
    where = folder / "unet" / "config.json"
    width = te1.config.hidden_size + te2.config.hidden_size
    if unet.config.cross_attention_dim != width:
        raise InputError(
            where,
            f"cross_attention_dim {unet.config.cross_attention_dim} differs from the two text encoders' "
            f"hidden sizes {te1.config.hidden_size} + {te2.config.hidden_size}",
        )
    if tok1.model_max_length != tok2.model_max_length:
        raise InputError(
            folder / "tokenizer_2",
            f"model_max_length {tok2.model_max_length} differs from tokenizer's "
            f"{tok1.model_max_length} (their embeddings are concatenated position by position)",
        )


def load_sdxl_parts(folder: Path, index: dict, lora: Path | None = None) -> PipelineParts:
    """An SDXL folder's denoiser, VAE, prompt encoder and schedule (check_sdxl_supported first)."""
    sched_cfg, schedule = read_scheduler(folder)
    unet = load_diffusers_module(folder / "unet", "UNet2DConditionModel")
    vae = load_diffusers_module(folder / "vae", "AutoencoderKL")
    if getattr(vae.config, "latents_mean", None) is not None or getattr(vae.config, "latents_std", None) is not None:
        raise InputError(
            folder / "vae" / "config.json",
            "latents_mean / latents_std (per-channel latent normalisation) "
            f"is not supported; cpaudit supports {SUPPORTED}",
        )
    te1 = load_clip_text_encoder(folder / "text_encoder", "CLIPTextModel")
    te2 = load_clip_text_encoder(folder / "text_encoder_2", "CLIPTextModelWithProjection")
    tok1, tok2 = load_tokenizer(folder / "tokenizer"), load_tokenizer(folder / "tokenizer_2")
    _check_encoders(folder, unet, te1, te2, tok1, tok2)
    time_ids = add_time_ids(unet, vae, int(te2.config.projection_dim), folder / "unet" / "config.json")
    lora_info = None if lora is None else apply_lora(Path(lora), unet, te1, te2)
    force_zeros = bool(index.get("force_zeros_for_empty_prompt", True))  # the pipeline's __init__ default
    prompts = SDXLPromptEncoder(tok1, tok2, te1, te2, time_ids, force_zeros)
    parts = assemble_parts(folder, index, sched_cfg, schedule, unet, vae, prompts, lora_info)
    parts.record.update(force_zeros_for_empty_prompt=force_zeros, time_ids=list(time_ids))
    return parts
