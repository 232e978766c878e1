import numpy as np
import pytest
import torch

from cpaudit.auditing.quality import frechet_distance, kernel_inception_distance
from cpaudit.similarity.neighbours import nearest
from cpaudit.similarity.pixel import pixel_embedding


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


def test_chunked_exact_search_over_a_memmap_equals_brute_force(tmp_path):
    from cpaudit.similarity.neighbours import exact_nearest

    rng = np.random.default_rng(1)
    refs = pixel_embedding(rng.normal(size=(1000, 16)))
    refs[700] = refs[3]  # a duplicate: ties go to the lower index, as with one flat index
    np.save(tmp_path / "refs.npy", refs)
    mm = np.load(tmp_path / "refs.npy", mmap_mode="r")
    queries = np.concatenate([pixel_embedding(rng.normal(size=(50, 16))), refs[3:4]])
    got = exact_nearest(queries, mm, k=3, chunk_rows=97)  # blocks that do not divide the references
    sims = queries @ refs.T
    want = np.argsort(-sims, axis=1, kind="stable")[:, :3]
    assert np.array_equal(got.index, want) and got.index[-1, 0] == 3
    assert np.allclose(got.similarity, np.take_along_axis(sims, want, 1), atol=1e-5)
    assert got.search == {"method": "exact", "n_references": 1000}


def test_ivf_reports_its_recall_against_exact_search():
    from cpaudit.similarity.neighbours import ivf_nearest

    rng = np.random.default_rng(2)
    centres = rng.normal(size=(40, 32))
    refs = pixel_embedding(centres[rng.integers(40, size=5000)] + 0.3 * rng.normal(size=(5000, 32)))
    queries = pixel_embedding(centres[rng.integers(40, size=300)] + 0.3 * rng.normal(size=(300, 32)))
    full = ivf_nearest(queries, refs, 1, nprobe=10_000, chunk_rows=1000)  # every list probed: exact
    assert full.search["recall_at_1"] == 1.0 and full.search["recall_queries"] == 256
    few = ivf_nearest(queries, refs, 1, nprobe=1)
    exact = queries @ refs.T
    measured = float(np.mean(few.index[:, 0] == exact.argmax(1)))
    assert abs(few.search["recall_at_1"] - measured) < 0.1  # the 256-query estimate tracks the true recall
    assert few.search["nlist"] == 70 and few.search["nprobe"] == 1
