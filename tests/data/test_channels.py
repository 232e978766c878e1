"""One rule for grey and colour images met together (data/channels.py): golden cases for each combination, within a
folder, members against held-out images, and the audit's samples against its images."""

import warnings

import numpy as np
import pytest
import torch

from cpaudit.data.channels import reconcile_channels, reconcile_samples
from cpaudit.data.imageset import ImageSet, to_unit_range
from cpaudit.data.pair import load_pair
from tests.conftest import write_png

GREY = np.array([[[0], [10]], [[20], [30]]], np.uint8)  # (2, 2, 1): one grey image
COLOUR_GREY = np.concatenate([GREY, GREY + 1, GREY + 2], axis=-1)  # channels within GREY_SPREAD: grey content
TRUE_COLOUR = np.concatenate([GREY, GREY + 50, GREY], axis=-1)  # green well above the others


def test_same_channels_are_left_as_they_are():
    for a, b in ((GREY, GREY + 5), (TRUE_COLOUR, COLOUR_GREY)):
        done = reconcile_channels([a, b])
        assert done.message is None and done.converted == [] and done.groups[0] is a and done.groups[1] is b
    assert reconcile_channels([GREY, GREY]).channels == 1 and reconcile_channels([TRUE_COLOUR]).channels == 3


def test_grey_content_in_colour_is_read_as_grey_beside_grey():
    done = reconcile_channels([GREY[None], np.stack([COLOUR_GREY, COLOUR_GREY])], ["members", "holdout"])
    assert done.channels == 1 and done.converted == [1]
    assert np.array_equal(done.groups[0], GREY[None])
    assert np.array_equal(done.groups[1], np.stack([GREY + 1, GREY + 1]))  # the channels' rounded mean
    assert done.message == (
        "read the 2 holdout image(s) as grey (their three channels are equal to within 2 levels), "
        "to match the 1 grey members image(s)"
    )


def test_true_colour_turns_grey_into_rgb():
    done = reconcile_channels([GREY, TRUE_COLOUR])
    assert done.channels == 3 and done.converted == [0]
    assert np.array_equal(done.groups[0], np.repeat(GREY, 3, axis=-1)) and done.groups[1] is TRUE_COLOUR
    assert done.message == "converted the 1 grey image(s) to RGB to match the 1 colour one(s)"


def test_a_mixed_folder_is_grey_only_if_every_colour_image_is_grey_in_content():
    grey_ones = reconcile_channels([GREY, COLOUR_GREY, COLOUR_GREY])
    assert grey_ones.channels == 1 and grey_ones.converted == [1, 2]
    assert grey_ones.message.startswith("read the 2 colour-coded image(s) as grey")
    one_true = reconcile_channels([GREY, COLOUR_GREY, TRUE_COLOUR])
    assert one_true.channels == 3 and one_true.converted == [0]  # grey-content colour stays as it is
    assert one_true.groups[1] is COLOUR_GREY


def test_float_images_in_unit_range_follow_the_same_rule():
    as_float = COLOUR_GREY.astype(np.float32) / 127.5 - 1
    done = reconcile_channels([GREY, as_float])
    assert done.channels == 1 and done.groups[1].dtype == np.float32
    np.testing.assert_allclose(done.groups[1][..., 0], as_float.mean(axis=-1), atol=1e-6)
    shifted = as_float.copy()
    shifted[..., 1] += 3 / 127.5  # three levels apart: colour
    assert reconcile_channels([GREY, shifted]).channels == 3


def test_anything_but_one_or_three_channels_is_refused():
    with pytest.raises(ValueError, match="C 1 or 3"):
        reconcile_channels([GREY, np.zeros((2, 2, 4), np.uint8)])


def _set(pixels: np.ndarray) -> ImageSet:
    return ImageSet(pixels, [f"i{k}" for k in range(len(pixels))], "images", captions=["c"] * len(pixels))


def test_samples_grey_in_content_are_read_as_grey_against_grey_images():
    data = _set(np.stack([GREY, GREY]))
    samples = to_unit_range(np.stack([COLOUR_GREY] * 3))
    x, same, message = reconcile_samples(samples, data)
    assert same is data and x.shape == (3, 1, 2, 2) and x.dtype == torch.float32
    torch.testing.assert_close(x, samples.mean(dim=1, keepdim=True))
    assert message.startswith("read the 3 sample image(s) as grey") and "to match the 2 grey data image(s)" in message


def test_grey_samples_against_colour_images_become_rgb():
    data = _set(np.stack([TRUE_COLOUR]))
    samples = to_unit_range(np.stack([GREY, GREY]))
    x, same, message = reconcile_samples(samples, data)
    assert same is data and torch.equal(x, samples.expand(-1, 3, -1, -1))
    assert message == "converted the 2 grey sample image(s) to RGB to match the 1 colour data one(s)"


def test_colour_samples_against_grey_images_turn_the_images_rgb_keeping_their_conditions():
    data = _set(np.stack([GREY, GREY]))
    samples = to_unit_range(np.stack([TRUE_COLOUR]))
    x, rgb, message = reconcile_samples(samples, data)
    assert x is samples and rgb.pixels.shape == (2, 2, 2, 3) and rgb.ids == data.ids and rgb.captions == data.captions
    assert message == "converted the 2 grey data image(s) to RGB to match the 1 colour sample one(s)"
    assert reconcile_samples(x, rgb) == (x, rgb, None)


def test_pair_and_folder_warn_once_naming_the_converted_source(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "h").mkdir()
    for k in range(2):
        big = np.kron(np.ones((2, 2, 1), np.uint8), GREY + k)  # 4x4: the smallest side read
        write_png(tmp_path / "m" / f"{k}.png", big[..., 0])
        write_png(tmp_path / "h" / f"{k}.png", np.concatenate([big, big + 1, big + 2], axis=-1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, split = load_pair(tmp_path / "m", tmp_path / "h")
    assert data.pixels.shape == (4, 4, 4, 1) and list(split.holdout_idx) == [2, 3]
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / 'h'}: read the 2 holdout image(s) as grey (their three channels are equal to within 2 "
        "levels), to match the 2 grey members image(s)"
    ]
