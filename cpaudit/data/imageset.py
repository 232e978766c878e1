"""ImageSet: float images in [-1, 1] shaped (N, C, H, W), with a stable id and content hash per image."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

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


HASH_BLOCK = 4096  # images converted to float at a time while hashing


@dataclass
class ImageSet:
    """Images kept as loaded, uint8 (N, H, W, C): a quarter of float32's memory, so 1,000,000 32x32 RGB
    images take 3 GiB. `take` (and ImageRows, below) convert only the rows asked for to float (N, C, H, W)
    in [-1, 1]; `images` converts the whole set (for sets small enough to hold as float)."""

    pixels: np.ndarray  # uint8 (N, H, W, C)
    ids: list[str]
    source: str  # what the user passed: "digits", a path
    _hashes: list[str] | None = field(default=None, repr=False)
    # Per image, when the data has them (metadata.jsonl, an .npz's arrays, class subfolders): a caption for
    # text-to-image models, a class id for class-conditional ones. Not part of `fingerprint` (the images
    # are); `conditions_fingerprint` names them.
    captions: list[str] | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)
    class_names: list[str] | None = field(default=None, repr=False)
    # The file each image was decoded from, where it came from one: a split.json may name images by the
    # SHA-256 of their files (as `sha256sum` prints it) rather than of their decoded pixels.
    files: list[Path] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.pixels.dtype != np.uint8 or self.pixels.ndim != 4:
            raise ValueError(f"pixels must be uint8 (N, H, W, C), got {self.pixels.dtype} shape {self.pixels.shape}")
        if len(self.ids) != self.pixels.shape[0]:
            raise ValueError(f"{len(self.ids)} ids for {self.pixels.shape[0]} images")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("image ids are not unique")
        if self.captions is not None and len(self.captions) != len(self.ids):
            raise ValueError(f"{len(self.captions)} captions for {len(self.ids)} images")
        if self.labels is not None and self.labels.shape != (len(self.ids),):
            raise ValueError(f"labels must be ({len(self.ids)},), got {self.labels.shape}")

    def __len__(self) -> int:
        return self.pixels.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        _, h, w, c = self.pixels.shape
        return (c, h, w)

    @property
    def images(self) -> torch.Tensor:
        """The whole set as float32 (N, C, H, W) in [-1, 1]."""
        return to_unit_range(self.pixels)

    def take(self, indices: list[int] | np.ndarray) -> torch.Tensor:
        """The given rows as float32 (len(indices), C, H, W) in [-1, 1]."""
        return to_unit_range(self.pixels[np.asarray(indices, dtype=np.int64)])

    @property
    def hashes(self) -> list[str]:
        if self._hashes is None:
            self._hashes = []
            for start in range(0, len(self), HASH_BLOCK):
                self._hashes += [image_sha256(img) for img in to_unit_range(self.pixels[start : start + HASH_BLOCK])]
        return self._hashes

    def file_sha256(self, i: int) -> str | None:
        """sha256 of image i's file as stored (None for images not read from a file)."""
        if self.files is None:
            return None
        return hashlib.sha256(Path(self.files[i]).read_bytes()).hexdigest()

    def fingerprint(self) -> str:
        """sha256 over (id, image hash) pairs in order: names the exact data a model or audit saw."""
        h = hashlib.sha256()
        for i, d in zip(self.ids, self.hashes):
            h.update(f"{i}\t{d}\n".encode())
        return h.hexdigest()

    def conditions_fingerprint(self) -> str | None:
        """sha256 over (id, caption or class) pairs: names the conditions a conditional model was trained on."""
        if self.captions is None and self.labels is None:
            return None
        h = hashlib.sha256()
        for k, i in enumerate(self.ids):
            cap = self.captions[k] if self.captions is not None else ""
            lab = int(self.labels[k]) if self.labels is not None else ""
            h.update(f"{i}\t{cap}\t{lab}\n".encode())
        return h.hexdigest()

    def subset(self, indices: list[int] | np.ndarray) -> ImageSet:
        idx = [int(i) for i in indices]
        hashes = [self.hashes[i] for i in idx] if self._hashes is not None else None
        return ImageSet(
            self.pixels[idx],
            [self.ids[i] for i in idx],
            self.source,
            hashes,
            captions=None if self.captions is None else [self.captions[i] for i in idx],
            labels=None if self.labels is None else self.labels[idx],
            class_names=self.class_names,
            files=None if self.files is None else [self.files[i] for i in idx],
        )


@dataclass(frozen=True)
class ImageRows:
    """Some rows of an ImageSet (members, held-out images), converted to float only a batch at a time."""

    data: ImageSet
    index: np.ndarray  # int64 row numbers into data

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: list[int] | np.ndarray) -> torch.Tensor:
        """Float32 (len(rows), C, H, W) of these positions (0 .. len - 1) in [-1, 1]."""
        return self.data.take(self.index[np.asarray(rows, dtype=np.int64)])

    def batch(self, start: int, stop: int) -> torch.Tensor:
        return self.data.take(self.index[start:stop])

    def all(self) -> torch.Tensor:
        """Every row as float32: for row counts small enough to hold."""
        return self.data.take(self.index)


# A grey image saved as WebP (no grey mode) or lossy JPEG decodes as RGB whose channels differ by a grey
# level or so (lossy WebP's YUV round trip: at most 1 level, measured on grey digits).
GREY_SPREAD = 2  # uint8 levels between channels that still count as grey content


def grey_in_colour(pixels: np.ndarray) -> bool:
    """True where uint8 (..., 3) colour images carry grey content (channels within GREY_SPREAD levels), so
    that they match grey images rather than turn them into colour ones."""
    if pixels.shape[-1] != 3:
        return False
    spread = pixels.max(axis=-1).astype(np.int16) - pixels.min(axis=-1)
    return bool((spread <= GREY_SPREAD).all())


def colour_to_grey(pixels: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) of grey content -> (...,): the channels' rounded mean."""
    return np.rint(pixels.mean(axis=-1)).astype(np.uint8)


def blur_u8(images: np.ndarray, factor: int = 4) -> np.ndarray:
    """(N, H, W, C) uint8 -> the same size, averaged over factor x factor blocks: coarse enough that a
    report shows where a member sits without showing the member. Edges are padded by repetition."""
    n, h, w, c = images.shape
    ph, pw = -h % factor, -w % factor
    padded = np.pad(images.astype(np.float32), ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    H, W = padded.shape[1] // factor, padded.shape[2] // factor
    blocks = padded.reshape(n, H, factor, W, factor, c).mean(axis=(2, 4))
    return np.rint(blocks.repeat(factor, axis=1).repeat(factor, axis=2)[:, :h, :w]).astype(np.uint8)
