"""Denoisers saved by diffusers' `save_pretrained`: a UNet2DModel plus a DDPM/DDIM scheduler config.

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

import torch

from cpaudit.core.schedules import Schedule
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_state_into, load_weights, read_config

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
SCHEDULERS = ("DDPMScheduler", "DDIMScheduler")
# diffusers' beta_schedule names -> ours (same formulas; squaredcos_cap_v2 is Nichol & Dhariwal's cosine).
BETA_SCHEDULES = {"linear": "linear", "scaled_linear": "scaled_linear", "squaredcos_cap_v2": "cosine"}


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
    """Our Schedule from a DDPMScheduler/DDIMScheduler config; refuses what the audit could not reproduce."""
    name = cfg.get("_class_name")
    if name not in SCHEDULERS:
        raise InputError(path, f"scheduler {name!r} is not supported (expected one of {', '.join(SCHEDULERS)})")
    if cfg.get("prediction_type", "epsilon") != "epsilon":
        raise InputError(path, f"prediction_type {cfg['prediction_type']!r} is not supported; cpaudit needs an epsilon-prediction model")
    if cfg.get("trained_betas") is not None:
        raise InputError(path, "trained_betas are not supported")
    if cfg.get("rescale_betas_zero_snr"):
        raise InputError(path, "rescale_betas_zero_snr is not supported")
    kind = BETA_SCHEDULES.get(cfg.get("beta_schedule", "linear"))
    if kind is None:
        raise InputError(path, f"beta_schedule {cfg.get('beta_schedule')!r} is not supported (expected one of {', '.join(BETA_SCHEDULES)})")
    try:
        return Schedule(kind=kind, T=int(cfg.get("num_train_timesteps", 1000)),
                        beta_start=float(cfg.get("beta_start", 1e-4)), beta_end=float(cfg.get("beta_end", 0.02)))
    except (TypeError, ValueError) as e:
        raise InputError(path, f"invalid scheduler config ({e})") from None


class DiffusersEps(torch.nn.Module):
    """eps_theta(x_t, t) with our calling convention: (N, C, H, W), (N,) long -> (N, C, H, W)."""

    def __init__(self, unet: torch.nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t).sample


def load_diffusers_unet(folder: Path) -> tuple[DiffusersEps, Schedule, dict, tuple[int, int, int]]:
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
        raise InputError(unet_cfg_path, f"model class {unet_cfg.get('_class_name')!r} is not supported (expected UNet2DModel)")
    if unet_cfg.get("class_embed_type") or unet_cfg.get("num_class_embeds"):
        raise InputError(unet_cfg_path, "class-conditional UNets are not supported")
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
    return DiffusersEps(unet), schedule, record, (unet.config.in_channels, h, w)
