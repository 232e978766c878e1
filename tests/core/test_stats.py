import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from cpaudit.core.attack_stats import auc as roc_auc
from cpaudit.core.stats import permutation_test, roc_curve, wilson_interval


def test_wilson_golden():
    # Known values: 0/10 -> (0, 0.2775); 5/10 -> (0.2366, 0.7634); 245/256 -> (0.9247, 0.9758).
    assert np.allclose(wilson_interval(0, 10), (0.0, 0.27753), atol=1e-4)
    assert np.allclose(wilson_interval(5, 10), (0.23659, 0.76341), atol=1e-4)
    lo, hi = wilson_interval(245, 256)
    assert lo < 245 / 256 < hi and np.allclose((lo, hi), (0.92471, 0.97584), atol=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("seed", range(5))
def test_auc_and_roc_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    pos = np.round(rng.normal(0.5, 1, 40), 1)  # rounding makes ties
    neg = np.round(rng.normal(0.0, 1, 55), 1)
    y = np.r_[np.ones(40), np.zeros(55)]
    s = np.r_[pos, neg]
    assert abs(roc_auc(pos, neg) - roc_auc_score(y, s)) < 1e-12
    fpr, tpr = roc_curve(pos, neg)
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)


def test_permutation_p_values_uniform_under_null():
    rng = np.random.default_rng(0)
    ps = []
    for _ in range(200):
        sims = rng.normal(size=(20, 16))
        r = permutation_test(sims[:, :8], sims[:, 8:], 99, rng)
        ps.append(r.p_value)
    ps = np.array(ps)
    # Discrete uniform on {1/100, ..., 1}: KS against U(0, 1) and the rate of small p-values.
    assert sps.kstest(ps, "uniform").pvalue > 0.01
    assert abs(np.mean(ps <= 0.1) - 0.1) < 0.07


def test_permutation_detects_planted_shift_and_is_seeded():
    rng = np.random.default_rng(1)
    members = rng.normal(size=(50, 30)) + 0.8
    holdout = rng.normal(size=(50, 30))
    r = permutation_test(members, holdout, 999, np.random.default_rng(7))
    assert r.p_value < 0.01 and r.statistic > 0 and r.n_permutations == 999
    again = permutation_test(members, holdout, 999, np.random.default_rng(7))
    assert again.p_value == r.p_value and np.array_equal(again.null, r.null)
    with pytest.raises(ValueError):
        permutation_test(members, holdout[:, :10], 9, rng)


def test_replica_excess_test_holds_its_level_for_a_sampler_that_never_copies():
    """Samples drawn like held-out images (each reaches the threshold with the held-out base rate, 0.5% on
    digits): the one-sided Fisher test at 5% fails at most 5% of 2,000 simulated audits (conservative)."""
    from cpaudit.core.stats import replica_excess_p

    rng = np.random.default_rng(0)
    for base in (0.005, 0.05):
        k_s, k_h = rng.binomial(256, base, 2000), rng.binomial(1733, base, 2000)
        alarms = np.mean([replica_excess_p(int(a), 256, int(b), 1733) < 0.05 for a, b in zip(k_s, k_h)])
        assert alarms <= 0.05, (base, alarms)
    # ... while "zero replicas" would fail most of them at the digits base rate (1 - 0.995^256 = 72%).
    assert np.mean(rng.binomial(256, 0.005, 2000) > 0) > 0.6
    # And a sampler that copies is caught: 20 of 256 against 9 of 1,733.
    assert replica_excess_p(20, 256, 9, 1733) < 1e-6
