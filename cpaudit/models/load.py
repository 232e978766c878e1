"""Rebuild a trained denoiser or classifier from its output folder (safetensors weights + config.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from cpaudit.core.flow import FlowSchedule
from cpaudit.core.paths import GaussianPath, PredictionType
from cpaudit.core.schedules import Schedule, Spacing, schedule_from_dict
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_state_into, load_weights, read_config
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier
from cpaudit.models.codec import IdentityCodec, VaeCodec
from cpaudit.models.conditioning import Cond
from cpaudit.models.denoise import PairFn, PairModel
from cpaudit.models.diffusers_unet import diffusers_layout, load_diffusers_unet
from cpaudit.models.prompts import PromptEncoder
from cpaudit.models.sd_pipeline import load_pipeline_parts, pipeline_has_text
from cpaudit.models.unet import UNet, UNetConfig

Conditioning = Literal["none", "class", "text"]


@dataclass
class LoadedModel:
    """One interface for every kind of model (design.md, 'Models'): `model(x_t, t, cond)` is the network's
    output in the model's own space (pixels, or latents the codec maps to images), of kind `prediction`;
    `denoiser` (and `pair_fn`) turn it into the prediction pair (x0_hat, eps_hat) on the model's path."""

    model: torch.nn.Module  # the network: eps, v or x0 at (x_t, t[, cond])
    schedule: Schedule | FlowSchedule
    config: dict
    folder: Path
    image_shape: tuple[int, int, int]  # (C, H, W) of the images it makes (decoded)
    codec: IdentityCodec | VaeCodec = field(default_factory=IdentityCodec)
    conditioning: Conditioning = "none"
    prompts: PromptEncoder | None = None  # text models: prompts -> embeddings
    num_classes: int | None = None  # class-conditional models
    spacing: Spacing = field(default_factory=Spacing)  # the timesteps cpaudit's sampler visits
    prediction: PredictionType = "epsilon"  # what `model` outputs

    @property
    def path(self) -> GaussianPath:
        """x_t = alpha_t x0 + sigma_t eps on the model's training grid (what attacks and the classifier use)."""
        return self.schedule.path()

    def sampling_path(self, steps: int) -> tuple[GaussianPath, Spacing, int]:
        """(path, spacing, steps) the sampler runs for a `steps`-step run: the training grid and the folder's
        spacing on a VP model; on a flow model the pipeline's own sampling sigmas (core/flow.py), every one
        visited, the image's token count read from the record (`image_seq_len`)."""
        if isinstance(self.schedule, FlowSchedule):
            return self.schedule.sampling_path(steps, int(self.config["image_seq_len"])), Spacing(), steps
        return self.path, self.spacing, steps

    @property
    def denoiser(self) -> PairModel:
        """(x_t, t[, cond]) -> (x0_hat, eps_hat)."""
        return PairModel(self.model, self.path, self.prediction)

    @property
    def data_fingerprint(self) -> str | None:
        """The training data's fingerprint; None for a model trained elsewhere (diffusers), which records none."""
        return self.config.get("data_fingerprint")

    @property
    def space_shape(self) -> tuple[int, int, int]:
        """(C, H, W) the sampler draws: the image shape for pixel models, the latent shape for latent ones."""
        return self.codec.space_shape(self.image_shape)

    def pair_fn(self, cond: Cond = None) -> PairFn:
        """(x_t, t) -> (x0_hat, eps_hat) with `cond` bound (rows in the order of the batch)."""
        return self.denoiser.bind(cond)

    def to(self, device: torch.device | str) -> LoadedModel:
        self.model.to(device)
        self.codec.to(device)
        if self.prompts is not None:
            self.prompts.to(device)
        return self


def load_model(folder: Path, lora: Path | None = None) -> LoadedModel:
    """A cpaudit model folder, a diffusers pipeline folder with `model_index.json` (text-to-image: see
    sd_pipeline.py), or a diffusers UNet2DModel folder (see diffusers_unet.py)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "model folder not found")
    if (folder / "model_index.json").is_file() and pipeline_has_text(folder):
        parts = load_pipeline_parts(folder, lora)
        return LoadedModel(
            parts.denoiser,
            parts.schedule,
            parts.record,
            folder,
            parts.image_shape,
            VaeCodec(parts.vae),
            "text",
            parts.prompts,
            spacing=parts.spacing,
            prediction=parts.denoiser.prediction_type,
        )
    if lora is not None:
        raise InputError(
            "--lora", "applies to Stable Diffusion pipeline folders (model_index.json with a unet/ and text_encoder/)"
        )
    if diffusers_layout(folder) is not None:
        net, schedule, record, shape = load_diffusers_unet(folder)
        n_cls = record.get("num_classes")
        return LoadedModel(
            net.eval().requires_grad_(False),
            schedule,
            record,
            folder,
            shape,
            conditioning="class" if n_cls else "none",
            num_classes=n_cls,
            prediction=net.prediction_type,
        )
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
    schedule: Schedule | FlowSchedule
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
        schedule = schedule_from_dict(cfg["schedule"])
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


def model_conditioning(folder: Path) -> str:
    """'text', 'class' or 'none' from a model folder's configs alone (no weights read), for early checks."""
    folder = Path(folder)
    if (folder / "model_index.json").is_file() and pipeline_has_text(folder):
        return "text"
    layout = diffusers_layout(folder)
    if layout is not None and (layout[0] / "config.json").is_file():
        return "class" if read_config(layout[0] / "config.json", {}).get("num_class_embeds") else "none"
    return "none"


def conditional_refusal(folder: Path, kind: str, what: str) -> InputError:
    """One line: `what` takes unconditional pixel models only, and what to do instead."""
    name = {"text": "a text-to-image", "class": "a class-conditional"}.get(kind, "a latent")
    return InputError(
        "--model",
        f"{folder} is {name} model; {what} takes unconditional pixel models only (sample it with "
        f"`cpaudit sample --model {folder} --out samples` and audit the samples without --model: threat "
        "model 'samples')",
    )


def require_pixel_unconditional(model: LoadedModel, what: str) -> None:
    """Refuse, in one line, a conditional or latent model where `what` supports only unconditional pixel models."""
    if model.conditioning != "none" or model.codec.latent:
        raise conditional_refusal(model.folder, model.conditioning, what)
