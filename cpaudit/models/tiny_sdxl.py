"""A small Stable-Diffusion-XL-architecture pipeline built from configs alone (no download): two in-memory
word tokenizers (models/tiny_sd.py word_tokenizer; the second pads with '!', as SDXL's tokenizer_2 does), a
CLIPTextModel and a CLIPTextModelWithProjection whose penultimate hidden states are concatenated
(cross_attention_dim = width_1 + width_2), a UNet2DConditionModel with SDXL's added conditioning
(`addition_embed_type="text_time"`: the pooled, projected output of encoder 2 plus six size/crop ids, each
embedded in `addition_time_embed_dim` sinusoids), an AutoencoderKL, saved as the folder diffusers'
StableDiffusionXLPipeline.save_pretrained writes
(diffusers/pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py: `encode_prompt`, `_get_add_time_ids`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpaudit.core.schedules import Schedule
from cpaudit.models.tiny_sd import (
    TinySDConfig,
    clip_text_config,
    ddim_scheduler,
    save_quietly,
    tiny_unet,
    tiny_vae,
    word_tokenizer,
)

SDXL_PAD = "!"  # tokenizer_2's pad token in stabilityai/stable-diffusion-xl-base-1.0
N_TIME_IDS = (
    6  # original size (2), crop top-left (2), target size (2): pipeline_stable_diffusion_xl.py `_get_add_time_ids`
)
SDXL_VAE_SCALING = 0.13025  # stabilityai/stable-diffusion-xl-base-1.0 vae/config.json


@dataclass(frozen=True)
class TinySDXLConfig(TinySDConfig):
    """TinySDConfig's fields (text_* are encoder 1's) plus encoder 2's and the added time embedding's sizes."""

    text_width_2: int = 32
    text_layers_2: int = 2
    text_heads_2: int = 4
    projection_dim: int = 32  # encoder 2's pooled projection: the UNet's added text embedding
    addition_time_embed_dim: int = 8  # per time id

    @property
    def cross_attention_dim(self) -> int:
        return self.text_width + self.text_width_2

    @property
    def added_embedding_dim(self) -> int:
        """UNet2DConditionModel's projection_class_embeddings_input_dim: the pooled embedding plus the time ids."""
        return self.projection_dim + N_TIME_IDS * self.addition_time_embed_dim


def sdxl_tokenizers(captions: list[str], cfg: TinySDXLConfig):
    """(tokenizer, tokenizer_2): the same word vocabulary; the second pads with '!' as SDXL's does."""
    return word_tokenizer(captions, cfg.max_length), word_tokenizer(captions, cfg.max_length, pad_token=SDXL_PAD)


def sdxl_text_encoders(tokenizer, tokenizer_2, cfg: TinySDXLConfig):
    """(CLIPTextModel, CLIPTextModelWithProjection), frozen, as SDXL's text_encoder and text_encoder_2."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    te1 = CLIPTextModel(clip_text_config(tokenizer, cfg.text_width, cfg.text_layers, cfg.text_heads, cfg.max_length))
    te2 = CLIPTextModelWithProjection(
        clip_text_config(
            tokenizer_2,
            cfg.text_width_2,
            cfg.text_layers_2,
            cfg.text_heads_2,
            cfg.max_length,
            projection_dim=cfg.projection_dim,
        )
    )
    return te1.eval().requires_grad_(False), te2.eval().requires_grad_(False)


def sdxl_unet(latent_size: int, cfg: TinySDXLConfig):
    """tiny_sd's UNet with SDXL's added text-time conditioning and linear attention projections."""
    return tiny_unet(
        latent_size,
        cfg,
        cross_attention_dim=cfg.cross_attention_dim,
        addition_embed_type="text_time",
        addition_time_embed_dim=cfg.addition_time_embed_dim,
        projection_class_embeddings_input_dim=cfg.added_embedding_dim,
        use_linear_projection=True,
    )


def sdxl_vae(in_channels: int, image_size: int, cfg: TinySDXLConfig):
    return tiny_vae(in_channels, image_size, cfg, scaling_factor=SDXL_VAE_SCALING)


def tiny_sdxl_components(
    captions: list[str], in_channels: int, image_size: int, cfg: TinySDXLConfig = TinySDXLConfig()
):
    """(unet, vae, text_encoder, text_encoder_2, tokenizer, tokenizer_2), random weights (torch's global RNG)."""
    tok1, tok2 = sdxl_tokenizers(captions, cfg)
    te1, te2 = sdxl_text_encoders(tok1, tok2, cfg)
    vae = sdxl_vae(in_channels, image_size, cfg)
    factor = 2 ** (len(cfg.vae_channels) - 1)
    return sdxl_unet(image_size // factor, cfg), vae, te1, te2, tok1, tok2


def save_sdxl_pipeline(
    out: Path,
    unet,
    vae,
    text_encoder,
    text_encoder_2,
    tokenizer,
    tokenizer_2,
    scheduler_or_schedule,
    force_zeros_for_empty_prompt: bool = True,
) -> None:
    """A diffusers StableDiffusionXLPipeline folder (safetensors weights, no watermarker). A Schedule gets SD's
    DDIM settings on its betas (tiny_sd.ddim_scheduler); a diffusers scheduler is saved as it is."""
    from diffusers import StableDiffusionXLPipeline

    scheduler = (
        ddim_scheduler(scheduler_or_schedule) if isinstance(scheduler_or_schedule, Schedule) else scheduler_or_schedule
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=force_zeros_for_empty_prompt,
        add_watermarker=False,
    )
    save_quietly(pipe, Path(out))
