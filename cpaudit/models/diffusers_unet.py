"""Denoisers saved by diffusers' `save_pretrained`: a UNet2DModel (unconditional, or class-conditional with
`num_class_embeds`) plus the scheduler config it was trained with.

Two layouts are read from a local folder (nothing is fetched from a hub):
  pipeline:  FOLDER/unet/{config.json, diffusion_pytorch_model.safetensors}, FOLDER/scheduler/scheduler_config.json
  unet only: FOLDER/{config.json, diffusion_pytorch_model.safetensors, scheduler_config.json}
The network is built from its config and the weights are read with safetensors (never unpickled);
the noise schedule is taken from the scheduler config so sampling, the classifier and the MIA use
the abar_t the model was trained with.
"""

from __future__ import annotations

import json
from pathlib import Path

from cpaudit.core.schedules import Schedule, ScheduleKind, Spacing
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_state_into, load_weights, read_config
from cpaudit.models.diffusers_denoiser import PREDICTION_TYPES, DiffusersDenoiser

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
# Discrete variance-preserving schedulers: each is read for its betas and prediction type only; cpaudit's
# sampler (or, with --scheduler native, the scheduler itself) does the stepping.
SCHEDULERS = (
    "DDPMScheduler",
    "DDIMScheduler",
    "PNDMScheduler",
    "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "LMSDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "UniPCMultistepScheduler",
    "HeunDiscreteScheduler",
)
SUPPORTED_SCHEDULERS = "discrete variance-preserving schedulers (DDPM, DDIM, PNDM, Euler, Euler ancestral, LMS, DPM-Solver multistep, UniPC, Heun)"
# diffusers' beta_schedule names -> ours (same formulas; squaredcos_cap_v2 is Nichol & Dhariwal's cosine).
BETA_SCHEDULES: dict[str, ScheduleKind] = {
    "linear": "linear",
    "scaled_linear": "scaled_linear",
    "squaredcos_cap_v2": "cosine",
}
DIFFUSERS_BETA_SCHEDULE = {ours: theirs for theirs, ours in BETA_SCHEDULES.items()}  # for the folders cpaudit writes


def diffusers_layout(folder: Path) -> tuple[Path, Path] | None:
    """(unet folder, scheduler config path) when FOLDER holds a diffusers model, else None."""
    if (folder / "unet" / "config.json").is_file():
        return folder / "unet", folder / "scheduler" / "scheduler_config.json"
    cfg = folder / "config.json"
    if cfg.is_file():
        try:
            is_diffusers = "_diffusers_version" in json.loads(cfg.read_text())
        except (ValueError, UnicodeDecodeError):
            return None
        if is_diffusers:
            sched = folder / "scheduler_config.json"
            return folder, sched if sched.is_file() else folder / "scheduler" / "scheduler_config.json"
    return None


def schedule_from_scheduler_config(cfg: dict, path: Path) -> Schedule:
    """Our Schedule from a scheduler config (betas by name or `trained_betas`, `rescale_betas_zero_snr`);
    refuses what the audit could not reproduce, in one line."""
    name = cfg.get("_class_name")
    if name is not None and "FlowMatch" in str(name):
        raise InputError(
            path,
            f"{name} is flow matching (SD3, Flux), which is not supported; cpaudit supports {SUPPORTED_SCHEDULERS}",
        )
    if name not in SCHEDULERS:
        raise InputError(path, f"scheduler {name!r} is not supported; cpaudit supports {SUPPORTED_SCHEDULERS}")
    prediction = cfg.get("prediction_type", "epsilon")
    if prediction not in PREDICTION_TYPES:
        raise InputError(
            path, f"prediction_type {prediction!r} is not supported (expected one of {', '.join(PREDICTION_TYPES)})"
        )
    zero_snr = bool(cfg.get("rescale_betas_zero_snr"))
    if zero_snr and prediction == "epsilon":
        # At abar_{T-1} = 0 an eps-prediction carries nothing of x0 (x_t is the noise itself); Lin et al. 2024,
        # Sec. 3.2, train such models with v-prediction, as every zero-SNR release does.
        raise InputError(
            path,
            "rescale_betas_zero_snr with prediction_type 'epsilon' cannot predict the image at the "
            "zero-SNR step; cpaudit supports zero terminal SNR with v_prediction or sample",
        )
    T = int(cfg.get("num_train_timesteps", 1000))
    try:
        if cfg.get("trained_betas") is not None:
            return Schedule(
                kind="trained", T=T, trained_betas=tuple(float(b) for b in cfg["trained_betas"]), zero_snr=zero_snr
            )
        kind = BETA_SCHEDULES.get(cfg.get("beta_schedule", "linear"))
        if kind is None:
            raise InputError(
                path,
                f"beta_schedule {cfg.get('beta_schedule')!r} is not supported (expected one of "
                f"{', '.join(BETA_SCHEDULES)}, or trained_betas)",
            )
        return Schedule(
            kind=kind,
            T=T,
            beta_start=float(cfg.get("beta_start", 1e-4)),
            beta_end=float(cfg.get("beta_end", 0.02)),
            zero_snr=zero_snr,
        )
    except (TypeError, ValueError) as e:
        raise InputError(path, f"invalid scheduler config ({e})") from None


def spacing_from_scheduler_config(cfg: dict) -> Spacing:
    """The DDIM timesteps a pipeline folder's scheduler would visit (diffusers' defaults where unset)."""
    kind = cfg.get("timestep_spacing", "leading")
    if kind not in ("leading", "trailing", "linspace"):
        kind = "leading"
    return Spacing(kind, int(cfg.get("steps_offset", 0)), bool(cfg.get("set_alpha_to_one", True)))


def load_diffusers_unet(folder: Path) -> tuple[DiffusersDenoiser, Schedule, dict, tuple[int, int, int]]:
    """(denoiser, schedule, config to record, image shape (C, H, W)) from a diffusers folder."""
    layout = diffusers_layout(folder)
    if layout is None:
        raise InputError(folder, "not a diffusers model folder")
    unet_dir, sched_path = layout
    try:
        from diffusers import UNet2DModel
    except ImportError:
        raise InputError(folder, "is a diffusers model; install the extra: pip install 'cpaudit[diffusers]'") from None
    unet_cfg_path = unet_dir / "config.json"
    unet_cfg = read_config(unet_cfg_path, {})
    if unet_cfg.get("_class_name", "UNet2DModel") != "UNet2DModel":
        raise InputError(
            unet_cfg_path, f"model class {unet_cfg.get('_class_name')!r} is not supported (expected UNet2DModel)"
        )
    if unet_cfg.get("class_embed_type") is not None:
        raise InputError(
            unet_cfg_path,
            f"class_embed_type {unet_cfg['class_embed_type']!r} is not supported; class-conditional "
            "UNet2DModels are supported through num_class_embeds",
        )
    sched_cfg = read_config(sched_path, {})
    schedule = schedule_from_scheduler_config(sched_cfg, sched_path)
    try:
        unet = UNet2DModel.from_config({k: v for k, v in unet_cfg.items()})
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise InputError(unet_cfg_path, f"invalid UNet2DModel config ({type(e).__name__}: {e})") from None
    weights = unet_dir / WEIGHTS_NAME
    load_state_into(unet, load_weights(weights), weights)
    size = unet.config.sample_size
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if unet.config.in_channels != unet.config.out_channels:
        raise InputError(unet_cfg_path, "in_channels must equal out_channels for an epsilon-prediction model")
    record = {
        "format": "diffusers",
        "unet": {k: v for k, v in unet_cfg.items() if not k.startswith("_")},
        "scheduler": sched_cfg,
        "schedule": schedule.to_dict(),
        "image_shape": [unet.config.in_channels, h, w],
        "n_parameters": sum(p.numel() for p in unet.parameters()),
    }
    record["num_classes"] = unet_cfg.get("num_class_embeds")
    cp = unet_dir.parent / "cpaudit.json"  # written by `train-diffusion --classes`: the data and members it saw
    if unet_dir != folder and cp.is_file():
        record.update(read_config(cp, {}))
    denoiser = DiffusersDenoiser(unet, prediction_type=sched_cfg.get("prediction_type", "epsilon"))
    return denoiser, schedule, record, (unet.config.in_channels, h, w)
