"""A small Stable-Diffusion-architecture pipeline that memorises on a laptop CPU (`train-diffusion --text`):
a word-level CLIPTokenizer built in memory from the captions, a small random CLIPTextModel kept frozen, a
small AutoencoderKL and a UNet2DConditionModel with cross-attention, saved as a real diffusers pipeline
folder that diffusers' StableDiffusionPipeline loads. Sizes: ../shared/calibration.md ('A text-conditioned
latent model') and benchmarks/RESULTS.md."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from cpaudit.core.schedules import Schedule
from cpaudit.models.diffusers_unet import DIFFUSERS_BETA_SCHEDULE

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
WORD = re.compile(r"[a-z]+|[0-9]|[^\sa-z0-9]+")  # CLIP's pre-tokenizer, for lower-case text


@dataclass(frozen=True)
class TinySDConfig:
    max_length: int = 16  # token positions: enough for short captions
    text_width: int = 32
    text_layers: int = 2
    text_heads: int = 4
    vae_channels: tuple[int, ...] = (16, 32, 32)  # three blocks: 32x32 images -> 8x8 latents
    latent_channels: int = 4
    unet_channels: tuple[int, ...] = (32, 64)
    unet_layers_per_block: int = 1
    attention_head_dim: int = 8
    norm_groups: int = 8

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TinySDConfig:
        d = dict(d)
        for k in ("vae_channels", "unet_channels"):
            d[k] = tuple(d[k])
        return cls(**d)


def caption_words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def word_tokenizer(captions: list[str], max_length: int, pad_token: str = EOS):
    """A CLIPTokenizer whose BPE merges build caption words left to right; any other text still tokenizes,
    character by character (each character is in the vocabulary, with and without '</w>'). It pads with
    EOS, as SD 1.x's tokenizer does; SDXL's second tokenizer pads with '!' (pad_token='!', added to the
    vocabulary after EOS when no caption has it).

    BPE applies merges by rank across a word, so one word's merge can split another (on captioned-digits,
    'horse' merging h+o leaves 'photo' in four pieces, and 'orange' in two); every caption still maps to
    its own token sequence (tests/models/test_tiny_sd.py), which is what the model needs."""
    from transformers import CLIPTokenizer

    words = sorted({w for c in captions for w in caption_words(c)})
    chars = sorted({ch for w in words for ch in w} | set("abcdefghijklmnopqrstuvwxyz0123456789"))
    vocab: dict[str, int] = {}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
    for ch in chars:
        vocab.setdefault(ch + "</w>", len(vocab))
    merges: list[tuple[str, str]] = []
    for w in words:  # left to right: ((w0 w1) w2) ... w_last</w>
        pieces = list(w[:-1]) + [w[-1] + "</w>"]
        while len(pieces) > 1:
            merged = pieces[0] + pieces[1]
            if merged not in vocab:
                vocab[merged] = len(vocab)
                merges.append((pieces[0], pieces[1]))
            pieces = [merged] + pieces[2:]
    vocab[BOS] = len(vocab)
    vocab[EOS] = len(vocab)
    vocab.setdefault(pad_token, len(vocab))
    # transformers annotates merges as str | list[str]; its BPE model takes (left, right) pairs too, which no
    # space inside a piece can split wrongly.
    return CLIPTokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]
        model_max_length=max_length,
        pad_token=pad_token,
    )


def clip_text_config(tokenizer, width: int, layers: int, heads: int, max_length: int, **extra):
    """A CLIPTextConfig sized for `tokenizer`'s vocabulary, its BOS/EOS/pad ids (extra: e.g. projection_dim)."""
    from transformers import CLIPTextConfig

    vocab = tokenizer.get_vocab()
    return CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=max_length,
        bos_token_id=vocab[BOS],
        eos_token_id=vocab[EOS],
        pad_token_id=vocab[tokenizer.pad_token],
        **extra,
    )


def tiny_text_encoder(tokenizer, cfg: TinySDConfig):
    from transformers import CLIPTextModel

    return (
        CLIPTextModel(clip_text_config(tokenizer, cfg.text_width, cfg.text_layers, cfg.text_heads, cfg.max_length))
        .eval()
        .requires_grad_(False)
    )


class VaeSizes(Protocol):
    """The sizes tiny_vae reads: TinySDConfig's, TinySDXLConfig's and tiny_flow.TinyFlowConfig's."""

    @property
    def vae_channels(self) -> tuple[int, ...]: ...

    @property
    def latent_channels(self) -> int: ...

    @property
    def norm_groups(self) -> int: ...


def tiny_vae(in_channels: int, image_size: int, cfg: VaeSizes, **extra):
    """extra: further AutoencoderKL arguments (SDXL's scaling_factor, force_upcast)."""
    from diffusers import AutoencoderKL

    n = len(cfg.vae_channels)
    return AutoencoderKL(
        in_channels=in_channels,
        out_channels=in_channels,
        latent_channels=cfg.latent_channels,
        block_out_channels=cfg.vae_channels,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        layers_per_block=1,
        norm_num_groups=cfg.norm_groups,
        sample_size=image_size,
        **extra,
    )


def tiny_unet(latent_size: int, cfg: TinySDConfig, **extra):
    """extra: further (or overriding) UNet2DConditionModel arguments (SDXL's added text-time conditioning)."""
    from diffusers import UNet2DConditionModel

    n = len(cfg.unet_channels)
    kwargs = dict(
        sample_size=latent_size,
        in_channels=cfg.latent_channels,
        out_channels=cfg.latent_channels,
        block_out_channels=cfg.unet_channels,
        layers_per_block=cfg.unet_layers_per_block,
        down_block_types=("CrossAttnDownBlock2D",) + ("DownBlock2D",) * (n - 1),
        up_block_types=("UpBlock2D",) * (n - 1) + ("CrossAttnUpBlock2D",),
        cross_attention_dim=cfg.text_width,
        attention_head_dim=cfg.attention_head_dim,
        norm_num_groups=cfg.norm_groups,
    )
    return UNet2DConditionModel(**{**kwargs, **extra})


def ddim_scheduler(schedule: Schedule):
    """Stable Diffusion 1.5's DDIM settings on the model's own betas (leading spacing, steps_offset 1)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=schedule.T,
        beta_start=schedule.beta_start,
        beta_end=schedule.beta_end,
        beta_schedule=DIFFUSERS_BETA_SCHEDULE[schedule.kind],
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="epsilon",
    )


def save_pipeline(out: Path, unet, vae, text_encoder, tokenizer, schedule: Schedule) -> None:
    """A diffusers StableDiffusionPipeline folder, safetensors weights (no safety checker)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=ddim_scheduler(schedule),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    save_quietly(pipe, out)


def save_quietly(pipe, out: Path) -> None:
    """pipe.save_pretrained(out) in safetensors, without progress bars."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()  # their "Writing model shards" bars would print under --quiet
    transformers_logging.disable_progress_bar()
    pipe.save_pretrained(str(out), safe_serialization=True)
