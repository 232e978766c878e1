"""The flow-matching architectures of benchmarks/bench_sd_gpu.py (--arch sd35m, --arch flux), built from
configs with random weights on a device (nothing downloaded), as cpaudit LoadedModels: the loaders'
FlowDenoiser and prompt encoders (models/flow_denoiser.py, models/flow_prompts.py), a FlowSchedule, the VAE
behind bench_sd_gpu's SplitCodec.

- sd35m: stabilityai/stable-diffusion-3.5-medium's dimensions. SD3Transformer2DModel
  (diffusers/models/transformers/transformer_sd3.py): 24 joint blocks (MMDiT-X), 24 heads x 64 (1536 wide,
  caption_projection_dim 1536), joint_attention_dim 4096 (T5-XXL's width), pooled_projection_dim 2048 (CLIP-L's
  768 + CLIP-G's 1280 projections), patch 2, 16 latent channels, sample_size 128 (1024x1024 images),
  pos_embed_max_size 384 (diffusers/loaders/single_file_utils.py tells SD3.5-medium from SD3-medium by its
  pos_embed of 147,456 = 384^2 positions, SD3's 36,864 = 192^2), dual_attention_layers 0..12 (transformer_sd3.py's
  own comment: "(0, 1, ..., 12) for sd3.5"; single_file_utils reads them from the attn2 keys), qk_norm
  "rms_norm" (the blog post diffusers' SD3.5 release: QK normalisation). The pipeline's defaults
  (pipeline_stable_diffusion_3.py `__call__`): 28 steps, guidance_scale 7.0 (one doubled batch a step), T5 at
  max_sequence_length 256. FlowMatchEulerDiscreteScheduler shift 3.0. VAE: AutoencoderKL with 16 latent
  channels, no quant convs, scaling_factor 1.5305, shift_factor 0.0609. Built here: 2,243,171,520 transformer
  parameters and the 226,492,416-value pos_embed buffer (384^2 x 1536), 2.47B in all: the model card's "2.5B".
- flux: FLUX.1-dev's widths with fewer blocks, so that it fits any GPU: FluxTransformer2DModel
  (transformer_flux.py) 3072 wide, 24 heads x 128, axes_dims_rope (16, 56, 56), in_channels 64 (16 latent
  channels packed 2x2), joint_attention_dim 4096, pooled_projection_dim 768 (CLIP-L's pooled output),
  guidance_embeds True (the distilled guidance input: one transformer call a step, no doubled batch);
  DOUBLE_BLOCKS double-stream and SINGLE_BLOCKS single-stream blocks by default (FLUX.1-dev has 19 and 38;
  `--double-blocks 19 --single-blocks 38` is its full depth, 11.9B parameters, 24 GB in bf16). The pipeline's
  defaults (pipeline_flux.py `__call__`): 28 steps, guidance_scale 3.5, T5 at max_sequence_length 512; the
  scheduler's dynamic shift (base 0.5, max 1.15 over 256..4096 tokens). VAE as SD3's, scaling_factor 0.3611,
  shift_factor 0.1159.

Text encoders: CLIP-L (768 wide, 12 layers, quick_gelu) and, for SD3, CLIP-G (1280 wide, 32 layers, gelu) at
their real sizes; T5 is SMALL here: T5-XXL's layer shape (d_model 4096, 64 heads x 64, gated-gelu d_ff 10240,
its 32,128-row vocabulary) but T5_LAYERS layers instead of 24. A text encoder runs once per prompt, not per
step, so this barely changes the sampling time; the transformer still sees the full T5 sequence (256 or 512
tokens), which is what its per-step cost depends on. Tokenizers are in-memory word tokenizers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from cpaudit.core.flow import FlowSchedule
from cpaudit.models.flow_denoiser import FlowDenoiser
from cpaudit.models.flow_prompts import (
    FLUX_MAX_SEQUENCE_LENGTH,
    SD3_MAX_SEQUENCE_LENGTH,
    FluxPromptEncoder,
    SD3PromptEncoder,
)
from cpaudit.models.load import LoadedModel
from cpaudit.models.tiny_flow import SD3_PAD_2, t5_tokenizer
from cpaudit.models.tiny_sd import word_tokenizer

T5_VOCAB = 32128  # T5-XXL's embedding rows (google/t5-v1_1-xxl)
T5_LAYERS = 2  # of T5-XXL's 24 (module docstring)
DOUBLE_BLOCKS, SINGLE_BLOCKS = 5, 10  # FLUX.1-dev: 19 and 38
SD3_VAE = {"scaling_factor": 1.5305, "shift_factor": 0.0609}  # stabilityai/stable-diffusion-3.5-medium vae/config.json
FLUX_VAE = {"scaling_factor": 0.3611, "shift_factor": 0.1159}  # black-forest-labs/FLUX.1-dev vae/config.json


def t5_small(tok, tiny: bool):
    """A T5EncoderModel of T5-XXL's layer shape and T5_LAYERS layers (4 x 32 wide, 2 layers if tiny)."""
    from transformers import T5Config, T5EncoderModel

    width, heads, ff = (32, 4, 64) if tiny else (4096, 64, 10240)
    config = T5Config(
        vocab_size=len(tok) if tiny else max(T5_VOCAB, len(tok)),
        d_model=width,
        d_kv=width // heads,
        d_ff=ff,
        num_layers=T5_LAYERS,
        num_heads=heads,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(config).eval()


def flow_vae(tiny: bool, image_size: int, factors: dict, kit: SimpleNamespace):
    """bench_sd_gpu's AutoencoderKL with 16 latent channels and no quant convs (SD3's and FLUX's)."""
    return kit.vae_kl(tiny, image_size, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False, **factors)


def clip_encoders(tiny: bool, kit: SimpleNamespace, sd3: bool):
    """CLIP-L with its projection (SD3) or without (FLUX), and for SD3 CLIP-G: (tokenizers, encoders)."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    w1, l1, h1 = (16, 2, 2) if tiny else (768, 12, 12)
    tok1 = word_tokenizer(kit.prompts, kit.tokens)
    if not sd3:
        return (tok1,), (CLIPTextModel(kit.clip_config(tok1, w1, l1, h1, "quick_gelu", tiny)),)
    w2, l2, h2 = (16, 2, 2) if tiny else (1280, 32, 20)
    tok2 = word_tokenizer(kit.prompts, kit.tokens, pad_token=SD3_PAD_2)
    te1 = CLIPTextModelWithProjection(kit.clip_config(tok1, w1, l1, h1, "quick_gelu", tiny, projection_dim=w1))
    te2 = CLIPTextModelWithProjection(kit.clip_config(tok2, w2, l2, h2, "gelu", tiny, projection_dim=w2))
    return (tok1, tok2), (te1, te2)


def sd35m(tiny: bool, device: torch.device, kit: SimpleNamespace) -> tuple[LoadedModel, dict]:
    """SD3.5-medium's dimensions (module docstring), or a small model of the same architecture (`tiny`). `kit`:
    bench_sd_gpu's prompts, tokens, clip_config, vae_kl and codec (its timing VaeCodec class)."""
    from diffusers import SD3Transformer2DModel

    image = 64 if tiny else 1024
    t5_tok = t5_tokenizer(kit.prompts)
    with torch.device(device):  # random initialisation on the device itself
        (tok1, tok2), (te1, te2) = clip_encoders(tiny, kit, sd3=True)
        te3 = t5_small(t5_tok, tiny)
        transformer = SD3Transformer2DModel(
            sample_size=image // 8,
            patch_size=2,
            in_channels=16,
            out_channels=16,
            num_layers=2 if tiny else 24,
            attention_head_dim=8 if tiny else 64,
            num_attention_heads=2 if tiny else 24,
            joint_attention_dim=te3.config.d_model,
            caption_projection_dim=16 if tiny else 1536,
            pooled_projection_dim=te1.config.projection_dim + te2.config.projection_dim,
            pos_embed_max_size=8 if tiny else 384,
            dual_attention_layers=(0,) if tiny else tuple(range(13)),
            qk_norm="rms_norm",
        )
        vae = flow_vae(tiny, image, SD3_VAE, kit)
    encoder = SD3PromptEncoder(tok1, tok2, te1, te2, t5_tok, te3, te3.config.d_model, SD3_MAX_SEQUENCE_LENGTH)
    parts = {"transformer": transformer, "vae": vae, "text_encoder": te1, "text_encoder_2": te2, "text_encoder_3": te3}
    return flow_loaded(
        transformer, "sd3", FlowSchedule(shift=3.0, pipeline="sd3"), kit.codec(vae, batch_size=4), encoder, image
    ), parts


def flux(
    tiny: bool,
    device: torch.device,
    kit: SimpleNamespace,
    double_blocks: int = DOUBLE_BLOCKS,
    single_blocks: int = SINGLE_BLOCKS,
) -> tuple[LoadedModel, dict]:
    """FLUX.1-dev's widths at `double_blocks` / `single_blocks` depth (module docstring), or a small model of the
    same architecture (`tiny`: 2 heads x 16, axes (4, 6, 6))."""
    from diffusers import FluxTransformer2DModel

    image = 64 if tiny else 1024
    t5_tok = t5_tokenizer(kit.prompts)
    with torch.device(device):
        (tok1,), (te1,) = clip_encoders(tiny, kit, sd3=False)
        te2 = t5_small(t5_tok, tiny)
        transformer = FluxTransformer2DModel(
            patch_size=1,
            in_channels=64,
            num_layers=double_blocks,
            num_single_layers=single_blocks,
            attention_head_dim=16 if tiny else 128,
            num_attention_heads=2 if tiny else 24,
            joint_attention_dim=te2.config.d_model,
            pooled_projection_dim=te1.config.hidden_size,
            guidance_embeds=True,
            axes_dims_rope=(4, 6, 6) if tiny else (16, 56, 56),
        )
        vae = flow_vae(tiny, image, FLUX_VAE, kit)
    encoder = FluxPromptEncoder(
        tok1, te1, t5_tok, te2, guidance_embeds=True, max_sequence_length=FLUX_MAX_SEQUENCE_LENGTH
    )
    schedule = FlowSchedule(shift=1.0, dynamic=True, pipeline="flux")  # FLUX.1-dev's scheduler_config.json
    parts = {"transformer": transformer, "vae": vae, "text_encoder": te1, "text_encoder_2": te2}
    return flow_loaded(transformer, "flux", schedule, kit.codec(vae, batch_size=4), encoder, image), parts


def flow_loaded(transformer, family: str, schedule: FlowSchedule, codec, prompts, image: int) -> LoadedModel:
    """The LoadedModel models/flow_pipeline.py assembles from such a folder: velocity prediction, and the token
    count the sampling sigmas' mu is computed from (patches of 2x2 latents: SD3's patch_size, FLUX's packing)."""
    side = image // 8 // 2
    record = {"family": family, "prediction_type": "flow", "image_seq_len": side * side}
    return LoadedModel(
        FlowDenoiser(transformer.eval().requires_grad_(False), family),
        schedule,
        record,
        Path("."),
        (3, image, image),
        codec,
        "text",
        prompts,
        prediction="flow",
    )
