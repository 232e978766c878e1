"""The strongest attack's interval (core/crossfit.strongest_interval): what it covers, and that it leaves the
cross-fit's other figures as they were."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from benchmarks.crossfit_coverage import OUT, readme_sentences, strongest_markdown
from cpaudit.auditing.attacks.base import AttackScores, headline_figures
from cpaudit.auditing.strongest import strongest_headline
from cpaudit.core.attack_stats import auc, delong_variance, normal_interval
from cpaudit.core.crossfit import crossfit, delong_covariance, max_t_point, strongest_interval
from cpaudit.report.summary import summary_section


def _variants(rng, n, aucs):
    """Independent normal scores, variant j's members shifted so its AUC is aucs[j]."""
    mu = norm.ppf(np.asarray(aucs)) * np.sqrt(2)
    return rng.normal(size=(len(aucs), n)) + mu[:, None], rng.normal(size=(len(aucs), n))


def test_delong_covariance_golden_on_a_tiny_case():
    """Two variants, 3 v 3. Placements by hand (V10_i: share of held-out below member i; V01_j: share of
    members above held-out j): variant 0, members (3, 5, 6) v held-out (1, 2, 4): V10 = (2/3, 1, 1),
    V01 = (1, 1, 2/3); variant 1, members (4, 2, 1) v (6, 5, 3): V10 = (1/3, 0, 0), V01 = (0, 0, 1/3).
    cov(V10) = cov(V01) = -1/27 across the variants, so their AUCs' covariance is -1/27 / 3 - 1/27 / 3 = -2/81."""
    pos = np.array([[3.0, 5, 6], [4, 2, 1]])
    neg = np.array([[1.0, 2, 4], [6, 5, 3]])
    cov = delong_covariance(pos, neg)
    assert cov[0, 1] == pytest.approx(-2 / 81) and cov[1, 0] == pytest.approx(-2 / 81)
    assert cov[0, 0] == pytest.approx(delong_variance(pos[0], neg[0]))  # the one-curve formula, a reference
    assert cov[1, 1] == pytest.approx(delong_variance(pos[1], neg[1]))


def test_max_t_point_matches_closed_forms():
    """One estimate: the two-sided 97.5% point, z(0.9875) = 2.241; K independent ones: Sidak's point,
    z(1/2 + 0.975^(1/K) / 2); K perfectly correlated ones: the one-estimate point again."""
    rng = np.random.default_rng(0)
    assert max_t_point(np.eye(1), 0.975, rng) == pytest.approx(norm.ppf(0.9875), abs=0.04)
    assert max_t_point(np.eye(8), 0.975, rng) == pytest.approx(norm.ppf(0.5 + 0.975 ** (1 / 8) / 2), abs=0.04)
    assert max_t_point(np.ones((8, 8)), 0.975, rng) == pytest.approx(norm.ppf(0.9875), abs=0.04)


def test_one_variant_reads_as_its_delong_interval_with_the_lower_end_adjusted_for_the_free_sign():
    """K = 1, a clear signal: the upper end is the DeLong interval's, estimate + 1.96 se; the lower end is
    estimate - c se with c = 2.24, the point that covers both signs from below at 97.5%."""
    rng = np.random.default_rng(1)
    pos, neg = _variants(rng, 100, [0.8])
    a, var = auc(pos[0], neg[0]), delong_variance(pos[0], neg[0])
    lo, hi = strongest_interval(pos, neg, np.random.default_rng(2))
    assert hi == pytest.approx(normal_interval(a, var)[1])
    assert lo == pytest.approx(a - norm.ppf(0.9875) * np.sqrt(var), abs=0.04 * np.sqrt(var))


def test_the_interval_is_the_largest_ends_over_variants_and_signs():
    """A variant whose members score lower (AUC 0.2) is the strongest attack with its sign flipped (0.8):
    the interval is about it, not about the null variants."""
    rng = np.random.default_rng(3)
    pos, neg = _variants(rng, 200, [0.5, 0.2, 0.5])
    a = auc(pos[1], neg[1])
    se = np.sqrt(delong_variance(pos[1], neg[1]))
    lo, hi = strongest_interval(pos, neg, np.random.default_rng(4))
    assert hi == pytest.approx(1 - a + 1.96 * se, abs=1e-3)
    assert 1 - a - 3 * se < lo < 1 - a - 2 * se  # the max-t point for three variants lies between 2 and 3
    assert lo < 0.8 < hi


def test_no_spread_is_its_own_interval():
    pos, neg = np.array([[5.0, 6, 7, 8]]), np.array([[1.0, 2, 3, 4]])
    assert strongest_interval(pos, neg, np.random.default_rng(0)) == (1.0, 1.0)


@pytest.mark.slow  # about 5 s a case
@pytest.mark.parametrize(
    "n, aucs",
    [(64, (0.5,) * 8), (64, (0.65,) + (0.5,) * 7), (256, (0.75,) + (0.5,) * 7), (256, (0.65, 0.58) + (0.5,) * 6)],
)
def test_the_interval_covers_the_strongest_attacks_auc(n, aucs):
    """300 seeded sets a case: the interval covers max_j max(AUC_j, 1 - AUC_j) at least 95% of the time (its
    guarantee: each end misses at most 2.5%, never both), here 0.967-0.997. The cross-fit's interval follows the
    attack a half chose and covered 0.65 in about 75% of sets of the second case (benchmarks/results/
    crossfit_coverage.json, part `unequal`). Monte-Carlo sd 0.009 at 0.975: 0.945 is 3 sd below."""
    strongest = max(max(a, 1 - a) for a in aucs)
    covered = 0
    for i in range(300):
        rng = np.random.default_rng(40_000 + i)
        lo, hi = strongest_interval(*_variants(rng, n, aucs), rng)
        covered += lo <= strongest <= hi
    assert covered / 300 >= 0.945, covered


def test_headline_figures_add_the_interval_and_keep_every_other_figure():
    """strongest_auc_ci95 draws from a generator spawned off rng: the cross-fit's figures are what crossfit
    gives on the same generator, and the generator's next draw is what it would have been without it."""
    rng = np.random.default_rng(5)
    pos, neg = _variants(rng, 40, [0.7, 0.5, 0.5])
    figures, _ = headline_figures(pos, neg, rng_a := np.random.default_rng(6), n_null=20, n_boot=20)
    cf = crossfit(pos, neg, rng_b := np.random.default_rng(6), 20, 20)
    assert figures["auc"] == cf.auc and figures["auc_ci95"] == list(cf.auc_ci95) and figures["auc_se"] == cf.auc_se
    assert rng_a.random() == rng_b.random()
    lo, hi = figures["strongest_auc_ci95"]
    assert 0.5 <= lo < hi <= 1 and "strongest_auc_ci95 covers the AUC of the strongest attack" in figures["ci_note"]


def _summary_row(strongest: dict) -> str:
    results = {
        "nn": {"n_samples": 8, "replicas": 0, "replica_rate_ci95": None},
        "setup": {},
        "release": "weights",
        "threat_models": {"weights": {"strongest": strongest}},
    }
    table = summary_section(results).items[1]
    return table.rows[0][1]


def test_the_summary_says_what_each_interval_covers_and_reads_older_results_as_before():
    head = {"auc": 0.62, "auc_ci95": [0.55, 0.69], "chance_band95": [0.44, 0.56]}
    old = _summary_row(head)
    assert old.endswith("(AUC 0.62, 95% interval 0.55-0.69; guessing scores 0.44-0.56 at these sizes)")
    new = _summary_row({**head, "strongest_auc_ci95": [0.58, 0.74]})
    assert (
        "95% interval 0.55-0.69, for the attack chosen on half of the images and scored on the other half; the "
        "strongest attack tried reaches AUC 0.58-0.74, 95% interval on all images;"
    ) in new


ROOT = Path(__file__).resolve().parents[2]


def _words(text: str) -> str:
    return " ".join(text.split())  # the docs wrap their lines


def test_results_and_readme_figures_equal_the_committed_benchmark():
    """benchmarks/RESULTS.md's strongest-attack subsection and docs/statistics.md's sentences on the two intervals are the
    committed benchmarks/results/crossfit_coverage.json, rendered (python benchmarks/crossfit_coverage.py --render)."""
    out = json.loads(OUT.read_text())
    assert strongest_markdown(out) in (ROOT / "benchmarks" / "RESULTS.md").read_text()
    assert _words(readme_sentences(out)) in _words((ROOT / "docs" / "statistics.md").read_text())
    edited = json.loads(OUT.read_text())
    edited["unequal"][0]["coverage_auc_ci95_of_strongest_auc"] = 0.9
    assert _words(readme_sentences(edited)) not in _words((ROOT / "docs" / "statistics.md").read_text())


def test_the_committed_benchmark_meets_what_the_intervals_claim():
    """Every committed cell: strongest_auc_ci95 covers the strongest attack's AUC at least 95% (its Wilson
    interval's upper end above 0.95), and auc_ci95 covers the chosen attack's AUC 0.93-0.99."""
    out = json.loads(OUT.read_text())
    for row in out["unequal"] + out["strongest_equal"]:
        assert row["coverage_strongest_auc_ci95_of_strongest_auc_wilson95"][1] >= 0.95, row
    for row in out["unequal"]:
        assert 0.93 <= row["coverage_auc_ci95_of_chosen_attack_auc"] <= 0.99, row


def test_the_stacked_headline_reads_the_strongest_attack_of_the_whole_set():
    """Stacking attacks (auditing/strongest.py) makes the set's strongest attack the strongest variant of any
    of them: the stacked upper end is the largest of the attacks' own upper ends (each is max_j g_j + 1.96 se_j,
    max-t plays no part), and the lower end is at most the largest of theirs (c grows with the variants)."""
    rng = np.random.default_rng(8)
    scores, attacks, own = {}, {}, []
    for name, aucs in (("a", [0.5, 0.55]), ("b", [0.7, 0.5, 0.5])):
        pos, neg = _variants(rng, 64, aucs)
        scores[name] = AttackScores([f"v{j}" for j in range(len(aucs))], pos, neg, 0)
        attacks[name] = {"title": name, "threat_model": "weights"}
        own.append(strongest_interval(pos, neg, np.random.default_rng(9)))
    head = strongest_headline(scores, attacks, "weights", np.random.default_rng(10), n_null=10, n_boot=0)
    lo, hi = head["strongest_auc_ci95"]
    assert hi == pytest.approx(max(h for _, h in own))
    assert lo <= max(low for low, _ in own) + 1e-9
    assert head["ci_note"].startswith("auc_ci95 covers the AUC of the attack the cross-fit chose")
