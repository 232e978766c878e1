"""ImageSet keeps images as uint8 and converts rows on demand, with fingerprints unchanged."""

import numpy as np
import torch

from cpaudit.auditing.embedding_store import stream_embeddings
from cpaudit.auditing.features import parse_features
from cpaudit.data.imageset import ImageRows, ImageSet
from cpaudit.data.load import load_data

# The digits fingerprint that model folders written by earlier versions record (float32 images then).
DIGITS_FINGERPRINT = "208c35d87b184cf4ececc35d5ba68b0fb1c09adcf8d0740f4d1531bbbedd0051"


def test_digits_are_held_as_uint8_with_the_recorded_fingerprint():
    d = load_data("digits")
    assert d.pixels.dtype == np.uint8 and d.pixels.nbytes == 1797 * 8 * 8
    assert d.fingerprint() == DIGITS_FINGERPRINT
    assert d.subset([5, 3]).fingerprint() == "cc5b346253366f3c798d1c36e2ea5ca62edc035fe1c52c12c8130b3d57903e8d"


def test_take_and_rows_convert_only_what_is_asked():
    rng = np.random.default_rng(0)
    d = ImageSet(rng.integers(0, 256, (10, 4, 4, 3), dtype=np.uint8), [str(i) for i in range(10)], "test")
    whole = d.images
    assert whole.dtype == torch.float32 and whole.shape == (10, 3, 4, 4) and d.shape == (3, 4, 4)
    assert torch.equal(d.take([7, 2]), whole[[7, 2]])
    rows = ImageRows(d, np.array([9, 1, 4, 6]))
    assert len(rows) == 4
    assert torch.equal(rows.all(), whole[[9, 1, 4, 6]])
    assert torch.equal(rows.batch(1, 3), whole[[1, 4]])
    assert torch.equal(rows.take([3, 0]), whole[[6, 9]])
    assert [d.hashes[i] for i in (9, 1)] == [d.subset([9, 1]).hashes[0], d.subset([9, 1]).hashes[1]]


def test_streaming_rows_equals_streaming_floats(tmp_path):
    d = load_data("digits")
    idx = np.arange(0, 300, 3)
    spec = parse_features("pixel")
    a = stream_embeddings(ImageRows(d, idx), spec, tmp_path / "rows.npy", batch_size=7)
    b = stream_embeddings(d.take(idx), spec, tmp_path / "floats.npy", batch_size=64)
    assert np.array_equal(np.asarray(a), np.asarray(b))
