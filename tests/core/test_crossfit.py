"""Cross-fitted headlines: selection-free under the null, and the chance band holds its level."""

import numpy as np
import pytest

from cpaudit.core.attack_stats import auc
from cpaudit.core.crossfit import crossfit, crossfit_null


def test_planted_signal_in_one_variant_is_found_and_reported_without_bias():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(size=(5, 200)), rng.normal(size=(5, 200))
    pos[3] -= 2.0  # variant 3 separates, with members scoring *lower*: the attacker flips the sign
    cf = crossfit(pos, neg, np.random.default_rng(1))
    assert [c for c in cf.chosen] == [(3, -1), (3, -1)]
    assert cf.auc > 0.9 and cf.auc_ci95[0] < cf.auc < cf.auc_ci95[1]
    assert len(cf.pos) == 200 and len(cf.neg) == 200


def test_null_calibration_of_the_band_and_the_gate():
    """200 seeded null data sets (64 vs 64, five variants, scores from one distribution): the cross-fitted
    AUC exceeds its printed 95% band's upper edge (where a --max-mia-auc gate at the band's edge fails)
    in at most 5% of them. Choosing the best variant and sign on the reported data, as cpaudit did before,
    exceeds the chance band of one pre-specified AUC (0.5 +- 1.96 sd, sd^2 = (m + n + 1) / (12 m n)) far
    more often. Seeded numpy draws and rank statistics: the same on every machine."""
    single_hi = 0.5 + 1.96 * np.sqrt((64 + 64 + 1) / (12 * 64 * 64))
    over, naive_over = 0, 0
    for i in range(200):
        rng = np.random.default_rng(1000 + i)
        pos, neg = rng.normal(size=(5, 64)), rng.normal(size=(5, 64))
        cf = crossfit(pos, neg, rng)
        null = crossfit_null(pos, neg, 99, rng)
        hi = np.quantile(null, 0.975)
        over += cf.auc > hi
        naive = max(max(a, 1 - a) for a in (auc(p, q) for p, q in zip(pos, neg)))
        naive_over += naive > single_hi
    assert over <= 10, over
    assert naive_over >= 30, naive_over  # the selection bias the cross-fit removes (about 20% exceed, nominal 2.5%)


def test_too_few_images_is_refused():
    with pytest.raises(ValueError, match="at least 4"):
        crossfit(np.zeros((1, 3)), np.zeros((1, 10)), np.random.default_rng(0))
