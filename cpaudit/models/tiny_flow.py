"""Small flow-matching text-to-image pipelines built from configs alone (no download), in the shapes of Stable
Diffusion 3 and FLUX.1, saved as the folders diffusers' StableDiffusion3Pipeline.save_pretrained and
FluxPipeline.save_pretrained write (safetensors weights). Sizes: ../shared/calibration.md ('A tiny
flow-matching text model').

- SD3 (diffusers/pipelines/stable_diffusion_3/pipeline_stable_diffusion_3.py, `encode_prompt`): two
  CLIPTextModelWithProjection encoders whose penultimate hidden states are concatenated (2 x text_width
  features, padded to joint_attention_dim) and whose projected pooled outputs are concatenated (the
  transformer's pooled_projection_dim = 2 x projection_dim); T5 optional. Without T5 (text_encoder_3=None) the
  pipeline appends max_sequence_length zero tokens, and such a folder reloads only with
  `StableDiffusion3Pipeline.from_pretrained(dir, text_encoder_3=None, tokenizer_3=None)`.
- FLUX (diffusers/pipelines/flux/pipeline_flux.py, `encode_prompt`): a CLIPTextModel's pooled output (the
  transformer's pooled_projection_dim = text_width) and a T5 encoder's last hidden states (joint_attention_dim
  = t5_width); the 4-channel latents are packed 2x2 into 16-channel tokens (`_pack_latents`), so the
  transformer's in_channels is 4 x latent_channels.

The CLIP tokenizers are models/tiny_sd.py's in-memory word tokenizers (the second SD3 one pads with '!', as
SD3's tokenizer_2 does). The T5 tokenizer is a `tokenizers` Unigram model whose pieces are the caption words
('▁photo'), with every letter and digit as a fallback piece: transformers 5's T5Tokenizer rebuilds a Unigram
model from the saved vocabulary when it loads, so a WordLevel model would not reload. The autoencoder is
tiny_sd's without quant convs (SD3's and FLUX's have none), with `shift_factor` and `scaling_factor` set by
the caller (measured on the autoencoder's training latents)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from cpaudit.core.flow import FlowFamily
from cpaudit.models.tiny_sd import caption_words, clip_text_config, save_quietly, tiny_vae, word_tokenizer

SD3_PAD_2 = "!"  # tokenizer_2's pad token in stabilityai/stable-diffusion-3-medium-diffusers, as SDXL's
T5_PAD, T5_EOS, T5_UNK, T5_SPACE = "<pad>", "</s>", "<unk>", "\u2581"  # T5's ids 0, 1, 2 and SentencePiece's space
PIPELINE_CLASS = {"sd3": "StableDiffusion3Pipeline", "flux": "FluxPipeline"}


@dataclass(frozen=True)
class TinyFlowConfig:
    """Sizes shared by both families. The vae_* / latent_channels / norm_groups fields mean what they mean in
    tiny_sd.TinySDConfig (tiny_vae reads them); text_* are each CLIP encoder's."""

    family: ClassVar[FlowFamily]
    max_length: int = 16  # CLIP token positions
    text_width: int = 32
    text_layers: int = 2
    text_heads: int = 4
    t5: bool = False  # a T5 encoder (SD3's text_encoder_3, FLUX's text_encoder_2)
    t5_width: int = 64  # d_model
    t5_layers: int = 2
    t5_heads: int = 2
    t5_ff: int = 128
    # T5 positions the prompts are padded to: the pipeline's `max_sequence_length`, whose defaults (SD3 256 zero
    # tokens without T5, FLUX 512) would make a step 6x (SD3) to 25x (FLUX) slower here; sample with this value.
    max_sequence_length: int = 16
    vae_channels: tuple[int, ...] = (16, 32, 32)  # three blocks: 32x32 images -> 8x8 latents
    latent_channels: int = 4
    norm_groups: int = 8
    layers: int = 2  # SD3: joint blocks; FLUX: double-stream blocks
    heads: int = 2
    head_dim: int = 32
    joint_attention_dim: int = 64  # text feature width the transformer's context_embedder takes
    shift: float = 3.0  # FlowMatchEulerDiscreteScheduler's static shift
    dynamic_shift: bool = False  # use_dynamic_shifting (FLUX.1's own setting; off here: static shift 3)

    def to_dict(self) -> dict:
        return {"family": self.family, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> TinyFlowConfig:
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known}
        return cls(**kwargs)


@dataclass(frozen=True)
class TinySD3Config(TinyFlowConfig):
    """SD3Transformer2DModel sizes; two CLIPTextModelWithProjection, no T5 by default."""

    family: ClassVar[FlowFamily] = "sd3"
    projection_dim: int = 32  # each CLIP's text_projection; concatenated: the pooled projection (64)
    patch_size: int = 2
    pos_embed_max_size: int = 8  # in patches

    @property
    def pooled_projection_dim(self) -> int:
        return 2 * self.projection_dim


@dataclass(frozen=True)
class TinyFluxConfig(TinyFlowConfig):
    """FluxTransformer2DModel sizes; a CLIPTextModel (pooled) and a T5 encoder."""

    family: ClassVar[FlowFamily] = "flux"
    t5: bool = True
    layers: int = 1
    single_layers: int = 2
    axes_dims_rope: tuple[int, ...] = (8, 12, 12)  # sums to head_dim
    guidance_embeds: bool = False  # FLUX.1-dev's distilled guidance input; off: true CFG with a negative prompt
    joint_attention_dim: int = 64  # = t5_width

    @property
    def pooled_projection_dim(self) -> int:
        return self.text_width


FLOW_CONFIGS: dict[str, type[TinyFlowConfig]] = {"sd3": TinySD3Config, "flux": TinyFluxConfig}


def flow_config_from_dict(d: dict) -> TinyFlowConfig:
    """A config written by TinyFlowConfig.to_dict (its 'family' picks the class)."""
    return FLOW_CONFIGS[d["family"]].from_dict(d)


def t5_tokenizer(captions: list[str]):
    """A T5Tokenizer whose Unigram pieces are the caption words (one token each) and, as fallbacks, every
    letter and digit; it appends '</s>' and pads with '<pad>' (id 0), as T5's does."""
    from transformers import T5Tokenizer

    words = sorted({w for c in captions for w in caption_words(c)})
    chars = sorted({ch for w in words for ch in w} | set("abcdefghijklmnopqrstuvwxyz0123456789"))
    vocab = [(T5_PAD, 0.0), (T5_EOS, 0.0), (T5_UNK, 0.0), (T5_SPACE, -2.0)]
    vocab += [(T5_SPACE + w, 0.0) for w in words]
    vocab += [(ch, -10.0) for ch in chars if T5_SPACE + ch not in dict(vocab)] + [
        (T5_SPACE + ch, -10.0) for ch in chars if T5_SPACE + ch not in dict(vocab)
    ]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def flow_tokenizers(captions: list[str], cfg: TinyFlowConfig) -> tuple:
    """SD3: (tokenizer, tokenizer_2[, tokenizer_3]); FLUX: (tokenizer, tokenizer_2 = T5's)."""
    clip = word_tokenizer(captions, cfg.max_length)
    if cfg.family == "flux":
        return clip, t5_tokenizer(captions)
    clip_2 = word_tokenizer(captions, cfg.max_length, pad_token=SD3_PAD_2)
    return (clip, clip_2, t5_tokenizer(captions)) if cfg.t5 else (clip, clip_2)


def t5_encoder(tokenizer, cfg: TinyFlowConfig):
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=cfg.t5_width,
        d_kv=cfg.t5_width // cfg.t5_heads,
        d_ff=cfg.t5_ff,
        num_layers=cfg.t5_layers,
        num_heads=cfg.t5_heads,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config.decoder_start_token_id = 0  # T5Config's signature omits it, as transformers' T5 checkpoints set it
    return T5EncoderModel(config).eval().requires_grad_(False)


def flow_text_encoders(tokenizers: tuple, cfg: TinyFlowConfig) -> tuple:
    """Random frozen encoders for `flow_tokenizers`' tokenizers, in the same order (torch's global RNG)."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    def clip(tok, projection_dim: int | None):
        """A CLIPTextModel, or a CLIPTextModelWithProjection where a projection width is given (SD3's)."""
        if projection_dim is not None:
            return CLIPTextModelWithProjection(
                clip_text_config(
                    tok,
                    cfg.text_width,
                    cfg.text_layers,
                    cfg.text_heads,
                    cfg.max_length,
                    projection_dim=projection_dim,
                )
            )
        return CLIPTextModel(clip_text_config(tok, cfg.text_width, cfg.text_layers, cfg.text_heads, cfg.max_length))

    if isinstance(cfg, TinySD3Config):
        encoders = [clip(tokenizers[0], cfg.projection_dim), clip(tokenizers[1], cfg.projection_dim)]
        if cfg.t5:
            encoders.append(t5_encoder(tokenizers[2], cfg))
    else:
        encoders = [clip(tokenizers[0], None), t5_encoder(tokenizers[1], cfg)]
    return tuple(e.eval().requires_grad_(False) for e in encoders)


def tiny_sd3_transformer(latent_size: int, cfg: TinySD3Config):
    from diffusers import SD3Transformer2DModel

    if 2 * cfg.text_width > cfg.joint_attention_dim or (cfg.t5 and cfg.t5_width != cfg.joint_attention_dim):
        raise ValueError(
            f"joint_attention_dim {cfg.joint_attention_dim} must hold both CLIPs' features ({2 * cfg.text_width})"
            " and equal T5's width"
        )
    return SD3Transformer2DModel(
        sample_size=latent_size,
        patch_size=cfg.patch_size,
        in_channels=cfg.latent_channels,
        out_channels=cfg.latent_channels,
        num_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        attention_head_dim=cfg.head_dim,
        joint_attention_dim=cfg.joint_attention_dim,
        caption_projection_dim=cfg.heads * cfg.head_dim,
        pooled_projection_dim=cfg.pooled_projection_dim,
        pos_embed_max_size=cfg.pos_embed_max_size,
    )


def tiny_flux_transformer(cfg: TinyFluxConfig):
    """FLUX's transformer on 2x2-packed latents: in_channels = 4 x latent_channels, patch size 1."""
    from diffusers import FluxTransformer2DModel

    if sum(cfg.axes_dims_rope) != cfg.head_dim:
        raise ValueError(f"axes_dims_rope {cfg.axes_dims_rope} must sum to head_dim {cfg.head_dim}")
    return FluxTransformer2DModel(
        patch_size=1,
        in_channels=4 * cfg.latent_channels,
        num_layers=cfg.layers,
        num_single_layers=cfg.single_layers,
        attention_head_dim=cfg.head_dim,
        num_attention_heads=cfg.heads,
        joint_attention_dim=cfg.t5_width,
        pooled_projection_dim=cfg.pooled_projection_dim,
        guidance_embeds=cfg.guidance_embeds,
        axes_dims_rope=tuple(cfg.axes_dims_rope),
    )


def flow_transformer(latent_size: int, cfg: TinyFlowConfig):
    if isinstance(cfg, TinyFluxConfig):
        return tiny_flux_transformer(cfg)
    if isinstance(cfg, TinySD3Config):
        return tiny_sd3_transformer(latent_size, cfg)
    raise TypeError(f"a TinySD3Config or TinyFluxConfig, not {type(cfg).__name__}")


def flow_vae(
    in_channels: int, image_size: int, cfg: TinyFlowConfig, shift_factor: float = 0.0, scaling_factor: float = 1.0
):
    """tiny_sd's AutoencoderKL without quant convs, as SD3's and FLUX's."""
    return tiny_vae(
        in_channels,
        image_size,
        cfg,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=shift_factor,
        scaling_factor=scaling_factor,
    )


def flow_scheduler(shift: float = 3.0, dynamic: bool = False):
    """FlowMatchEulerDiscreteScheduler with a static shift (SD3's 3.0), or FLUX.1's dynamic shift (mu from the
    image's token count between base_shift 0.5 and max_shift 1.15; `shift` then unused)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    if dynamic:
        return FlowMatchEulerDiscreteScheduler(
            num_train_timesteps=1000,
            shift=1.0,
            use_dynamic_shifting=True,
            base_shift=0.5,
            max_shift=1.15,
            base_image_seq_len=256,
            max_image_seq_len=4096,
        )
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)


def flow_pipeline(family: FlowFamily, transformer, vae, scheduler, text_encoders: tuple, tokenizers: tuple):
    """The in-memory diffusers pipeline (StableDiffusion3Pipeline or FluxPipeline) from `flow_text_encoders`'
    encoders and `flow_tokenizers`' tokenizers, in their order."""
    if family == "flux":
        from diffusers import FluxPipeline

        return FluxPipeline(
            scheduler=scheduler,
            vae=vae,
            text_encoder=text_encoders[0],
            tokenizer=tokenizers[0],
            text_encoder_2=text_encoders[1],
            tokenizer_2=tokenizers[1],
            transformer=transformer,
        )
    if family != "sd3":
        raise ValueError(f"family must be 'sd3' or 'flux', got {family!r}")
    from diffusers import StableDiffusion3Pipeline

    te3, tok3 = (text_encoders[2], tokenizers[2]) if len(text_encoders) > 2 else (None, None)
    return StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoders[0],
        tokenizer=tokenizers[0],
        text_encoder_2=text_encoders[1],
        tokenizer_2=tokenizers[1],
        text_encoder_3=te3,
        tokenizer_3=tok3,
    )


def save_flow_pipeline(
    out: Path, family: FlowFamily, transformer, vae, scheduler, text_encoders: tuple, tokenizers: tuple
) -> None:
    """The folder StableDiffusion3Pipeline / FluxPipeline.save_pretrained writes (safetensors, no progress bars;
    without T5, model_index.json records text_encoder_3 and tokenizer_3 as [null, null])."""
    from diffusers.utils import logging as diffusers_logging

    pipe = flow_pipeline(family, transformer, vae, scheduler, text_encoders, tokenizers)
    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # "text_encoder_3=None ... cannot be saved": the intended absence
    try:
        save_quietly(pipe, Path(out))
    finally:
        diffusers_logging.set_verbosity(level)


def tiny_flow_components(captions: list[str], in_channels: int, image_size: int, cfg: TinyFlowConfig) -> dict:
    """Random components of a tiny pipeline (torch's global RNG): transformer, vae, scheduler, text_encoders,
    tokenizers; `flow_pipeline(cfg.family, **components)` builds it, `save_flow_pipeline` writes it."""
    tokenizers = flow_tokenizers(captions, cfg)
    factor = 2 ** (len(cfg.vae_channels) - 1)
    return {
        "transformer": flow_transformer(image_size // factor, cfg),
        "vae": flow_vae(in_channels, image_size, cfg),
        "scheduler": flow_scheduler(cfg.shift, cfg.dynamic_shift),
        "text_encoders": flow_text_encoders(tokenizers, cfg),
        "tokenizers": tokenizers,
    }
