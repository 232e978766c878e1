"""The one-run epsilon lower bound (Steinke, Nasr & Jagielski 2023): the authors' p-value, its guarantee on an
exactly epsilon-DP mechanism, and what the audit's sizes can show."""

import math

import numpy as np
import pytest
from scipy import stats

from cpaudit.core.one_run import (
    count_probability,
    epsilon_from_guesses,
    guess_counts,
    one_run_bound,
    one_run_delta,
    p_value,
)


def authors_p_value(m, r, v, eps, delta):
    """The paper's published procedure, loop for loop (the reference this module was written against)."""
    q = 1 / (1 + math.exp(-eps))
    beta = stats.binom.sf(v - 1, r, q)
    alpha, total = 0, 0
    for i in range(1, v + 1):
        total = total + stats.binom.pmf(v - i, r, q)
        if total > i * alpha:
            alpha = total / i
    return min(beta + alpha * delta * 2 * m, 1)


@pytest.mark.parametrize(
    "m,r,v,eps,delta",
    [
        (1000, 100, 80, 1.0, 1e-5),
        (128, 64, 64, 2.0, 1e-5),
        (128, 10, 7, 0.3, 0.01),
        (50, 20, 0, 1.0, 1e-3),
        (64, 64, 40, 0.0, 0.0),
        (5000, 300, 290, 3.0, 1e-6),
    ],
)
def test_p_value_equals_the_authors_procedure(m, r, v, eps, delta):
    assert p_value(m, r, v, eps, delta) == pytest.approx(authors_p_value(m, r, v, eps, delta), rel=1e-12, abs=1e-300)


def test_golden_all_guesses_correct():
    """delta = 0, every one of 10 guesses right: P = q^10 = 0.05 at q = 0.05^(1/10), epsilon = log(q / (1 - q))."""
    q = 0.05**0.1
    assert epsilon_from_guesses(10, 10, 10, 0.0, 0.05) == pytest.approx(
        math.log(q / (1 - q)), abs=1e-6
    )  # bisection to 2^-24 of its bracket
    assert epsilon_from_guesses(10, 10, 5, 0.0, 0.05) == 0.0  # chance accuracy proves nothing
    assert epsilon_from_guesses(100, 0, 0, 1e-5, 0.05) == 0.0


def test_the_bound_holds_on_randomised_response_at_a_known_epsilon():
    """Brute force of the guarantee: randomised response at epsilon 1 is exactly 1-DP and the worst case for
    the bound, so the bound may exceed 1 in at most 5% of runs (300 seeded runs of 64 candidates; measured 0,
    the Bonferroni correction over guess counts is conservative; 30 or more would have probability < 1e-6)."""
    eps, q = 1.0, 1 / (1 + math.exp(-1.0))
    over = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        member = rng.random(64) < 0.5
        score = np.where(rng.random(64) < q, member, ~member) + 0.1 * rng.random(64)
        over += one_run_bound(score[member], score[~member], delta=0.0, beta=0.05).epsilon > eps
    assert over < 30, over


def test_what_the_audit_sizes_can_show_and_a_perfect_attack_reaching_it():
    rng = np.random.default_rng(0)
    perfect = one_run_bound(rng.normal(10, 1, 32), rng.normal(0, 1, 32), one_run_delta(64), 0.025)
    assert perfect.epsilon == pytest.approx(perfect.max_provable) and 2.0 < perfect.max_provable < 2.6
    assert perfect.delta == 1e-5 < 1 / 64 and perfect.candidates == 64
    big = one_run_bound(rng.normal(10, 1, 5000), rng.normal(0, 1, 5000), one_run_delta(10_000), 0.025)
    assert big.max_provable > perfect.max_provable + 2 and big.delta == 1e-6


def test_ties_are_abstained_on_never_broken_by_label():
    same = np.zeros(32)
    assert one_run_bound(same, same, 1e-5, 0.05).epsilon == 0.0


def test_the_guess_grid_is_fixed_by_the_number_of_candidates():
    grid = guess_counts(64)
    assert grid[:7] == [(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (32, 0), (64, 0)] and (32, 32) in grid
    assert all(k + b <= 64 for k, b in grid)


def test_the_module_docstrings_ceilings():
    """2.49 at r = 64, beta = 0.05/8, delta 0; the audit's fold (64 candidates, 0.025 over the 13-count grid,
    delta 1e-5): 2.26, and 1.86 with the fixed count's correction."""
    assert epsilon_from_guesses(64, 64, 64, 0.0, 0.05 / 8) == pytest.approx(2.4946, abs=1e-3)
    rng = np.random.default_rng(1)
    pos, neg = rng.normal(10, 1, 32), rng.normal(0, 1, 32)
    assert len(guess_counts(64)) == 13
    assert one_run_bound(pos, neg, 1e-5, 0.025).max_provable == pytest.approx(2.264, abs=1e-3)
    assert one_run_bound(pos, neg, 1e-5, 0.025, fixed_count=True).max_provable == pytest.approx(1.856, abs=1e-3)


def test_count_probability_golden():
    assert count_probability(64, 32) == pytest.approx(math.comb(64, 32) / 2**64, rel=1e-12)
    assert count_probability(64, 32) == pytest.approx(0.0993468, abs=1e-7)  # the "factor of about 10 at 64"
    assert count_probability(2, 1) == pytest.approx(0.5, rel=1e-12)


def test_fixed_count_tests_each_guess_count_at_the_level_times_the_counts_probability():
    rng = np.random.default_rng(2)
    pos, neg = rng.normal(1, 1, 20), rng.normal(0, 1, 44)
    plain, fixed = one_run_bound(pos, neg, 1e-5, 0.05), one_run_bound(pos, neg, 1e-5, 0.05, fixed_count=True)
    assert fixed.beta == pytest.approx(plain.beta * math.comb(64, 20) / 2**64, rel=1e-12)
    assert fixed.epsilon <= plain.epsilon and fixed.max_provable < plain.max_provable


def test_without_independent_coins_the_theorem_fails_and_the_conditioned_bound_holds():
    """Exactly one of m = 2 candidates is a member. The mechanism answers A with probability p on {1}, 1 - p on
    {2} and 1/2 on the empty set and on both: epsilon-DP for each candidate at p = 1 - e^-epsilon / 2. Guessing
    candidate 1 a member on A (one guess, r = 1) is right with probability p, above the theorem's q; with the
    count's correction the p-value q / P[Binomial(2, 1/2) = 1] covers it."""
    eps = 1.0
    p = 1 - math.exp(-eps) / 2
    out = {"none": 0.5, "both": 0.5, "1": p, "2": 1 - p}  # P[A | the included set]
    for a, b in (("1", "none"), ("1", "both"), ("2", "none"), ("2", "both")):  # neighbours: one candidate in or out
        for pa, pb in ((out[a], out[b]), (1 - out[a], 1 - out[b])):
            assert pa <= math.exp(eps) * pb + 1e-12 and pb <= math.exp(eps) * pa + 1e-12
    right = 0.5 * out["1"] + 0.5 * (1 - out["2"])  # P[guess correct], the member equally likely each
    theorem = p_value(2, 1, 1, eps, 0.0)
    assert right == pytest.approx(0.8161, abs=1e-4) and theorem == pytest.approx(0.7311, abs=1e-4) and right > theorem
    assert right <= theorem / count_probability(2, 1)
