"""What every diffusers pipeline-folder reader shares (sd_pipeline.py for SD 1.x/2.x, sdxl_pipeline.py, and
flow_pipeline.py for SD3 / FLUX.1): the parts a loaded folder yields, the component checks and loaders (configs
as JSON, weights as safetensors, tokenizers from their vocabulary files), and the image sizes read from the
configs. The three readers import this module and never each other, so sd_pipeline.py can dispatch to the
other two without an import circle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpaudit.core.flow import FlowSchedule
from cpaudit.core.schedules import Schedule, Spacing
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_state_into, read_config, read_safetensors
from cpaudit.models.configured import ConfiguredModule
from cpaudit.models.diffusers_denoiser import DiffusersDenoiser
from cpaudit.models.diffusers_unet import WEIGHTS_NAME, schedule_from_scheduler_config, spacing_from_scheduler_config
from cpaudit.models.flow_denoiser import FlowDenoiser
from cpaudit.models.prompts import PromptEncoder

SUPPORTED = (
    "Stable Diffusion 1.x/2.x pipeline folders (UNet2DConditionModel, AutoencoderKL, one CLIPTextModel, "
    "CLIPTokenizer), SDXL base StableDiffusionXLPipeline folders (CLIPTextModel and CLIPTextModelWithProjection, "
    "two CLIPTokenizers), each with a discrete variance-preserving scheduler, SD3 / SD3.5 StableDiffusion3Pipeline "
    "folders (SD3Transformer2DModel, two CLIPTextModelWithProjection, optional T5) and FLUX.1 dev / schnell "
    "FluxPipeline folders (FluxTransformer2DModel, CLIPTextModel, T5), each with FlowMatchEulerDiscreteScheduler, "
    "all with safetensors weights, and UNet2DModel folders"
)


@dataclass
class PipelineParts:
    denoiser: DiffusersDenoiser | FlowDenoiser
    vae: ConfiguredModule
    prompts: PromptEncoder  # or a subclass: SDXLPromptEncoder, SD3PromptEncoder, FluxPromptEncoder
    schedule: Schedule | FlowSchedule
    spacing: Spacing
    record: dict
    image_shape: tuple[int, int, int]


def component_class(index: dict, key: str) -> str | None:
    """The class model_index.json names for a component (["library", "Class"]); None when absent or null."""
    entry = index.get(key)
    return entry[1] if isinstance(entry, list) and len(entry) == 2 else None


def load_diffusers_module(folder: Path, cls_name: str) -> ConfiguredModule:
    """A diffusers model from its config.json and its safetensors (one file, or shards with their index)."""
    import diffusers

    cfg_path = folder / "config.json"
    cfg = read_config(cfg_path, {})
    try:
        module = getattr(diffusers, cls_name).from_config(cfg)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise InputError(cfg_path, f"invalid {cls_name} config ({type(e).__name__}: {e})") from None
    load_state_into(module, read_safetensors(folder, "diffusion_pytorch_model"), folder / WEIGHTS_NAME)
    return module.eval().requires_grad_(False)


def load_clip_text_encoder(folder: Path, cls_name: str = "CLIPTextModel") -> ConfiguredModule:
    """A CLIPTextModel (or SDXL's CLIPTextModelWithProjection) from its config.json and model.safetensors."""
    import transformers
    from transformers import CLIPTextConfig

    cfg_path = folder / "config.json"
    read_config(cfg_path, {})
    try:
        model = getattr(transformers, cls_name)(CLIPTextConfig.from_json_file(str(cfg_path)))
    except (TypeError, ValueError, KeyError, OSError) as e:
        raise InputError(cfg_path, f"invalid {cls_name} config ({type(e).__name__}: {e})") from None
    # Older transformers saved the position_ids buffer; newer ones rebuild it.
    state = {k: v for k, v in read_safetensors(folder, "model").items() if not k.endswith("position_ids")}
    load_state_into(model, state, folder / "model.safetensors")
    return model.eval().requires_grad_(False)


def load_tokenizer(folder: Path, cls_name: str = "CLIPTokenizer") -> Any:
    """A tokenizer from its vocabulary files (CLIPTokenizer; T5TokenizerFast for SD3's and FLUX's T5)."""
    import transformers

    try:
        return getattr(transformers, cls_name).from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise InputError(
            folder, f"cannot read the tokenizer ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        ) from None


def read_scheduler(folder: Path) -> tuple[dict, Schedule]:
    """(scheduler config, its Schedule); unsupported schedulers and prediction types refused (diffusers_unet.py)."""
    sched_path = folder / "scheduler" / "scheduler_config.json"
    sched_cfg = read_config(sched_path, {})
    return sched_cfg, schedule_from_scheduler_config(sched_cfg, sched_path)


def latent_size(unet: ConfiguredModule) -> tuple[int, int]:
    """(h, w) of the UNet's sample_size (an int or a pair)."""
    size = unet.config.sample_size
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def vae_factor(vae: ConfiguredModule) -> int:
    """The VAE's downsampling factor, as the pipelines compute vae_scale_factor."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def assemble_parts(
    folder: Path,
    index: dict,
    sched_cfg: dict,
    schedule: Schedule,
    unet: ConfiguredModule,
    vae: ConfiguredModule,
    prompts: PromptEncoder,
    lora_info: dict | None,
) -> PipelineParts:
    """The denoiser, image shape and record of a loaded pipeline (SD 1.x/2.x or SDXL)."""
    prediction = sched_cfg.get("prediction_type", "epsilon")
    denoiser = DiffusersDenoiser(unet, prediction)
    h, w = latent_size(unet)
    factor = vae_factor(vae)
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
    return PipelineParts(
        denoiser, vae, prompts, schedule, spacing_from_scheduler_config(sched_cfg), record, image_shape
    )
