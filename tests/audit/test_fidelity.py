"""k-NN precision/recall and authenticity (cpaudit/auditing/fidelity.py): golden values on hand-made points,
a brute-force and a scikit-learn reference, the null (samples from the population) and copying."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

from cpaudit.auditing import fidelity
from cpaudit.auditing.fidelity import authentic, fidelity_figures, knn_radius, precision_recall


def column(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)[:, None]


def test_knn_radius_golden_values():
    points = column(0, 1, 3, 7)
    assert knn_radius(points, 1).tolist() == [1, 1, 2, 4]
    assert knn_radius(points, 2).tolist() == [3, 2, 3, 6]
    assert knn_radius(column(0, 0, 5), 1).tolist() == [0, 0, 5]  # a duplicate is a neighbour, the row itself not
    with pytest.raises(ValueError, match="more than 3 rows"):
        knn_radius(points[:3], 3)


def test_precision_recall_golden_values_and_the_boundary_is_inside():
    real, fake = column(0, 1, 2, 3, 10), column(0.5, 5, 12, 17, 17.5)
    in_real, in_fake = precision_recall(real, fake, k=1)
    # real radii (k = 1): 1, 1, 1, 1, 7; 17 is exactly 7 from 10 (inside), 17.5 is 7.5 away (outside)
    assert in_real.tolist() == [True, True, True, True, False]
    # fake radii: 4.5, 4.5, 5, 0.5, 0.5; 10 is 2 from 12 (radius 5)
    assert in_fake.tolist() == [True, True, True, True, True]
    in_real, in_fake = precision_recall(real, column(0.5, 5, 30, 31), k=1)  # fake radii 4.5, 4.5, 1, 1
    assert in_real.tolist() == [True, True, False, False]
    assert in_fake.tolist() == [True, True, True, True, False]  # 10 is 5 from 5, 9.5 from 0.5, 20 from 30


def test_authentic_golden_values():
    train = column(0, 1, 5)  # nearest-other distances 1, 1, 4
    flags = authentic(column(0, 0.5, 9, 9.5, 3), train)
    # a copy; 0.5 from 0 (tie with 1: the lowest index); exactly 4 from 5 (not authentic); 4.5 from 5;
    # 3 is 2 from 1 and from 5: x_j = 1, whose radius is 1
    assert flags.tolist() == [False, False, False, True, True]


def brute_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The definition written out: loops over rows, distances from scipy."""

    def radii(x: np.ndarray) -> np.ndarray:
        d = cdist(x, x)
        return np.array([np.sort(np.delete(d[i], i))[k - 1] for i in range(len(x))])

    r_real, r_fake = radii(real), radii(fake)
    d = cdist(fake, real)
    in_real = np.array([any(d[i, j] <= r_real[j] for j in range(len(real))) for i in range(len(fake))])
    in_fake = np.array([any(d[i, j] <= r_fake[i] for i in range(len(fake))) for j in range(len(real))])
    return in_real, in_fake


def sklearn_authentic(samples: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Alaa et al.'s metrics/evaluation.py, in scikit-learn: real_to_real[synth_to_real_args] < synth_to_real."""
    nbrs = NearestNeighbors(n_neighbors=2).fit(train)
    real_to_real = nbrs.kneighbors(train)[0][:, 1]
    dist, idx = nbrs.kneighbors(samples, n_neighbors=1)
    return real_to_real[idx[:, 0]] < dist[:, 0]


@pytest.mark.parametrize("block", [1 << 24, 7])  # one block, and blocks of a single row
def test_matches_brute_force_and_sklearn(monkeypatch, block):
    monkeypatch.setattr(fidelity, "BLOCK_ELEMENTS", block)
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(60, 5)), rng.normal(size=(45, 5)) + 0.4
    for k in (1, 3, 5):
        want = NearestNeighbors(n_neighbors=k + 1).fit(real).kneighbors(real)[0][:, k]
        np.testing.assert_allclose(knn_radius(real, k), want, rtol=1e-12, atol=1e-12)
        got, ref = precision_recall(real, fake, k), brute_precision_recall(real, fake, k)
        assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    assert np.array_equal(authentic(fake, real), sklearn_authentic(fake, real))


def test_matches_the_prdc_package():
    prdc = pytest.importorskip("prdc", reason="Naeem et al.'s prdc package (not a dependency)")
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(300, 6)), rng.normal(size=(250, 6)) + 0.3
    want = prdc.compute_prdc(real, fake, 3)  # strict '<' at the boundary: no ties in continuous data
    in_real, in_fake = precision_recall(real, fake, 3)
    assert in_real.mean() == pytest.approx(want["precision"]) and in_fake.mean() == pytest.approx(want["recall"])


def test_null_precision_and_recall_1d_k1_are_three_quarters():
    """Samples from the population itself. In 1-D (locally a Poisson process), with k = 1, a point x between
    neighbours a and b lies outside both balls only if a's other gap is shorter than |x - a| and b's other gap
    shorter than |x - b|; the two distances are independent Exp(1) in units of the mean gap, so
    P(outside) = E[1 - exp(-T)]^2 = 1/4: precision = recall = 3/4. Seeds 0-4 at n = 3000 gave 0.731-0.770
    (binomial sd 0.008); at n = 2000 (sd 0.010) the mean of three seeds is held to 0.025."""
    values = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        in_real, in_fake = precision_recall(rng.normal(size=(2000, 1)), rng.normal(size=(2000, 1)), k=1)
        values += [in_real.mean(), in_fake.mean()]
    assert np.mean(values) == pytest.approx(0.75, abs=0.025)


def test_null_precision_and_recall_k3_in_8d():
    """k = 3 in 8 dimensions, n = 2000 a side: seeds 0-4 gave precision and recall 0.892-0.909 (no closed form;
    the binomial sd is 0.0067). Each of three seeds is held to 0.90 +- 0.03, and precision to recall (the
    roles are symmetric) to 0.03."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        in_real, in_fake = precision_recall(rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8)), k=3)
        assert in_real.mean() == pytest.approx(0.90, abs=0.03)
        assert in_fake.mean() == pytest.approx(0.90, abs=0.03)
        assert abs(in_real.mean() - in_fake.mean()) < 0.03


def test_a_fresh_point_lies_in_k_balls_on_average():
    """Exchangeability: a fresh point is among any real point's k nearest of the n others with probability
    k/n, so it lies in k of the n balls on average, in any dimension. A radius that counted the row itself as
    a neighbour would give k - 1. Mean of three seeds of 1500 points in 4-D: within 0.15 of 3."""
    counts = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        real, fresh = rng.normal(size=(1500, 4)), rng.normal(size=(1500, 4))
        counts.append((cdist(fresh, real) <= knn_radius(real, 3)[None, :]).sum(1).mean())
    assert np.mean(counts) == pytest.approx(3, abs=0.15)


def test_copies_are_at_distance_zero_and_not_authentic_even_of_duplicated_members():
    """Pixel-like rows in 3072 dimensions: |a|^2 + |b|^2 - 2 a.b of a row and its copy rounds to about +-1e-11,
    which without the rounding floor left 10 of the 20 duplicated members a radius above 0 and 46% of the
    copies outside radius-0 balls."""
    rng = np.random.default_rng(2)
    members = rng.random(size=(200, 3072))
    members[100:110] = members[:10]  # duplicated members: nearest other member at distance 0
    copies = members[rng.choice(200, 300)]
    assert (knn_radius(members, 1) == 0).sum() == 20
    assert fidelity.inside_manifold(copies, members, np.zeros(200)).all()
    assert not authentic(copies, members).any()
    assert fidelity_figures(copies, members, members)["authenticity"] == 0


def test_fresh_draws_1d_authenticity_is_one_third():
    """A fresh point x at distance T ~ Exp(2) from its nearest training image x_j (1-D, Poisson limit, unit
    mean gap) is not authentic when x_j's other gap G ~ Exp(1) is at least T: P = E[exp(-T)] = 2/3, so
    authenticity is 1/3. Seeds 0-4 at n = 2000 gave 0.326-0.345; the mean of three seeds is held to 0.025."""
    values = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        values.append(authentic(rng.normal(size=(2000, 1)), rng.normal(size=(2000, 1))).mean())
    assert np.mean(values) == pytest.approx(1 / 3, abs=0.025)


def test_fidelity_figures_intervals_and_counts():
    rng = np.random.default_rng(3)
    holdout, members = rng.normal(size=(80, 3)), rng.normal(size=(50, 3))
    samples = np.concatenate([members[:20], rng.normal(size=(20, 3))])  # half copies
    got = fidelity_figures(samples, holdout, members)
    in_real, in_fake = precision_recall(holdout, samples, 3)
    assert got["precision"] == in_real.mean() and got["recall"] == in_fake.mean()
    assert got["authenticity"] == authentic(samples, members).mean() <= 0.5
    for name in ("precision", "recall", "authenticity"):
        low, high = got[name + "_ci95"]
        assert 0 <= low <= got[name] <= high <= 1 and high - low < 0.5
    assert (got["k"], got["n_samples"], got["n_holdout"], got["n_members"]) == (3, 40, 80, 50)


def test_fidelity_figures_too_few_rows_are_nan():
    got = fidelity_figures(np.zeros((3, 2)), np.ones((10, 2)), np.ones((1, 2)))
    assert np.isnan(got["precision"]) and np.isnan(got["recall"]) and np.isnan(got["authenticity"])
    assert got["precision_ci95"] == [0.0, 1.0]
