"""Embeddings for the audit, chosen by a spec string:

  pixel                   Pearson-correlation pixel embedding (default for small images)
  timm:NAME[:WEIGHTS]     any timm backbone's pooled features; weights from a local file only
  inception:WEIGHTS       torchvision Inception-v3 pool features (2048-d) for FID, weights from a local file

Rows are L2-normalised for the nearest-neighbour search; quality metrics use the raw features.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cpaudit.audit.pixel import pixel_embedding
from cpaudit.errors import InputError


@dataclass(frozen=True)
class FeatureSpec:
    kind: str  # pixel | timm | inception
    name: str = ""
    weights: Path | None = None

    @property
    def label(self) -> str:
        if self.kind == "pixel":
            return "pixel"
        return f"{self.kind}:{self.name}" if self.kind == "timm" else "inception"

    @property
    def pretrained(self) -> bool:
        return self.kind == "pixel" or self.weights is not None


def parse_features(spec: str) -> FeatureSpec:
    parts = spec.split(":", 2)
    if parts[0] == "pixel" and len(parts) == 1:
        return FeatureSpec("pixel")
    if parts[0] == "timm" and len(parts) >= 2 and parts[1]:
        weights = Path(parts[2]) if len(parts) == 3 else None
        if weights is not None and not weights.is_file():
            raise InputError(weights, "weights file not found")
        return FeatureSpec("timm", parts[1], weights)
    if parts[0] == "inception" and len(parts) >= 2:
        weights = Path(spec.split(":", 1)[1])
        if not weights.is_file():
            raise InputError(weights, "Inception weights file not found")
        return FeatureSpec("inception", "inception_v3", weights)
    raise InputError("--features", f"expected pixel, timm:NAME[:WEIGHTS] or inception:WEIGHTS, got {spec!r}")


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    """safetensors, or a torch file loaded with weights_only=True (never an arbitrary unpickle)."""
    if path.suffix == ".safetensors":
        from cpaudit.models.checkpoint import load_weights

        return load_weights(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a hostile or foreign file
        raise InputError(path, f"refused to load (only tensors are accepted: {type(e).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(path, "does not hold a state dict of tensors")
    return state


def _network(spec: FeatureSpec) -> tuple[torch.nn.Module, tuple[int, int], tuple[float, ...], tuple[float, ...]]:
    if spec.kind == "timm":
        import timm

        try:
            net = timm.create_model(spec.name, pretrained=False, num_classes=0)
        except RuntimeError as e:
            raise InputError("--features", f"unknown timm model {spec.name!r} ({e})") from None
        cfg = net.pretrained_cfg
        size = tuple(cfg.get("input_size", (3, 224, 224))[1:])
        mean, std = cfg.get("mean", (0.485, 0.456, 0.406)), cfg.get("std", (0.229, 0.224, 0.225))
    else:
        from torchvision.models import inception_v3

        net = inception_v3(weights=None, aux_logits=True, init_weights=False)
        net.fc = torch.nn.Identity()
        size, mean, std = (299, 299), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    if spec.weights is not None:
        state = _load_state(spec.weights)
        missing, unexpected = net.load_state_dict(state, strict=False)
        if len(missing) > len(state) // 2 or not state:
            raise InputError(spec.weights, f"weights do not fit {spec.label} ({len(missing)} missing tensors)")
    return net.eval(), size, tuple(mean), tuple(std)  # type: ignore[return-value]


@torch.no_grad()
def network_features(images: torch.Tensor, spec: FeatureSpec, batch_size: int = 64, on_batch=None, built=None,
                     device: torch.device | str = "cpu") -> np.ndarray:
    net, size, mean, std = built if built is not None else _network(spec)
    net = net.to(device)
    m = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device).view(1, 3, 1, 1)
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start : start + batch_size].to(device)
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        x = F.interpolate((x + 1) / 2, size=size, mode="bilinear", align_corners=False)
        out.append(net((x - m) / s).flatten(1).double().cpu().numpy())
        if on_batch is not None:
            on_batch()
    return np.concatenate(out).astype(np.float32)


def batch_embedder(spec: FeatureSpec, device: torch.device | str = "cpu"):
    """A function from a batch of images to its raw float32 embedding, the network built once (on `device`)."""
    if spec.kind == "pixel":
        return lambda x: pixel_embedding(x).astype(np.float32)
    built = _network(spec)
    return lambda x: network_features(x, spec, built=built, device=device)


def embed(images: torch.Tensor, spec: FeatureSpec, *, cache_dir: Path | None = None, on_batch=None,
          device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(search embedding with unit rows, quality features) for (N, C, H, W) images in [-1, 1].

    Network features are computed on `device` and cached under cache_dir by a hash of the images and the
    spec (not the device: a GPU's features differ from the CPU's by rounding only).
    """
    if spec.kind == "pixel":
        return pixel_embedding(images), images.flatten(1).double().numpy().astype(np.float32)
    feats = None
    key = None
    if cache_dir is not None:
        h = hashlib.sha256(images.numpy().tobytes() + spec.label.encode() + str(spec.weights).encode()).hexdigest()[:32]
        key = cache_dir / f"{h}.npy"
        if key.is_file():
            feats = np.load(key, allow_pickle=False)
    if feats is None:
        feats = network_features(images, spec, on_batch=on_batch, device=device)
        if key is not None:
            from cpaudit.io_utils import atomic_path

            with atomic_path(key) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, feats)
    norm = np.linalg.norm(feats, axis=1, keepdims=True)
    unit = np.divide(feats, norm, out=np.zeros_like(feats), where=norm > 0)
    return unit.astype(np.float32), feats
