"""The audit's quality section (auditing/engine/stages.py quality_stage): precision, recall and authenticity on
the audit's features, and the pooled 8x8 block (the tables' pixel FID), for pixel and text-to-image audits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cpaudit.auditing.quality import frechet_distance, pooled_pixels
from cpaudit.auditing.samples import SampleSet
from cpaudit.data.imageset import ImageSet
from cpaudit.data.load import load_data
from cpaudit.pipelines.audit import AuditOptions, audit

N = 24  # members and held-out images each


@pytest.fixture(scope="module")
def captioned():
    """Captioned digits, 32x32 (pooling to 8x8 changes them), split into members and held-out images."""
    data = load_data("captioned-digits")
    assert data.shape == (1, 32, 32)
    return data.subset(np.arange(N)), data.subset(np.arange(N, 2 * N))


def quality_of(members: ImageSet, holdout: ImageSet, text: bool) -> dict:
    """The audit of a sampler that returns a member for every prompt: each member once for its own caption and
    once for a held-out caption (a text audit needs prompts on both sides)."""
    images = torch.cat([members.images, members.images])
    prompts = tuple(members.captions or ()) + tuple(holdout.captions or ()) if text else None
    samples = SampleSet(images, None, Path("<copies>"), prompts)
    opts = AuditOptions(samples=samples, out=None, members=members, holdout=holdout, permutations=20, attack_nulls=50)
    return audit(opts).results["quality"]


@pytest.mark.parametrize("text", [False, True], ids=["pixel audit", "text-to-image audit"])
def test_copies_get_authenticity_zero_on_both_blocks(captioned, text):
    members, holdout = captioned
    q = quality_of(members, holdout, text)
    assert q["features"] == "pixel" and q["feature_dim"] == 32 * 32
    low, high = q["authenticity_ci95"]
    assert q["authenticity"] == 0 and low == pytest.approx(0, abs=1e-12) and 0 < high < 0.2
    assert (q["k"], q["n_members"], q["n_reference"], q["authenticity_reference"]) == (3, N, N, "members")
    assert 0 <= q["precision"] <= 1 and 0 <= q["recall"] <= 1
    pooled = q["pooled_pixels_8x8"]
    assert pooled["features"] == "pixels average-pooled to 8x8" and pooled["feature_dim"] == 64
    sample_pixels = pooled_pixels(torch.cat([members.images, members.images]))
    assert pooled["fid"] == pytest.approx(frechet_distance(sample_pixels, pooled_pixels(holdout.images)))
    assert pooled["authenticity"] == 0 and (pooled["n_samples"], pooled["n_reference"]) == (2 * N, N)


def test_no_pooled_block_where_the_features_already_are_8x8_pixels():
    data = load_data("digits")
    assert data.shape == (1, 8, 8)
    members, holdout = data.subset(np.arange(N)), data.subset(np.arange(N, 2 * N))
    q = quality_of(members, holdout, False)
    assert "pooled_pixels_8x8" not in q and q["authenticity"] == 0


def test_streamed_members_and_held_out_images_give_the_same_figures(captioned, monkeypatch):
    """Sets at least STREAM_MIN_REFERENCES are streamed; quality then re-embeds a seeded subset of at most
    QUALITY_MAX_REFERENCES, here every row, so every figure matches the audit that held them."""
    from cpaudit.auditing.engine import stages

    members, holdout = captioned
    held = quality_of(members, holdout, False)
    monkeypatch.setattr(stages, "STREAM_MIN_REFERENCES", 10)
    streamed = quality_of(members, holdout, False)
    assert streamed["authenticity_reference"] == "members (seeded subset)"
    assert streamed["reference"] == "held-out images (seeded subset)"
    for block in (streamed, streamed["pooled_pixels_8x8"]):
        block["authenticity_reference"] = "members"
    streamed["reference"] = held["reference"]
    assert_close(streamed, held)


def test_large_sides_take_seeded_subsets_for_the_knn_figures(captioned, monkeypatch):
    """Beyond FIDELITY_MAX_ROWS a side is a seeded subset (the k-NN figures cost the product of the sides): the
    quality section says so, keeps FID's counts, and gives the same figures on a rerun."""
    from cpaudit.auditing.engine import stages

    members, holdout = captioned
    monkeypatch.setattr(stages, "FIDELITY_MAX_ROWS", 16)
    first, again = quality_of(members, holdout, False), quality_of(members, holdout, False)
    assert first["fidelity_rows"] == {
        "samples": 16,
        "reference": 16,
        "members": 16,
        "note": "seeded subsets of at most 16 a side",
    }
    assert first["n_reference"] == N and first["authenticity_reference"] == "members (seeded subset)"
    assert_close(first, again)


def assert_close(a, b) -> None:
    """Equal structure and strings; numbers equal to float rounding (the streamed embeddings' order of sums)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_close(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_close(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    else:
        assert a == b


def test_pooled_rows_a_batch_at_a_time_equal_pooling_the_whole_set(captioned):
    from cpaudit.auditing.engine.stages import pooled_rows
    from cpaudit.data.imageset import ImageRows

    members, _ = captioned
    rows = ImageRows(members, np.arange(N)[::-1].copy())
    whole = pooled_pixels(rows.all())
    assert np.array_equal(pooled_rows(rows, None, batch=5), whole)
    assert np.array_equal(pooled_rows(rows, np.array([3, 1]), batch=1), whole[[3, 1]])
    assert pooled_rows(rows, np.array([], dtype=np.int64)).shape == (0, 64)
