"""ImageSet: float images in [-1, 1] shaped (N, C, H, W), with a stable id and content hash per image."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch


def to_unit_range(images_u8: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images_u8)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), rounding to nearest."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def image_sha256(image: torch.Tensor) -> str:
    """Hash of one image's float32 values in [-1, 1] with its shape, independent of how it was loaded."""
    a = np.ascontiguousarray(image.detach().cpu().numpy().astype("<f4"))
    return hashlib.sha256(str(a.shape).encode() + a.tobytes()).hexdigest()


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, C, H, W) float32 in [-1, 1]
    ids: list[str]
    source: str  # what the user passed: "digits", a path
    _hashes: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.images.dim() != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(self.images.shape)}")
        if len(self.ids) != self.images.shape[0]:
            raise ValueError(f"{len(self.ids)} ids for {self.images.shape[0]} images")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("image ids are not unique")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def hashes(self) -> list[str]:
        if self._hashes is None:
            self._hashes = [image_sha256(img) for img in self.images]
        return self._hashes

    def fingerprint(self) -> str:
        """sha256 over (id, image hash) pairs in order: names the exact data a model or audit saw."""
        h = hashlib.sha256()
        for i, d in zip(self.ids, self.hashes):
            h.update(f"{i}\t{d}\n".encode())
        return h.hexdigest()

    def subset(self, indices: list[int] | np.ndarray) -> "ImageSet":
        idx = [int(i) for i in indices]
        hashes = [self.hashes[i] for i in idx] if self._hashes is not None else None
        return ImageSet(self.images[idx], [self.ids[i] for i in idx], self.source, hashes)
