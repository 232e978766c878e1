"""Stable Diffusion 1.x/2.x pipeline folders as diffusers saves them (`model_index.json` beside `unet/`
UNet2DConditionModel, `vae/` AutoencoderKL, `text_encoder/` CLIPTextModel, `tokenizer/` CLIPTokenizer and
`scheduler/`), read from disk only: configs as JSON, weights as safetensors (a pickled `.bin` is refused,
never opened), the tokenizer from its vocabulary files. A LoRA beside the base (`--lora FILE`) goes through
diffusers' peft integration (StableDiffusionLoraLoaderMixin, diffusers/loaders/lora_pipeline.py). SDXL folders
(StableDiffusionXLPipeline) are read by sdxl_pipeline.py, SD3 / SD3.5 (StableDiffusion3Pipeline) and FLUX.1
(FluxPipeline) folders by flow_pipeline.py; the families cpaudit does not sample are refused here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from cpaudit.core.schedules import Schedule, Spacing
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_state_into, load_weights, read_config, read_safetensors
from cpaudit.models.diffusers_denoiser import DiffusersDenoiser
from cpaudit.models.diffusers_unet import WEIGHTS_NAME, schedule_from_scheduler_config, spacing_from_scheduler_config
from cpaudit.models.prompts import PromptEncoder

SUPPORTED = (
    "Stable Diffusion 1.x/2.x pipeline folders (UNet2DConditionModel, AutoencoderKL, one CLIPTextModel, "
    "CLIPTokenizer), SDXL base StableDiffusionXLPipeline folders (CLIPTextModel and CLIPTextModelWithProjection, "
    "two CLIPTokenizers), each with a discrete variance-preserving scheduler, SD3 / SD3.5 StableDiffusion3Pipeline "
    "folders (SD3Transformer2DModel, two CLIPTextModelWithProjection, optional T5) and FLUX.1 dev / schnell "
    "FluxPipeline folders (FluxTransformer2DModel, CLIPTextModel, T5), each with FlowMatchEulerDiscreteScheduler, "
    "all with safetensors weights, and UNet2DModel folders"
)
TEXT_KEYS = ("text_encoder", "text_encoder_2", "tokenizer", "transformer")
# Pipeline families refused in their own words (diffusers/pipelines/: stable_video_diffusion, animatediff,
# text_to_video_synthesis, i2vgen_xl, stable_cascade, wuerstchen, ...), by class-name fragment or component.
VIDEO_NAMES = ("Video", "AnimateDiff", "I2VGen", "Latte", "Mochi", "Wan", "Allegro", "LTX", "SkyReels")
VIDEO_UNETS = ("UNetSpatioTemporalConditionModel", "UNet3DConditionModel", "UNetMotionModel", "I2VGenXLUNet")
CASCADE_NAMES = ("StableCascade", "Wuerstchen")


@dataclass
class PipelineParts:
    denoiser: DiffusersDenoiser
    vae: torch.nn.Module
    prompts: PromptEncoder  # or SDXLPromptEncoder
    schedule: Schedule
    spacing: Spacing
    record: dict
    image_shape: tuple[int, int, int]


def read_model_index(folder: Path) -> dict:
    return read_config(folder / "model_index.json", {})


def pipeline_has_text(folder: Path) -> bool:
    """A text-to-image pipeline (or one cpaudit must refuse in its own words), not a UNet2DModel pipeline."""
    index = read_model_index(folder)
    return any(k in index for k in TEXT_KEYS) or _refused_family(index) is not None


def _component_class(index: dict, key: str) -> str | None:
    """The class model_index.json names for a component (["library", "Class"]); None when absent or null."""
    entry = index.get(key)
    return entry[1] if isinstance(entry, list) and len(entry) == 2 else None


def _refused_family(index: dict) -> str | None:
    """'video' or 'cascade' for the families cpaudit does not sample, else None."""
    name = str(index.get("_class_name", ""))
    if (
        any(v in name for v in VIDEO_NAMES)
        or "motion_adapter" in index
        or _component_class(index, "unet") in VIDEO_UNETS
    ):
        return "video"
    if any(c in name for c in CASCADE_NAMES) or _component_class(index, "prior") is not None:
        return "cascade"
    return None


def is_sdxl(index: dict) -> bool:
    """An SDXL-family folder: two text encoders, or a StableDiffusionXL* class (a refiner has only text_encoder_2)."""
    return "text_encoder_2" in index or str(index.get("_class_name", "")).startswith("StableDiffusionXL")


def is_flow(index: dict) -> bool:
    """A transformer pipeline (SD3, FLUX.1 and the ones flow_pipeline.py refuses)."""
    return "transformer" in index


def _check_supported(folder: Path, index: dict) -> None:
    """Refuse, in one line, what cpaudit does not load: video and cascade pipelines; transformer pipelines are
    checked by flow_pipeline.py (SD3, FLUX.1), SDXL folders by sdxl_pipeline.py; the rest must have SD 1.x/2.x's
    components."""
    where = folder / "model_index.json"
    name = str(index.get("_class_name", ""))
    family = _refused_family(index)
    if family == "video":
        raise InputError(
            where,
            f"{name or 'this pipeline'} is a video pipeline, which is not supported; cpaudit supports {SUPPORTED}",
        )
    if family == "cascade":
        raise InputError(
            where,
            f"{name or 'this pipeline'} is a Stable Cascade / Wuerstchen pipeline (prior and decoder), "
            f"which is not supported; cpaudit supports {SUPPORTED}",
        )
    if is_flow(index):
        from cpaudit.models.flow_pipeline import check_flow_supported

        check_flow_supported(folder, index)
        return
    if is_sdxl(index):
        from cpaudit.models.sdxl_pipeline import check_sdxl_supported

        check_sdxl_supported(folder, index)
        return
    for key in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        if key not in index or not (folder / key).is_dir():
            raise InputError(folder / key, f"missing; cpaudit supports {SUPPORTED}")
    expected = {
        "unet": ("UNet2DConditionModel",),
        "vae": ("AutoencoderKL",),
        "text_encoder": ("CLIPTextModel",),
        "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast"),
    }
    for key, classes in expected.items():
        entry = index[key]
        cls = entry[1] if isinstance(entry, list) and len(entry) == 2 else None
        if cls not in classes:
            raise InputError(where, f"{key} is {cls!r}, which is not supported; cpaudit supports {SUPPORTED}")


def load_diffusers_module(folder: Path, cls_name: str) -> torch.nn.Module:
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


def _text_encoder(folder: Path, cls_name: str = "CLIPTextModel") -> torch.nn.Module:
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


def _tokenizer(folder: Path, cls_name: str = "CLIPTokenizer"):
    """A tokenizer from its vocabulary files (CLIPTokenizer; T5TokenizerFast for SD3's and FLUX's T5)."""
    import transformers

    try:
        return getattr(transformers, cls_name).from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise InputError(
            folder, f"cannot read the tokenizer ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        ) from None


def load_pipeline_parts(folder: Path, lora: Path | None = None) -> PipelineParts:
    """An SD 1.x/2.x, (sdxl_pipeline.py) SDXL or (flow_pipeline.py) SD3 / FLUX.1 folder's parts; every other
    family refused in one line."""
    index = read_model_index(folder)
    _check_supported(folder, index)
    if is_flow(index):
        from cpaudit.models.flow_pipeline import load_flow_parts

        _require_diffusers(folder)
        return load_flow_parts(folder, index, lora)
    if is_sdxl(index):
        from cpaudit.models.sdxl_pipeline import load_sdxl_parts

        _require_diffusers(folder)
        return load_sdxl_parts(folder, index, lora)
    _require_diffusers(folder)
    sched_cfg, schedule = read_scheduler(folder)
    unet = load_diffusers_module(folder / "unet", "UNet2DConditionModel")
    vae = load_diffusers_module(folder / "vae", "AutoencoderKL")
    text_encoder = _text_encoder(folder / "text_encoder")
    tokenizer = _tokenizer(folder / "tokenizer")
    if unet.config.cross_attention_dim != text_encoder.config.hidden_size:
        raise InputError(
            folder / "unet" / "config.json",
            f"cross_attention_dim {unet.config.cross_attention_dim} differs from the "
            f"text encoder's hidden_size {text_encoder.config.hidden_size}",
        )
    lora_info = None if lora is None else apply_lora(Path(lora), unet, text_encoder)
    return assemble_parts(
        folder, index, sched_cfg, schedule, unet, vae, PromptEncoder(tokenizer, text_encoder), lora_info
    )


def _require_diffusers(folder: Path) -> None:
    try:
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise InputError(
            folder, "is a diffusers pipeline; install the extra: pip install 'cpaudit[diffusers]'"
        ) from None


def read_scheduler(folder: Path) -> tuple[dict, Schedule]:
    """(scheduler config, its Schedule); unsupported schedulers and prediction types refused (diffusers_unet.py)."""
    sched_path = folder / "scheduler" / "scheduler_config.json"
    sched_cfg = read_config(sched_path, {})
    return sched_cfg, schedule_from_scheduler_config(sched_cfg, sched_path)


def latent_size(unet: torch.nn.Module) -> tuple[int, int]:
    """(h, w) of the UNet's sample_size (an int or a pair)."""
    size = unet.config.sample_size
    return (size, size) if isinstance(size, int) else tuple(size)


def vae_factor(vae: torch.nn.Module) -> int:
    """The VAE's downsampling factor, as the pipelines compute vae_scale_factor."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def assemble_parts(
    folder: Path,
    index: dict,
    sched_cfg: dict,
    schedule: Schedule,
    unet: torch.nn.Module,
    vae: torch.nn.Module,
    prompts,
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
    path: Path, unet: torch.nn.Module, text_encoder: torch.nn.Module, text_encoder_2: torch.nn.Module | None = None
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
    encoders = {"text_encoder": text_encoder, **({"text_encoder_2": text_encoder_2} if sdxl else {})}
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
