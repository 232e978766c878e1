"""Samples brought to the data's shape before they are compared: the same channel count and, where pixels are
compared, the same size. Pixel correlation needs one shape; a network embedding resizes both itself."""

from __future__ import annotations

import warnings

import torch.nn.functional as F

from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.engine.stages import described
from cpaudit.auditing.features import FeatureSpec
from cpaudit.auditing.samples import SampleSet
from cpaudit.data.imageset import GREY_SPREAD, ImageSet, grey_in_colour, to_uint8
from cpaudit.errors import InputError


def fit_samples(samples: SampleSet, data: ImageSet, spec: FeatureSpec, opts: AuditOptions) -> SampleSet:
    """Samples at the data's size: as they are; resized under --resize; or, where a network embedding
    resizes every image to its own input anyway, as they are. Pixel correlation needs one size."""
    samples = _same_channels_as(samples, data.shape[0], opts)
    got, want = tuple(samples.images.shape[1:]), data.shape
    if got == want:
        return samples
    if opts.resize is not None:
        x = F.interpolate(samples.images, size=want[1:], mode="bicubic", antialias=True, align_corners=False)
        return SampleSet(x.clamp(-1, 1), samples.run, samples.folder, samples.prompts)
    if spec.kind != "pixel":
        return samples
    raise InputError(
        opts.samples,
        f"samples are {got[1]}x{got[2]} but the images are {want[1]}x{want[2]}: pass "
        f"--resize {got[1]}x{got[2]} to read the images at the samples' size, or a network embedding "
        "(--features), which resizes both",
    )


def _same_channels_as(samples: SampleSet, channels: int, opts: AuditOptions) -> SampleSet:
    """Grey samples against colour images become RGB; colour samples that are grey in content (R = G = B, as
    PNGs or WebPs of grey images may be saved) against grey images are read as grey, and a line says so."""
    x = samples.images
    if x.shape[1] == channels:
        return samples
    if x.shape[1] == 1 and channels == 3:
        return SampleSet(x.expand(-1, 3, -1, -1).contiguous(), samples.run, samples.folder, samples.prompts)
    if x.shape[1] == 3 and channels == 1 and grey_in_colour(to_uint8(x)):
        warnings.warn(
            f"{described(opts.samples)}: read the samples as grey (their three channels are equal to within "
            f"{GREY_SPREAD} levels), as the images are",
            stacklevel=3,
        )
        return SampleSet(x.mean(dim=1, keepdim=True), samples.run, samples.folder, samples.prompts)
    raise InputError(described(opts.samples), f"samples have {x.shape[1]} channel(s) but the images have {channels}")
