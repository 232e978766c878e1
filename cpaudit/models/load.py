"""Rebuild a trained denoiser or classifier from its output folder (safetensors weights + config.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from cpaudit.core.schedules import Schedule
from cpaudit.errors import InputError
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier
from cpaudit.models.checkpoint import load_state_into, load_weights, read_config
from cpaudit.models.diffusers_unet import diffusers_layout, load_diffusers_unet
from cpaudit.models.unet import UNet, UNetConfig


@dataclass
class LoadedModel:
    model: torch.nn.Module  # eps_theta(x_t, t)
    schedule: Schedule
    config: dict
    folder: Path
    image_shape: tuple[int, int, int]  # (C, H, W)

    @property
    def data_fingerprint(self) -> str | None:
        """The training data's fingerprint; None for a model trained elsewhere (diffusers), which records none."""
        return self.config.get("data_fingerprint")


def load_model(folder: Path) -> LoadedModel:
    """A cpaudit model folder, or a diffusers one (UNet2DModel + scheduler config, see diffusers_unet.py)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "model folder not found")
    if diffusers_layout(folder) is not None:
        net, schedule, record, shape = load_diffusers_unet(folder)
        return LoadedModel(net.eval().requires_grad_(False), schedule, record, folder, shape)
    cfg_path = folder / "config.json"
    cfg = read_config(cfg_path, {"unet": dict, "schedule": dict, "image_shape": list, "data_fingerprint": str})
    try:
        unet_cfg = UNetConfig.from_dict(cfg["unet"])
        schedule = Schedule.from_dict(cfg["schedule"])
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(cfg_path, f"invalid model config ({type(e).__name__}: {e})") from None
    model = UNet(unet_cfg)
    load_state_into(model, load_weights(folder / "model.safetensors"), folder / "model.safetensors")
    shape = (unet_cfg.in_channels, unet_cfg.image_size, unet_cfg.image_size)
    return LoadedModel(model.eval().requires_grad_(False), schedule, cfg, folder, shape)


@dataclass
class LoadedClassifier:
    model: TimeClassifier
    schedule: Schedule
    config: dict
    labels: dict[str, int]
    folder: Path


def load_classifier(folder: Path) -> LoadedClassifier:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "classifier folder not found")
    cfg_path = folder / "config.json"
    cfg = read_config(cfg_path, {"classifier": dict, "schedule": dict, "image_shape": list, "data_fingerprint": str})
    try:
        clf_cfg = ClassifierConfig.from_dict(cfg["classifier"])
        schedule = Schedule.from_dict(cfg["schedule"])
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(cfg_path, f"invalid classifier config ({type(e).__name__}: {e})") from None
    labels_path = folder / "labels.json"
    try:
        labels = json.loads(labels_path.read_text())
        if not isinstance(labels, dict) or not all(v in (0, 1) for v in labels.values()):
            raise ValueError("expected an object of id -> 0 or 1")
    except FileNotFoundError:
        raise InputError(labels_path, "no such file") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(labels_path, f"invalid labels ({e})") from None
    model = TimeClassifier(clf_cfg)
    load_state_into(model, load_weights(folder / "classifier.safetensors"), folder / "classifier.safetensors")
    return LoadedClassifier(model.eval().requires_grad_(False), schedule, cfg, labels, folder)
