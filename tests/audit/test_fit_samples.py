"""The audit engine brings samples and images to one shape before comparing them (auditing/engine/fit_samples.py):
data/channels.py's one rule for the channels, then the size (--resize, or a network embedding that resizes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cpaudit.auditing.engine.fit_samples import fit_samples
from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.features import FeatureSpec
from cpaudit.auditing.samples import SampleSet
from cpaudit.data.imageset import ImageSet
from cpaudit.errors import InputError

GREY = np.array([[[0], [255]], [[128], [64]]], np.uint8)  # (2, 2, 1)
COLOUR = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [9, 9, 9]]], np.uint8)  # (2, 2, 3)


def _data(image: np.ndarray, n: int = 3) -> ImageSet:
    return ImageSet(np.stack([image] * n), [f"i{k}" for k in range(n)], "images")


def _samples(image: np.ndarray, n: int = 2) -> SampleSet:
    x = torch.from_numpy(np.stack([image] * n)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return SampleSet(x, None, Path("samples"))


def _opts(**kw) -> AuditOptions:
    return AuditOptions(samples=Path("samples"), out=None, **kw)


def test_samples_of_the_data_shape_pass_as_they_are():
    samples, data = _samples(GREY), _data(GREY)
    assert fit_samples(samples, data, FeatureSpec("pixel"), _opts()) == (samples, data)


def test_colour_samples_grey_in_content_are_read_as_grey_with_a_warning():
    grey_in_colour = np.repeat(GREY, 3, axis=2)
    with pytest.warns(UserWarning, match=r"^samples: read the 2 sample image\(s\) as grey"):
        samples, data = fit_samples(_samples(grey_in_colour), _data(GREY), FeatureSpec("pixel"), _opts())
    assert samples.images.shape == (2, 1, 2, 2) and data.shape == (1, 2, 2)
    torch.testing.assert_close(samples.images, _samples(GREY).images)


def test_true_colour_samples_turn_grey_images_rgb():
    with pytest.warns(UserWarning, match=r"converted the 3 grey data image\(s\) to RGB"):
        samples, data = fit_samples(_samples(COLOUR), _data(GREY), FeatureSpec("pixel"), _opts())
    assert samples.images.shape == (2, 3, 2, 2) and data.shape == (3, 2, 2) and data.ids == ["i0", "i1", "i2"]


def test_another_size_is_refused_on_pixels_resized_under_resize_and_kept_for_a_network():
    big = _samples(np.kron(GREY, np.ones((2, 2, 1), np.uint8)))  # 4x4 against 2x2 images
    with pytest.raises(InputError, match="samples are 4x4 but the images are 2x2: pass --resize 4x4"):
        fit_samples(big, _data(GREY), FeatureSpec("pixel"), _opts())
    resized, _ = fit_samples(big, _data(GREY), FeatureSpec("pixel"), _opts(resize=(2, 2)))
    assert resized.images.shape == (2, 1, 2, 2) and resized.images.abs().max() <= 1
    kept, _ = fit_samples(big, _data(GREY), FeatureSpec("timm", "x"), _opts())
    assert kept is big
