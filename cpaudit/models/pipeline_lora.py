"""LoRA files for the UNet pipelines (SD 1.x/2.x and SDXL) and the adapter metadata every pipeline's LoRA loader
reads (flow_pipeline.py's SD3 / FLUX loader too): diffusers' `pytorch_lora_weights.safetensors` layout, loaded
through diffusers' peft integration; a pickled LoRA is never opened."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_weights
from cpaudit.models.configured import ConfiguredModule


def lora_metadata(path: Path) -> dict | None:
    """diffusers' LoRA adapter metadata (rank, alpha, targets) from the safetensors header, as its loaders read it
    (diffusers/utils/state_dict_utils.py `_load_sft_state_dict_metadata`); None when the file has none."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("lora_adapter_metadata")
        return json.loads(raw) if raw else None
    except (OSError, ValueError) as e:
        raise InputError(path, f"not a readable LoRA file ({type(e).__name__}: {e})") from None


def apply_lora(
    path: Path, unet: ConfiguredModule, text_encoder: torch.nn.Module, text_encoder_2: torch.nn.Module | None = None
) -> dict:
    """Load a LoRA file (diffusers' `pytorch_lora_weights.safetensors` layout) into the UNet and text encoder(s),
    as the pipelines' `load_lora_weights` do (diffusers/loaders/lora_pipeline.py): StableDiffusionPipeline's
    `lora_state_dict`, `load_lora_into_unet`, `load_lora_into_text_encoder`; for SDXL (text_encoder_2 given)
    StableDiffusionXLPipeline's, with the `text_encoder` and `text_encoder_2` prefixes and the UNet's config."""
    import diffusers

    if path.suffix != ".safetensors":
        raise InputError("--lora", f"{path} is not a .safetensors file; pickled LoRA weights are never loaded")
    sdxl = text_encoder_2 is not None
    cls = diffusers.StableDiffusionXLPipeline if sdxl else diffusers.StableDiffusionPipeline
    state = load_weights(path)
    if not sdxl and any(k.startswith(("text_encoder_2.", "lora_te2_")) for k in state):
        raise InputError(
            path, "is a LoRA for SDXL (it has text_encoder_2 tensors); this pipeline is Stable Diffusion 1.x/2.x"
        )
    encoders: dict[str, torch.nn.Module] = {"text_encoder": text_encoder}
    if text_encoder_2 is not None:
        encoders["text_encoder_2"] = text_encoder_2
    metadata = lora_metadata(path)
    try:
        sd, alphas = cls.lora_state_dict(dict(state), **({"unet_config": unet.config} if sdxl else {}))
        counts = {p: sum(k.startswith(p + ".") for k in sd) for p in ("unet", *encoders)}
        if counts["unet"]:
            cls.load_lora_into_unet(sd, alphas, unet, adapter_name="cpaudit", metadata=metadata)
        for prefix, encoder in encoders.items():
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
    wanted = sum(counts.values())
    modules = [unet, *encoders.values()]
    loaded = sum("lora" in n for m in modules for n, _ in m.named_parameters())
    if wanted == 0 or loaded < wanted:
        raise InputError(
            path,
            f"{wanted - loaded} of {wanted} LoRA tensors match no layer of this pipeline "
            "(a LoRA for another base model?)",
        )
    for m in modules:
        m.requires_grad_(False)
    info = {"file": str(path), "unet_tensors": counts["unet"], "text_encoder_tensors": counts["text_encoder"]}
    if sdxl:
        info["text_encoder_2_tensors"] = counts["text_encoder_2"]
    return info
