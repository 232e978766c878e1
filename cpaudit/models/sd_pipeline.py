"""Stable Diffusion 1.x/2.x pipeline folders as diffusers saves them (`model_index.json` beside `unet/`
UNet2DConditionModel, `vae/` AutoencoderKL, `text_encoder/` CLIPTextModel, `tokenizer/` CLIPTokenizer and
`scheduler/`), read from disk only: configs as JSON, weights as safetensors (a pickled `.bin` is refused,
never opened), the tokenizer from its vocabulary files. A LoRA beside the base (`--lora FILE`) goes through
diffusers' peft integration (StableDiffusionLoraLoaderMixin, diffusers/loaders/lora_pipeline.py). SDXL folders
(StableDiffusionXLPipeline) are read by sdxl_pipeline.py, SD3 / SD3.5 (StableDiffusion3Pipeline) and FLUX.1
(FluxPipeline) folders by flow_pipeline.py; the families cpaudit does not sample are refused here."""

from __future__ import annotations

from pathlib import Path

from cpaudit.errors import InputError
from cpaudit.models.checkpoint import read_config
from cpaudit.models.pipeline_lora import apply_lora
from cpaudit.models.pipeline_parts import (
    SUPPORTED,
    PipelineParts,
    assemble_parts,
    component_class,
    load_clip_text_encoder,
    load_diffusers_module,
    load_tokenizer,
    read_scheduler,
)
from cpaudit.models.prompts import PromptEncoder

# apply_lora and load_diffusers_module live in pipeline_lora.py / pipeline_parts.py (shared with sdxl_pipeline.py
# and flow_pipeline.py) and stay importable from here.
__all__ = ["apply_lora", "is_flow", "is_sdxl", "load_diffusers_module", "load_pipeline_parts", "pipeline_has_text"]

TEXT_KEYS = ("text_encoder", "text_encoder_2", "tokenizer", "transformer")
# Pipeline families refused in their own words (diffusers/pipelines/: stable_video_diffusion, animatediff,
# text_to_video_synthesis, i2vgen_xl, stable_cascade, wuerstchen, ...), by class-name fragment or component.
VIDEO_NAMES = ("Video", "AnimateDiff", "I2VGen", "Latte", "Mochi", "Wan", "Allegro", "LTX", "SkyReels")
VIDEO_UNETS = ("UNetSpatioTemporalConditionModel", "UNet3DConditionModel", "UNetMotionModel", "I2VGenXLUNet")
CASCADE_NAMES = ("StableCascade", "Wuerstchen")


def read_model_index(folder: Path) -> dict:
    return read_config(folder / "model_index.json", {})


def pipeline_has_text(folder: Path) -> bool:
    """A text-to-image pipeline (or one cpaudit must refuse in its own words), not a UNet2DModel pipeline."""
    index = read_model_index(folder)
    return any(k in index for k in TEXT_KEYS) or _refused_family(index) is not None


def _refused_family(index: dict) -> str | None:
    """'video' or 'cascade' for the families cpaudit does not sample, else None."""
    name = str(index.get("_class_name", ""))
    if (
        any(v in name for v in VIDEO_NAMES)
        or "motion_adapter" in index
        or component_class(index, "unet") in VIDEO_UNETS
    ):
        return "video"
    if any(c in name for c in CASCADE_NAMES) or component_class(index, "prior") is not None:
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
        cls = component_class(index, key)
        if cls not in classes:
            raise InputError(where, f"{key} is {cls!r}, which is not supported; cpaudit supports {SUPPORTED}")


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
    text_encoder = load_clip_text_encoder(folder / "text_encoder")
    tokenizer = load_tokenizer(folder / "tokenizer")
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
