"""Stable Diffusion 1.x/2.x pipeline folders as diffusers saves them (`model_index.json` beside `unet/`
UNet2DConditionModel, `vae/` AutoencoderKL, `text_encoder/` CLIPTextModel, `tokenizer/` CLIPTokenizer and
`scheduler/`), read from disk only: configs as JSON, weights as safetensors (a pickled `.bin` is refused,
never opened), the tokenizer from its vocabulary files. A LoRA beside the base (`--lora FILE`) goes through
diffusers' peft integration (StableDiffusionLoraLoaderMixin, diffusers/loaders/lora_pipeline.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from cpaudit.core.schedules import Schedule, Spacing
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_state_into, load_weights, read_config
from cpaudit.models.diffusers_denoiser import DiffusersDenoiser
from cpaudit.models.diffusers_unet import WEIGHTS_NAME, schedule_from_scheduler_config, spacing_from_scheduler_config
from cpaudit.models.prompts import PromptEncoder

SUPPORTED = ("Stable Diffusion 1.x/2.x pipeline folders (UNet2DConditionModel, AutoencoderKL, one CLIPTextModel, "
             "CLIPTokenizer, a discrete variance-preserving scheduler; safetensors weights) and UNet2DModel folders")
TEXT_KEYS = ("text_encoder", "text_encoder_2", "tokenizer", "transformer")


@dataclass
class PipelineParts:
    denoiser: DiffusersDenoiser
    vae: torch.nn.Module
    prompts: PromptEncoder
    schedule: Schedule
    spacing: Spacing
    record: dict
    image_shape: tuple[int, int, int]


def read_model_index(folder: Path) -> dict:
    return read_config(folder / "model_index.json", {})


def pipeline_has_text(folder: Path) -> bool:
    """A text-to-image pipeline (or one cpaudit must refuse in its own words), not a UNet2DModel pipeline."""
    return any(k in read_model_index(folder) for k in TEXT_KEYS)


def _check_supported(folder: Path, index: dict) -> None:
    where = folder / "model_index.json"
    name = str(index.get("_class_name", ""))
    if "text_encoder_2" in index or "XL" in name:
        raise InputError(where, f"{name or 'this pipeline'} has two text encoders (SDXL), which is not supported; cpaudit supports {SUPPORTED}")
    if "transformer" in index:
        raise InputError(where, f"{name or 'this pipeline'} is a transformer / flow-matching model (SD3, Flux), which is not "
                         f"supported; cpaudit supports {SUPPORTED}")
    for key in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        if key not in index or not (folder / key).is_dir():
            raise InputError(folder / key, f"missing; cpaudit supports {SUPPORTED}")
    expected = {"unet": ("UNet2DConditionModel",), "vae": ("AutoencoderKL",), "text_encoder": ("CLIPTextModel",),
                "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast")}
    for key, classes in expected.items():
        entry = index[key]
        cls = entry[1] if isinstance(entry, list) and len(entry) == 2 else None
        if cls not in classes:
            raise InputError(where, f"{key} is {cls!r}, which is not supported; cpaudit supports {SUPPORTED}")


def _weights(folder: Path, name: str) -> dict[str, torch.Tensor]:
    path = folder / name
    if not path.is_file() and any(folder.glob("*.bin")):
        raise InputError(path, "no such file; pickled .bin weights are never loaded: save the model with "
                         "safe_serialization=True (safetensors)")
    return load_weights(path)


def load_diffusers_module(folder: Path, cls_name: str) -> torch.nn.Module:
    import diffusers

    cfg_path = folder / "config.json"
    cfg = read_config(cfg_path, {})
    try:
        module = getattr(diffusers, cls_name).from_config(cfg)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise InputError(cfg_path, f"invalid {cls_name} config ({type(e).__name__}: {e})") from None
    load_state_into(module, _weights(folder, WEIGHTS_NAME), folder / WEIGHTS_NAME)
    return module.eval().requires_grad_(False)


def _text_encoder(folder: Path) -> torch.nn.Module:
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg_path = folder / "config.json"
    read_config(cfg_path, {})
    try:
        model = CLIPTextModel(CLIPTextConfig.from_json_file(str(cfg_path)))
    except (TypeError, ValueError, KeyError, OSError) as e:
        raise InputError(cfg_path, f"invalid CLIPTextModel config ({type(e).__name__}: {e})") from None
    # Older transformers saved the position_ids buffer; newer ones rebuild it.
    state = {k: v for k, v in _weights(folder, "model.safetensors").items() if not k.endswith("position_ids")}
    load_state_into(model, state, folder / "model.safetensors")
    return model.eval().requires_grad_(False)


def _tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    try:
        return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise InputError(folder, f"cannot read the tokenizer ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None


def load_pipeline_parts(folder: Path, lora: Path | None = None) -> PipelineParts:
    index = read_model_index(folder)
    _check_supported(folder, index)
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise InputError(folder, "is a diffusers pipeline; install the extra: pip install 'cpaudit[diffusers]'") from None
    sched_path = folder / "scheduler" / "scheduler_config.json"
    sched_cfg = read_config(sched_path, {})
    schedule = schedule_from_scheduler_config(sched_cfg, sched_path)
    unet = load_diffusers_module(folder / "unet", "UNet2DConditionModel")
    vae = load_diffusers_module(folder / "vae", "AutoencoderKL")
    text_encoder = _text_encoder(folder / "text_encoder")
    tokenizer = _tokenizer(folder / "tokenizer")
    if unet.config.cross_attention_dim != text_encoder.config.hidden_size:
        raise InputError(folder / "unet" / "config.json", f"cross_attention_dim {unet.config.cross_attention_dim} differs from the "
                         f"text encoder's hidden_size {text_encoder.config.hidden_size}")
    lora_info = None if lora is None else apply_lora(Path(lora), unet, text_encoder)
    prediction = sched_cfg.get("prediction_type", "epsilon")
    denoiser = DiffusersDenoiser(unet, schedule.alphas_cumprod(), prediction)
    size = unet.config.sample_size
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    image_shape = (int(vae.config.in_channels), h * factor, w * factor)
    record = {
        "format": "diffusers-pipeline",
        "pipeline": index.get("_class_name"),
        "unet": {k: v for k, v in unet.config.items() if not k.startswith("_")},
        "scheduler": sched_cfg,
        "schedule": schedule.to_dict(),
        "prediction_type": prediction,
        "image_shape": list(image_shape),
        "latent_shape": [int(unet.config.in_channels), h, w],
        "n_parameters": sum(p.numel() for p in unet.parameters()),
        "lora": lora_info,
    }
    cp = folder / "cpaudit.json"  # written by `train-diffusion --text`: the data and members it saw
    if cp.is_file():
        record.update(json.loads(cp.read_text()))
    return PipelineParts(denoiser, vae, PromptEncoder(tokenizer, text_encoder), schedule,
                         spacing_from_scheduler_config(sched_cfg), record, image_shape)


def apply_lora(path: Path, unet: torch.nn.Module, text_encoder: torch.nn.Module) -> dict:
    """Load a LoRA file (diffusers' `pytorch_lora_weights.safetensors` layout) into the UNet and text encoder."""
    from diffusers import StableDiffusionPipeline

    if path.suffix != ".safetensors":
        raise InputError("--lora", f"{path} is not a .safetensors file; pickled LoRA weights are never loaded")
    state = load_weights(path)
    n_unet = sum(k.startswith("unet.") for k in state)
    n_text = sum(k.startswith("text_encoder.") for k in state)
    try:
        sd, alphas = StableDiffusionPipeline.lora_state_dict(dict(state))
        if n_unet:
            StableDiffusionPipeline.load_lora_into_unet(sd, alphas, unet, adapter_name="cpaudit")
        if n_text:
            StableDiffusionPipeline.load_lora_into_text_encoder(sd, alphas, text_encoder, adapter_name="cpaudit")
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()
        raise InputError(path, f"does not fit this pipeline (a LoRA for another base model?): {first[-1] if first else type(e).__name__}") from None
    loaded = sum("lora" in n for n, _ in unet.named_parameters()) + sum("lora" in n for n, _ in text_encoder.named_parameters())
    if n_unet + n_text == 0 or loaded < n_unet + n_text:
        raise InputError(path, f"{n_unet + n_text - loaded} of {n_unet + n_text} LoRA tensors match no layer of this pipeline "
                         "(a LoRA for another base model?)")
    unet.requires_grad_(False)
    text_encoder.requires_grad_(False)
    return {"file": str(path), "unet_tensors": n_unet, "text_encoder_tensors": n_text}
