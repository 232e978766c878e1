"""Samples brought to the data's shape before they are compared: the same channel count (data/channels.py's one
rule) and, where pixels are compared, the same size. Pixel correlation needs one shape; a network embedding resizes
both itself."""

from __future__ import annotations

import warnings

import torch.nn.functional as F

from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.engine.stages import described
from cpaudit.auditing.features import FeatureSpec
from cpaudit.auditing.samples import SampleSet
from cpaudit.data.channels import reconcile_samples
from cpaudit.data.imageset import ImageSet
from cpaudit.errors import InputError


def fit_samples(
    samples: SampleSet, data: ImageSet, spec: FeatureSpec, opts: AuditOptions
) -> tuple[SampleSet, ImageSet]:
    """Samples and images at one channel count, and the samples at the data's size: as they are; resized under
    --resize; or, where a network embedding resizes every image to its own input anyway, as they are."""
    x, data, message = reconcile_samples(samples.images, data)
    if message is not None:
        warnings.warn(f"{described(opts.samples)}: {message}", stacklevel=3)
        samples = SampleSet(x, samples.run, samples.folder, samples.prompts)
    got, want = tuple(samples.images.shape[1:]), data.shape
    if got == want:
        return samples, data
    if opts.resize is not None:
        x = F.interpolate(samples.images, size=want[1:], mode="bicubic", antialias=True, align_corners=False)
        return SampleSet(x.clamp(-1, 1), samples.run, samples.folder, samples.prompts), data
    if spec.kind != "pixel":
        return samples, data
    raise InputError(
        described(opts.samples),
        f"samples are {got[1]}x{got[2]} but the images are {want[1]}x{want[2]}: pass "
        f"--resize {got[1]}x{got[2]} to read the images at the samples' size, or a network embedding "
        "(--features), which resizes both",
    )
