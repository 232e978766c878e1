"""Stable Diffusion 3 / 3.5 and FLUX.1 (dev, schnell) pipeline folders as diffusers saves them, read from disk
only (configs as JSON, weights as safetensors, single files or shards with their `.index.json`; a pickled
`.bin` is refused, never opened), as sd_pipeline.py reads SD 1.x:

- StableDiffusion3Pipeline (diffusers/pipelines/stable_diffusion_3/pipeline_stable_diffusion_3.py):
  `transformer/` SD3Transformer2DModel, `vae/` AutoencoderKL, `text_encoder/` and `text_encoder_2/`
  CLIPTextModelWithProjection with their CLIPTokenizers, optionally `text_encoder_3/` T5EncoderModel and
  `tokenizer_3/` (null or absent loads, as diffusers allows: zeros stand for T5's embeddings);
- FluxPipeline (diffusers/pipelines/flux/pipeline_flux.py): `transformer/` FluxTransformer2DModel, `vae/`,
  `text_encoder/` CLIPTextModel and `tokenizer/`, `text_encoder_2/` T5EncoderModel and `tokenizer_2/`;

each with `scheduler/` FlowMatchEulerDiscreteScheduler (core/flow.py flow_schedule_from_config). The prompt
encoders are models/flow_prompts.py's, the denoiser models/flow_denoiser.py's (velocity, unpacked latents).

Image size: SD3's is the pipeline default `transformer.config.sample_size * vae_scale_factor`; FLUX's
transformer has no sample size and the pipeline's default is `default_sample_size (128) * vae_scale_factor`
(1024 on FLUX.1). cpaudit.json's "image_size" (an int, or [height, width]) overrides either, as the
pipelines' `height` / `width` arguments would; it must be a multiple of the VAE factor times the patch size
(2 on FLUX: the 2x2 packing), as `check_inputs` requires. cpaudit.json's "max_sequence_length" likewise
overrides the T5 length (256 on SD3, 512 on FLUX, the pipelines' defaults).

A LoRA (`--lora FILE`) goes through SD3LoraLoaderMixin / FluxLoraLoaderMixin (diffusers/loaders/lora_pipeline.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cpaudit.core.flow import FlowFamily, FlowSchedule, flow_schedule_from_config
from cpaudit.core.schedules import Spacing
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_state_into, load_weights, read_config, read_safetensors
from cpaudit.models.configured import ConfiguredModule
from cpaudit.models.flow_denoiser import FlowDenoiser
from cpaudit.models.flow_prompts import (
    FLUX_MAX_SEQUENCE_LENGTH,
    SD3_MAX_SEQUENCE_LENGTH,
    FluxPromptEncoder,
    SD3PromptEncoder,
)
from cpaudit.models.pipeline_lora import lora_metadata
from cpaudit.models.pipeline_parts import (
    SUPPORTED,
    PipelineParts,
    component_class,
    load_diffusers_module,
    load_tokenizer,
    vae_factor,
)

SD3_PIPELINE, FLUX_PIPELINE = "StableDiffusion3Pipeline", "FluxPipeline"
CLIP_TOKENIZERS = ("CLIPTokenizer", "CLIPTokenizerFast")
T5_TOKENIZERS = ("T5TokenizerFast", "T5Tokenizer")
SD3_COMPONENTS = {
    "transformer": ("SD3Transformer2DModel",),
    "vae": ("AutoencoderKL",),
    "text_encoder": ("CLIPTextModelWithProjection",),
    "text_encoder_2": ("CLIPTextModelWithProjection",),
    "tokenizer": CLIP_TOKENIZERS,
    "tokenizer_2": CLIP_TOKENIZERS,
    "scheduler": None,
}
SD3_T5 = {"text_encoder_3": ("T5EncoderModel",), "tokenizer_3": T5_TOKENIZERS}
FLUX_COMPONENTS = {
    "transformer": ("FluxTransformer2DModel",),
    "vae": ("AutoencoderKL",),
    "text_encoder": ("CLIPTextModel",),
    "tokenizer": CLIP_TOKENIZERS,
    "text_encoder_2": ("T5EncoderModel",),
    "tokenizer_2": T5_TOKENIZERS,
    "scheduler": None,
}
FLUX_DEFAULT_SAMPLE_SIZE = 128  # FluxPipeline.__init__'s default_sample_size (latent pixels)


def flow_family(index: dict) -> FlowFamily | None:
    """'sd3' or 'flux' for a StableDiffusion3* / Flux* class name, else None."""
    name = str(index.get("_class_name", ""))
    if name.startswith("StableDiffusion3"):
        return "sd3"
    if name.startswith("Flux"):
        return "flux"
    return None


def _refuse_class(where: Path, name: str, family: FlowFamily | None) -> FlowFamily:
    """One line for a transformer pipeline class other than the two text-to-image ones cpaudit samples."""
    if family == "flux" and name != FLUX_PIPELINE:
        raise InputError(
            where,
            f"{name} is not the FLUX.1 text-to-image {FLUX_PIPELINE} (image-conditioned, editing, "
            f"control and FLUX.2 pipelines are not supported); cpaudit supports {SUPPORTED}",
        )
    if family == "sd3" and name != SD3_PIPELINE:
        raise InputError(
            where,
            f"{name} is not the text-to-image {SD3_PIPELINE} (image-to-image, inpainting and "
            f"ControlNet pipelines are not supported); cpaudit supports {SUPPORTED}",
        )
    if family is None:
        raise InputError(
            where,
            f"{name or 'this pipeline'} is a transformer pipeline other than SD3 / FLUX.1, which is "
            f"not supported; cpaudit supports {SUPPORTED}",
        )
    return family


def _check_components(folder: Path, index: dict, components: dict, family: FlowFamily) -> None:
    where = folder / "model_index.json"
    label = "an SD3 flow-matching" if family == "sd3" else "a FLUX.1 flow-matching"
    for key, classes in components.items():
        if component_class(index, key) is None or not (folder / key).is_dir():
            extra = (
                " (its T5 text encoder, which FLUX cannot do without)"
                if family == "flux" and key == "text_encoder_2"
                else ""
            )
            raise InputError(
                folder / key, f"missing: {label} pipeline needs {key}/{extra}; cpaudit supports {SUPPORTED}"
            )
        if classes is not None and component_class(index, key) not in classes:
            raise InputError(
                where,
                f"{key} is {component_class(index, key)!r}, which is not supported (expected "
                f"{' or '.join(classes)}); cpaudit supports {SUPPORTED}",
            )


def has_t5(folder: Path, index: dict) -> bool:
    """Whether an SD3 folder has its optional T5 (text_encoder_3 and tokenizer_3 both, or neither)."""
    present = {k: component_class(index, k) is not None and (folder / k).is_dir() for k in SD3_T5}
    if present["text_encoder_3"] != present["tokenizer_3"]:
        have, lack = (
            ("text_encoder_3", "tokenizer_3") if present["text_encoder_3"] else ("tokenizer_3", "text_encoder_3")
        )
        raise InputError(folder / lack, f"missing while {have} is present: SD3's T5 needs both, or neither")
    return present["text_encoder_3"]


def check_flow_supported(folder: Path, index: dict) -> None:
    """Refuse, in one line each, every transformer pipeline but StableDiffusion3Pipeline and FluxPipeline, and
    missing or unexpected components (a FLUX folder without its T5 among them)."""
    family = _refuse_class(folder / "model_index.json", str(index.get("_class_name", "")), flow_family(index))
    if family == "sd3":
        _check_components(folder, index, SD3_COMPONENTS, family)
        if has_t5(folder, index):
            _check_components(folder, index, SD3_T5, family)
    else:
        _check_components(folder, index, FLUX_COMPONENTS, family)


def load_flow_parts(folder: Path, index: dict, lora: Path | None = None) -> PipelineParts:
    """An SD3 or FLUX folder's denoiser, VAE, prompt encoder and flow schedule (check_flow_supported first)."""
    family = _refuse_class(folder / "model_index.json", str(index.get("_class_name", "")), flow_family(index))
    sched_path = folder / "scheduler" / "scheduler_config.json"
    sched_cfg = read_config(sched_path, {})
    schedule = flow_schedule_from_config(sched_cfg, sched_path, family)
    _check_vae(folder, family)
    cls = "SD3Transformer2DModel" if family == "sd3" else "FluxTransformer2DModel"
    transformer = load_diffusers_module(folder / "transformer", cls)
    vae = load_diffusers_module(folder / "vae", "AutoencoderKL")
    extra = _cpaudit_json(folder)
    prompts, encoders = (_sd3_prompts if family == "sd3" else _flux_prompts)(folder, index, transformer, extra)
    lora_info = None if lora is None else apply_flow_lora(Path(lora), family, transformer, encoders)
    return _assemble(folder, index, family, sched_cfg, schedule, transformer, vae, prompts, lora_info, extra)


def _cpaudit_json(folder: Path) -> dict:
    cp = folder / "cpaudit.json"
    return read_config(cp, {}) if cp.is_file() else {}


def load_text_encoder(folder: Path, cls_name: str) -> ConfiguredModule:
    """A CLIPTextModel(WithProjection) or T5EncoderModel from config.json and (possibly sharded) model.safetensors.
    T5's input embedding is tied to `shared.weight`: a file may hold either name, or both."""
    import transformers

    cfg_path = folder / "config.json"
    read_config(cfg_path, {})
    config_cls = transformers.T5Config if cls_name.startswith("T5") else transformers.CLIPTextConfig
    try:
        model = getattr(transformers, cls_name)(config_cls.from_json_file(str(cfg_path)))
    except (TypeError, ValueError, KeyError, OSError) as e:
        raise InputError(cfg_path, f"invalid {cls_name} config ({type(e).__name__}: {e})") from None
    state = {k: v for k, v in read_safetensors(folder, "model").items() if not k.endswith("position_ids")}
    if cls_name.startswith("T5"):
        for a, b in (
            ("shared.weight", "encoder.embed_tokens.weight"),
            ("encoder.embed_tokens.weight", "shared.weight"),
        ):
            if a in state and b not in state:
                state[b] = state[a]
    load_state_into(model, state, folder)
    return model.eval().requires_grad_(False)


def load_t5_tokenizer(folder: Path) -> Any:
    """A T5 tokenizer (transformers' tokenizers-backed T5TokenizerFast) from its tokenizer.json."""
    return load_tokenizer(folder, "T5TokenizerFast")


def _check_vae(folder: Path, family: FlowFamily) -> None:
    """From the configs, before any weights are read: the VAE's latents are what the transformer takes (C
    channels on SD3, 4C once packed 2x2 on FLUX), with no per-channel latent normalisation (VaeCodec applies
    shift_factor and scaling_factor only)."""
    vae_path, tr_path = folder / "vae" / "config.json", folder / "transformer" / "config.json"
    vae, tr = read_config(vae_path, {}), read_config(tr_path, {})
    if vae.get("latents_mean") is not None or vae.get("latents_std") is not None:
        raise InputError(
            vae_path,
            f"latents_mean / latents_std (per-channel latent normalisation) is not supported; "
            f"cpaudit supports {SUPPORTED}",
        )
    per_token = 1 if family == "sd3" else 4
    latent = vae.get("latent_channels", 4)  # AutoencoderKL's and the transformers' defaults
    in_channels = tr.get("in_channels", 16 if family == "sd3" else 64)
    if in_channels != per_token * latent:
        hint = (
            "" if family == "sd3" else " (a FLUX Fill / Control transformer takes image conditions besides the latents)"
        )
        raise InputError(
            tr_path,
            f"in_channels {in_channels} differs from the {per_token * latent} the VAE's {latent} "
            f"latent channels make{hint}",
        )


def _max_sequence_length(folder: Path, extra: dict, default: int) -> int:
    """The T5 length: the pipeline's default, or cpaudit.json's "max_sequence_length" (1..512, as check_inputs)."""
    value = extra.get("max_sequence_length", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 512:
        raise InputError(folder / "cpaudit.json", f"max_sequence_length must be an integer in [1, 512], got {value!r}")
    return value


def _sd3_prompts(
    folder: Path, index: dict, transformer: ConfiguredModule, extra: dict
) -> tuple[SD3PromptEncoder, dict[str, torch.nn.Module]]:
    """(SD3PromptEncoder, the LoRA-loadable text encoders), the encoders' widths checked against the transformer's."""
    te1 = load_text_encoder(folder / "text_encoder", "CLIPTextModelWithProjection")
    te2 = load_text_encoder(folder / "text_encoder_2", "CLIPTextModelWithProjection")
    tok1, tok2 = load_tokenizer(folder / "tokenizer"), load_tokenizer(folder / "tokenizer_2")
    t5 = has_t5(folder, index)
    te3 = load_text_encoder(folder / "text_encoder_3", "T5EncoderModel") if t5 else None
    tok3 = load_t5_tokenizer(folder / "tokenizer_3") if t5 else None
    cfg, where = transformer.config, folder / "transformer" / "config.json"
    pooled = te1.config.projection_dim + te2.config.projection_dim
    if cfg.pooled_projection_dim != pooled:
        raise InputError(
            where,
            f"pooled_projection_dim {cfg.pooled_projection_dim} differs from the CLIP encoders' "
            f"projection_dim {te1.config.projection_dim} + {te2.config.projection_dim}",
        )
    clip_width = te1.config.hidden_size + te2.config.hidden_size
    width = te3.config.d_model if te3 is not None else cfg.joint_attention_dim
    if width != cfg.joint_attention_dim or clip_width > width:
        raise InputError(
            where,
            f"joint_attention_dim {cfg.joint_attention_dim} must equal text_encoder_3's d_model "
            f"({width}) and hold the CLIP encoders' hidden sizes {te1.config.hidden_size} + {te2.config.hidden_size}",
        )
    length = _max_sequence_length(folder, extra, SD3_MAX_SEQUENCE_LENGTH)
    prompts = SD3PromptEncoder(tok1, tok2, te1, te2, tok3, te3, cfg.joint_attention_dim, length)
    return prompts, {"text_encoder": te1, "text_encoder_2": te2}


def _flux_prompts(
    folder: Path, index: dict, transformer: ConfiguredModule, extra: dict
) -> tuple[FluxPromptEncoder, dict[str, torch.nn.Module]]:
    """(FluxPromptEncoder, the LoRA-loadable text encoder), the encoders' widths checked against the transformer's."""
    te1 = load_text_encoder(folder / "text_encoder", "CLIPTextModel")
    te2 = load_text_encoder(folder / "text_encoder_2", "T5EncoderModel")
    tok1, tok2 = load_tokenizer(folder / "tokenizer"), load_t5_tokenizer(folder / "tokenizer_2")
    cfg, where = transformer.config, folder / "transformer" / "config.json"
    if cfg.pooled_projection_dim != te1.config.hidden_size:
        raise InputError(
            where,
            f"pooled_projection_dim {cfg.pooled_projection_dim} differs from text_encoder's hidden_size "
            f"{te1.config.hidden_size}",
        )
    if cfg.joint_attention_dim != te2.config.d_model:
        raise InputError(
            where,
            f"joint_attention_dim {cfg.joint_attention_dim} differs from text_encoder_2's d_model {te2.config.d_model}",
        )
    length = _max_sequence_length(folder, extra, FLUX_MAX_SEQUENCE_LENGTH)
    prompts = FluxPromptEncoder(tok1, te1, tok2, te2, bool(cfg.guidance_embeds), length)
    return prompts, {"text_encoder": te1}


def image_size(
    folder: Path, transformer: ConfiguredModule, vae: ConfiguredModule, family: FlowFamily, extra: dict
) -> tuple[int, int]:
    """(H, W) of the decoded images: cpaudit.json's "image_size", else the pipeline's default (module docstring),
    checked as the pipelines' `check_inputs` checks height and width."""
    factor = vae_factor(vae)
    patch = int(transformer.config.patch_size) if family == "sd3" else 2
    if "image_size" in extra:
        size = extra["image_size"]
        size = [size, size] if isinstance(size, int) else size
    else:
        sample = transformer.config.sample_size if family == "sd3" else FLUX_DEFAULT_SAMPLE_SIZE
        size = [s * factor for s in ([sample, sample] if isinstance(sample, int) else sample)]
    ok = (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
    )
    if not ok or any(s % (factor * patch) for s in size):
        raise InputError(
            folder / "cpaudit.json",
            f"image_size {size!r} must be positive multiples of {factor * patch} "
            f"(the VAE factor {factor} times the patch size {patch})",
        )
    cap = getattr(transformer.config, "pos_embed_max_size", None) if family == "sd3" else None
    if cap is not None and max(size) // (factor * patch) > cap:
        raise InputError(
            folder / "cpaudit.json", f"image_size {size!r} makes more than pos_embed_max_size {cap} patches a side"
        )
    return int(size[0]), int(size[1])


def default_guidance_scale(family: FlowFamily, guidance_embeds: bool) -> float:
    """`--guidance-scale` where none is given: StableDiffusion3Pipeline's default 7.0; FluxPipeline's distilled
    guidance 3.5 on FLUX.1-dev; 1 (no true CFG, `true_cfg_scale`'s default) on a FLUX without a guidance embedding
    (schnell). A folder's cpaudit.json may name its own (a fine-tune trained with caption dropout)."""
    if family == "sd3":
        return 7.0
    return 3.5 if guidance_embeds else 1.0


def _assemble(
    folder: Path,
    index: dict,
    family: FlowFamily,
    sched_cfg: dict,
    schedule: FlowSchedule,
    transformer: ConfiguredModule,
    vae: ConfiguredModule,
    prompts: SD3PromptEncoder | FluxPromptEncoder,
    lora_info: dict | None,
    extra: dict,
) -> PipelineParts:
    """The denoiser, shapes and record of a loaded SD3 / FLUX folder (cpaudit.json merged last, as assemble_parts)."""
    H, W = image_size(folder, transformer, vae, family, extra)
    factor, channels = vae_factor(vae), int(vae.config.latent_channels)
    h, w = H // factor, W // factor
    patch = int(transformer.config.patch_size) if family == "sd3" else 2  # FLUX: the 2x2 packing is its patch
    image_shape = (int(vae.config.in_channels), H, W)
    record: dict[str, Any] = {
        "format": "diffusers-pipeline",
        "pipeline": index.get("_class_name"),
        "family": family,
        "transformer": {k: v for k, v in transformer.config.items() if not k.startswith("_")},
        "scheduler": sched_cfg,
        "schedule": schedule.to_dict(),
        "prediction_type": "flow",
        "image_shape": list(image_shape),
        "latent_shape": [channels, h, w],
        "image_seq_len": (h // patch) * (w // patch),  # the token count the pipeline's mu is computed from
        "n_parameters": sum(p.numel() for p in transformer.parameters()),
        "lora": lora_info,
        "has_t5": isinstance(prompts, FluxPromptEncoder) or prompts.text_encoder_3 is not None,  # FLUX: always
        "max_sequence_length": prompts.max_sequence_length,
    }
    if family == "flux":
        record["guidance_embeds"] = bool(transformer.config.guidance_embeds)
    record["default_guidance_scale"] = default_guidance_scale(family, record.get("guidance_embeds", False))
    record.update(extra)
    return PipelineParts(FlowDenoiser(transformer, family), vae, prompts, schedule, Spacing(), record, image_shape)


SD_LORA_PREFIXES = (
    "unet.",
    "lora_te2_",
    "lora_unet_down_blocks",
    "lora_unet_up_blocks",
    "lora_unet_mid_block",
    "lora_unet_input_blocks",
    "lora_unet_output_blocks",
    "lora_unet_middle_block",
)


def _refuse_foreign_lora(path: Path, state: dict, family: FlowFamily) -> None:
    """An SD 1.x/2.x / SDXL LoRA (UNet tensors, diffusers' or kohya's names), a T5 LoRA on FLUX (FluxPipeline
    loads none) and a FLUX Control LoRA (norm layers besides the LoRA) in one line each."""
    name = "SD3" if family == "sd3" else "FLUX.1"
    if any(k.startswith(SD_LORA_PREFIXES) for k in state):
        raise InputError(
            path, f"is a LoRA for Stable Diffusion 1.x/2.x or SDXL (it has UNet tensors); this pipeline is {name}"
        )
    if family == "flux" and any(k.startswith("text_encoder_2.") for k in state):
        raise InputError(
            path, "has text_encoder_2 tensors (an SD3 LoRA?); FLUX's text_encoder_2 is T5, which takes no LoRA"
        )
    if family == "flux" and any(
        n in k for k in state for n in ("norm_q", "norm_k", "norm_added_q", "norm_added_k", "query_norm")
    ):
        raise InputError(path, "is a FLUX Control LoRA (it replaces norm layers), which is not supported")


def apply_flow_lora(
    path: Path, family: FlowFamily, transformer: torch.nn.Module, text_encoders: dict[str, torch.nn.Module]
) -> dict:
    """Load a LoRA file (diffusers' `pytorch_lora_weights.safetensors` layout, or one its converters read) into the
    transformer and CLIP text encoder(s), as the pipelines' `load_lora_weights` do (diffusers/loaders/lora_pipeline.py):
    SD3LoraLoaderMixin's `lora_state_dict`, `load_lora_into_transformer`, `load_lora_into_text_encoder` with the
    `text_encoder` and `text_encoder_2` prefixes; FluxLoraLoaderMixin's, with its network alphas and `text_encoder`."""
    import diffusers

    if path.suffix != ".safetensors":
        raise InputError("--lora", f"{path} is not a .safetensors file; pickled LoRA weights are never loaded")
    state = load_weights(path)
    _refuse_foreign_lora(path, state, family)
    cls = diffusers.StableDiffusion3Pipeline if family == "sd3" else diffusers.FluxPipeline
    metadata = lora_metadata(path)
    try:
        if family == "sd3":
            sd, alphas, kwargs = cls.lora_state_dict(dict(state)), None, {}
        else:
            sd, alphas = cls.lora_state_dict(dict(state), return_alphas=True)
            kwargs = {"network_alphas": alphas}
        counts = {p: sum(k.startswith(p + ".") for k in sd) for p in ("transformer", *text_encoders)}
        if counts["transformer"]:
            cls.load_lora_into_transformer(
                sd, transformer=transformer, adapter_name="cpaudit", metadata=metadata, **kwargs
            )
        for prefix, encoder in text_encoders.items():
            if counts[prefix]:
                cls.load_lora_into_text_encoder(
                    sd, alphas, encoder, prefix=prefix, adapter_name="cpaudit", metadata=metadata
                )
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()
        raise InputError(
            path,
            f"does not fit this pipeline (a LoRA for another base model?): {first[-1] if first else type(e).__name__}",
        ) from None
    _check_lora_loaded(path, counts, [transformer, *text_encoders.values()])
    return {
        "file": str(path),
        "transformer_tensors": counts["transformer"],
        **{f"{p}_tensors": counts[p] for p in text_encoders},
    }


def _check_lora_loaded(path: Path, counts: dict[str, int], modules: list[torch.nn.Module]) -> None:
    """Every LoRA tensor landed in a layer, else one line (peft skips keys that name no module)."""
    wanted = sum(counts.values())
    loaded = sum("lora" in n for m in modules for n, _ in m.named_parameters())
    if wanted == 0:
        raise InputError(path, f"holds no {' or '.join(counts)} LoRA tensors (a LoRA for another base model?)")
    if loaded < wanted:
        raise InputError(
            path,
            f"{wanted - loaded} of {wanted} LoRA tensors match no layer of this pipeline "
            "(a LoRA for another base model?)",
        )
    for m in modules:
        m.requires_grad_(False)
