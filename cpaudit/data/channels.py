"""One rule for grey and colour images met together (within a folder, members against held-out images, samples
against the audited images): colour images that are grey in content (R = G = B to within GREY_SPREAD levels, as a
grey image saved as WebP or JPEG decodes) are read as grey; otherwise grey images become RGB. Every place that
reconciles channel counts calls `reconcile_channels`, so the rule cannot drift between them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cpaudit.data.imageset import GREY_SPREAD, ImageSet, colour_to_grey, grey_in_colour


@dataclass(frozen=True)
class Reconciled:
    """The groups at one channel count, in the order given; `converted` the indices of the groups changed, and
    `message` one line saying what was converted (None where nothing was). The caller warns, naming where."""

    groups: list[np.ndarray]
    channels: int
    converted: list[int]
    message: str | None


def reconcile_channels(groups: Sequence[np.ndarray], names: Sequence[str] | None = None) -> Reconciled:
    """Groups of images, channels last: (H, W, C) one image or (N, H, W, C) several, C 1 or 3, uint8 or float in
    [-1, 1] (the package's float range). `names`, one per group, name them in the message ("holdout")."""
    channels = [_channels(g) for g in groups]
    if len(set(channels)) <= 1:
        return Reconciled(list(groups), channels[0] if channels else 0, [], None)
    grey = [i for i, c in enumerate(channels) if c == 1]
    colour = [i for i, c in enumerate(channels) if c == 3]
    is_grey = {i: c == 1 for i, c in enumerate(channels)}  # a folder passes one group per image: no list lookups
    n_grey, n_colour = _count(groups, grey), _count(groups, colour)
    grey_names, colour_names = _named(names, grey), _named(names, colour)
    if all(grey_in_colour(_levels(groups[i])) for i in colour):
        message = (
            f"read the {n_colour} {colour_names or 'colour-coded '}image(s) as grey (their three channels are equal "
            f"to within {GREY_SPREAD} levels), to match the {n_grey} grey {grey_names}image(s)"
        )
        return Reconciled([g if is_grey[i] else _to_grey(g) for i, g in enumerate(groups)], 1, colour, message)
    message = (
        f"converted the {n_grey} grey {grey_names}image(s) to RGB to match the {n_colour} colour {colour_names}one(s)"
    )
    return Reconciled([_to_rgb(g) if is_grey[i] else g for i, g in enumerate(groups)], 3, grey, message)


def reconcile_image_set(data: ImageSet, pixels: np.ndarray) -> ImageSet:
    """`data` with its pixels replaced by a reconciled copy: the same ids, captions, labels and files."""
    if pixels is data.pixels:
        return data
    return ImageSet(
        pixels,
        data.ids,
        data.source,
        captions=data.captions,
        labels=data.labels,
        class_names=data.class_names,
        files=data.files,
    )


def reconcile_samples(samples: torch.Tensor, data: ImageSet) -> tuple[torch.Tensor, ImageSet, str | None]:
    """The audit's samples (float (N, C, H, W) in [-1, 1]) and its images at one channel count by the same rule:
    returns both (the images' ids, captions and labels kept) and the one-line message, None where nothing was
    converted. The caller warns with its own "where" (the samples' folder)."""
    if samples.shape[1] == data.shape[0]:
        return samples, data, None
    as_array = samples.detach().cpu().float().permute(0, 2, 3, 1).numpy()
    done = reconcile_channels([as_array, data.pixels], ["sample", "data"])
    x = samples
    if 0 in done.converted:
        x = torch.from_numpy(np.ascontiguousarray(done.groups[0])).permute(0, 3, 1, 2).contiguous().to(samples.dtype)
    return x, reconcile_image_set(data, done.groups[1]), done.message


def _channels(group: np.ndarray) -> int:
    if group.ndim not in (3, 4) or group.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (H, W, C) or (N, H, W, C) with C 1 or 3, got shape {group.shape}")
    return group.shape[-1]


def _count(groups: Sequence[np.ndarray], which: list[int]) -> int:
    """Images in these groups: a 3-d group is one image, a 4-d group its first axis."""
    return sum(1 if groups[i].ndim == 3 else groups[i].shape[0] for i in which)


def _named(names: Sequence[str] | None, which: list[int]) -> str:
    """These groups' names joined, with a trailing space ("holdout "), or "" where the groups are unnamed."""
    if names is None:
        return ""
    return " and ".join(dict.fromkeys(names[i] for i in which)) + " "


def _levels(group: np.ndarray) -> np.ndarray:
    """uint8 levels of a group: as they are, or float in [-1, 1] rounded to the nearest level."""
    if group.dtype == np.uint8:
        return group
    return np.rint((np.clip(group, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def _to_grey(group: np.ndarray) -> np.ndarray:
    """Colour of grey content -> one channel: uint8 the channels' rounded mean, float their mean."""
    if group.dtype == np.uint8:
        return colour_to_grey(group)[..., None]
    return group.mean(axis=-1, keepdims=True, dtype=np.float64).astype(group.dtype)


def _to_rgb(group: np.ndarray) -> np.ndarray:
    return np.repeat(group, 3, axis=-1)
