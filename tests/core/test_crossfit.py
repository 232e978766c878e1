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


def _latent_variants(rng, n, true_auc, k=5, tau=0.5):
    from scipy.stats import norm

    mu = norm.ppf(true_auc) * np.sqrt(2 * (1 + tau**2))
    zp, zn = rng.normal(mu, 1, n), rng.normal(0, 1, n)
    return zp + tau * rng.normal(size=(k, n)), zn + tau * rng.normal(size=(k, n))


@pytest.mark.parametrize("true_auc", [0.5, 0.7])
def test_the_interval_covers_the_chosen_attacks_auc(true_auc):
    """150 seeded 64 v 64 sets, five variants of one latent score (all with the same AUC): the reported 95%
    interval covers the true AUC of the attack the cross-fit chose (1 - AUC where a half chose the wrong
    sign) 92-99.5% of the time here (Monte-Carlo sd 0.018; 400-set figures for more cells in
    benchmarks/results/crossfit_coverage.json). The earlier interval (the halves' DeLong variances added as
    if independent) covered 89% under the null."""
    covered = 0
    for i in range(150):
        rng = np.random.default_rng(7_000 + i)
        pos, neg = _latent_variants(rng, 64, true_auc)
        cf = crossfit(pos, neg, rng, n_boot=100, n_null=100)
        psi = np.mean([true_auc if sign > 0 else 1 - true_auc for _, sign in cf.chosen])
        covered += cf.auc_ci95[0] <= psi <= cf.auc_ci95[1]
    assert 0.92 <= covered / 150 <= 0.995, (
        covered
    )  # measured 0.98 (null), 0.96 (0.7); the earlier interval: 0.887 under the null


def test_bootstrap_halves_keep_sizes_and_the_null_caps_the_standard_error():
    rng = np.random.default_rng(3)
    pos, neg = rng.normal(size=(3, 40)), rng.normal(size=(3, 40))
    boot = crossfit(pos, neg, np.random.default_rng(1), n_boot=50)
    capped = crossfit(pos, neg, np.random.default_rng(1), n_boot=50, n_null=50)
    assert capped.auc == boot.auc and len(capped.null) == 50 and len(boot.null) == 0
    assert capped.auc_se == pytest.approx(min(boot.auc_se, np.std(capped.null, ddof=1)))
    assert np.isnan(crossfit(pos, neg, rng, n_boot=0).auc_se)
