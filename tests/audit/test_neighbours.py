import numpy as np
import pytest
import torch

from cpaudit.audit.neighbours import nearest
from cpaudit.audit.pixel import pixel_embedding
from cpaudit.audit.quality import frechet_distance, kernel_inception_distance


def test_pixel_embedding_is_pearson():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 1, 4, 4))
    e = pixel_embedding(torch.tensor(np.stack([a, b])))
    assert abs(float(e[0] @ e[1]) - np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 1e-6
    assert np.allclose(pixel_embedding(np.zeros((1, 16))), 0)  # a blank image has no direction, not NaN


@pytest.mark.parametrize("exact", [True, False])
def test_faiss_equals_brute_force(exact):
    rng = np.random.default_rng(0)
    refs = pixel_embedding(rng.normal(size=(3000, 32)))
    queries = pixel_embedding(rng.normal(size=(100, 32)))
    got = nearest(queries, refs, k=5, exact=exact, nprobe=10_000)  # nprobe covering every list: exact too
    sims = queries @ refs.T
    want = np.argsort(-sims, axis=1)[:, :5]
    assert np.array_equal(got.index, want)
    assert np.allclose(got.similarity, np.take_along_axis(sims, want, 1), atol=1e-5)


def test_frechet_golden_and_kid_near_zero_for_same_distribution():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    b = rng.normal(size=(4000, 3)) + np.array([1.0, 0, 0])
    # Same covariance, means 1 apart: FID ~ 1.
    assert abs(frechet_distance(a, b) - 1.0) < 0.1
    assert abs(frechet_distance(a, a)) < 1e-6
    c = rng.normal(size=(4000, 3))
    assert abs(kernel_inception_distance(a, c, np.random.default_rng(0), subsets=5, subset_size=500)) < 0.01
    assert kernel_inception_distance(a, b, np.random.default_rng(0), subsets=5, subset_size=500) > 0.05
