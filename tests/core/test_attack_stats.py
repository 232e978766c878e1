import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from cpaudit.core.attack_stats import (
    auc,
    clopper_pearson_upper,
    delong_variance,
    epsilon_lower_bound,
    tpr_at_fprs,
    tpr_without_false_positives,
)


def test_auc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 40).astype(float), rng.integers(0, 4, 30).astype(float)
    want = roc_auc_score(np.r_[np.ones(40), np.zeros(30)], np.r_[pos, neg])
    assert auc(pos, neg) == pytest.approx(want, abs=1e-12)


def test_delong_variance_matches_the_pairwise_formula():
    """Brute force from DeLong et al. (1988): placement values from every (pos, neg) pair."""
    rng = np.random.default_rng(1)
    pos, neg = np.round(rng.normal(0.5, 1, 23), 1), np.round(rng.normal(0, 1, 17), 1)
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(1), psi.mean(0)
    want = v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg)
    assert delong_variance(pos, neg) == pytest.approx(want, rel=1e-12)


def test_tpr_only_where_the_negatives_resolve_the_fpr():
    pos = np.arange(100, 200, dtype=float)
    neg = np.arange(64, dtype=float)
    got = tpr_at_fprs([(pos, neg)])
    assert got == {"0.1": 1.0, "0.01": None, "0.001": None}  # 64 negatives: one false positive is 1.6%
    assert tpr_without_false_positives([(pos, neg)]) == {"fpr": 0.0, "n_negatives": 64, "tpr": 1.0}
    # Golden: negatives 0..9, positives 5.5..14.5; at FPR 0.1 one negative (9) may pass: members above 8.
    pos, neg = np.arange(10, dtype=float) + 5.5, np.arange(10, dtype=float)
    assert tpr_at_fprs([(pos, neg)], (0.1,)) == {"0.1": 0.7}
    assert tpr_without_false_positives([(pos, neg)])["tpr"] == 0.6  # members above 9
    # Two folds on their own scales: thresholds per fold, true positives summed; each fold must resolve the FPR.
    folds = [(pos, neg), (pos * 100, neg * 100)]
    assert tpr_at_fprs(folds, (0.1,)) == {"0.1": 0.7}
    assert tpr_at_fprs([(pos, neg), (pos[:5], neg[:5])], (0.1,)) == {"0.1": None}


def test_clopper_pearson_upper_matches_scipy():
    for k, n in ((0, 10), (3, 64), (63, 64)):
        want = (
            sps.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact").high
        )  # two-sided 90% = one-sided 95%
        assert clopper_pearson_upper(k, n, 0.05) == pytest.approx(want, rel=1e-9)
    assert clopper_pearson_upper(10, 10, 0.05) == 1.0
    assert clopper_pearson_upper(0, 10, 0.05) == pytest.approx(1 - 0.05**0.1)  # hand formula for k = 0


def test_epsilon_lower_bound_golden_perfect_separation():
    """10 members at 1, 10 held-out at 0, delta 0. Thresholds {0, 1}: alpha per bound = 0.05 / (2 * 2).
    At tau = 1 there are no errors: FPR_u = FNR_u = 1 - 0.0125^(1/10); epsilon >= log((1 - u) / u)."""
    u = 1 - 0.0125**0.1
    assert epsilon_lower_bound(np.ones(10), np.zeros(10), delta=0.0) == pytest.approx(math.log((1 - u) / u), rel=1e-9)
    # delta eats into the numerator.
    assert epsilon_lower_bound(np.ones(10), np.zeros(10), delta=0.1) == pytest.approx(
        math.log((1 - u - 0.1) / u), rel=1e-9
    )


def test_epsilon_lower_bound_is_zero_without_separation():
    """Members and held-out images with the same scores: no threshold can certify anything."""
    x = np.linspace(0, 1, 30)
    assert epsilon_lower_bound(x, x.copy(), delta=1 / 30) == 0.0
    rng = np.random.default_rng(2)
    assert epsilon_lower_bound(rng.normal(size=64), rng.normal(size=64), delta=1 / 64) == 0.0


def test_epsilon_lower_bound_grows_with_evidence():
    small = epsilon_lower_bound(np.ones(10), np.zeros(10), delta=0.0)
    large = epsilon_lower_bound(np.ones(1000), np.zeros(1000), delta=0.0)
    assert 0 < small < large
