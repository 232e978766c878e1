"""Calibration of the audit's statistics on synthetic data, written to benchmarks/results/crossfit_coverage.json.

1. Coverage of the cross-fitted AUC's reported 95% interval (the bootstrap of the whole procedure that
   core/crossfit.py computes) beside the earlier interval (the two folds' DeLong variances added as if
   independent), under the null and under signals, 64 v 64 and 256 v 256. Five variants per set, each a noisy
   copy of one latent score, so every variant has the same true AUC (as timesteps of one attack do). The
   estimand is the true AUC of the attack the cross-fit chose (its variant and sign): under the null it is
   0.5; under a weak signal a half that picks the wrong sign chooses an attack whose true AUC is 1 - AUC,
   so no selection can promise coverage of the variants' own AUC there; that coverage is reported too.
2. The false-alarm rate, on null data, of a gate on the strongest of several attacks: reading the maximum
   against each attack's own chance band (what "strongest attack" meant before) against the
   selection-adjusted headline (auditing/strongest.py) at level 0.025.
3. The one-run epsilon bound's guarantee (core/one_run.py): on randomised response at a known epsilon, an
   exactly epsilon-DP mechanism and the worst case for the bound, it must exceed that epsilon in at most
   5% of runs.
4. How often `--baseline` calls an unchanged model a regression (two independent null audits): the
   z-test of auditing/baseline.py against the earlier "above the stored run's interval" rule.

5. Unequal variants (`unequal`): one leaking variant among nulls, and two of different strength among nulls,
   where the cross-fit's interval (which follows the attack a half chose) need not cover the strongest
   attack's AUC. Measured: each interval's coverage of what it claims, auc_ci95 of the chosen attack's AUC,
   strongest_auc_ci95 (core/crossfit.strongest_interval) of the strongest attack's AUC, max over variants
   and signs; and how often auc_ci95 covers the strongest attack's AUC, which it does not claim. Wilson 95%
   intervals on every coverage. `strongest_equal` adds strongest_auc_ci95's coverage on the data sets of
   part 1 (the same seeds, so the same scores; the strongest attack's AUC is the variants' common one).

Seeds: 10,000,000 on, apart from the 500,000-700,000 the interval's construction was tried on.

    python benchmarks/crossfit_coverage.py [--sets 400] [--parts coverage,max_over_attacks,one_run,baseline,unequal,strongest_equal]
    # about 40 minutes on 2 cores for the first four parts; unequal about 14 minutes on one core
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

from cpaudit.auditing.attacks.base import AttackScores, headline_figures
from cpaudit.auditing.strongest import strongest_headline
from cpaudit.core.attack_stats import delong_variance, normal_interval
from cpaudit.core.crossfit import crossfit, strongest_interval
from cpaudit.core.one_run import one_run_bound

SEED0 = 10_000_000
OUT = Path(__file__).resolve().parent / "results" / "crossfit_coverage.json"


def latent_variants(rng: np.random.Generator, n: int, true_auc: float, k: int = 5, tau: float = 0.5):
    """k variants sharing one latent score: each variant's AUC is true_auc."""
    mu = norm.ppf(true_auc) * np.sqrt(2 * (1 + tau**2))
    zp, zn = rng.normal(mu, 1, n), rng.normal(0, 1, n)
    return zp + tau * rng.normal(size=(k, n)), zn + tau * rng.normal(size=(k, n))


def coverage(n: int, true_auc: float, sets: int, seed: int) -> dict:
    """Coverage of the chosen attack's true AUC (psi: the variants' AUC, or 1 minus it where a half chose the
    wrong sign), the estimand of a cross-fit; and of the variants' AUC itself, which a selection cannot
    promise where the sign is in doubt."""
    est, cover_psi, cover_auc, old_psi, widths = [], [], [], [], []
    for i in range(sets):
        rng = np.random.default_rng(seed + i)
        pos, neg = latent_variants(rng, n, true_auc)
        cf = crossfit(pos, neg, rng, n_null=200)  # as the audit computes it (attack_nulls = 200)
        psi = float(np.mean([true_auc if sign > 0 else 1 - true_auc for _, sign in cf.chosen]))
        old = normal_interval(cf.auc, sum(delong_variance(p, q) for p, q in cf.folds) / 4)
        lo, hi = cf.auc_ci95
        est.append(cf.auc)
        cover_psi.append(lo <= psi <= hi)
        cover_auc.append(lo <= true_auc <= hi)
        old_psi.append(old[0] <= psi <= old[1])
        widths.append(hi - lo)
    return {
        "n_per_side": n,
        "true_auc": true_auc,
        "sets": sets,
        "procedure_mean_auc": float(np.mean(est)),
        "empirical_sd": float(np.std(est, ddof=1)),
        "mean_reported_se": float(np.mean(widths) / (2 * 1.959964)),
        "coverage_of_chosen_attack_auc": float(np.mean(cover_psi)),
        "coverage_of_variant_auc": float(np.mean(cover_auc)),
        "earlier_delong_independent_coverage_of_chosen_attack_auc": float(np.mean(old_psi)),
        "monte_carlo_sd": float(np.sqrt(0.95 * 0.05 / sets)),
    }


def max_gate_false_alarms(n: int, attacks: int, sets: int, seed: int, n_null: int = 200, level: float = 0.025) -> dict:
    naive, adjusted = 0, 0
    for i in range(sets):
        rng = np.random.default_rng(seed + i)
        # Attacks on the same images: scores of different attacks correlate (as loss and SimA do), all null.
        shared = rng.normal(size=(1, 2 * n))
        scores, entries = {}, {}
        for a in range(attacks):
            s = 0.5 * shared + rng.normal(size=(4, 2 * n))
            scores[f"a{a}"] = AttackScores([f"v{j}" for j in range(4)], s[:, :n], s[:, n:], 0)
            figures, _ = headline_figures(s[:, :n], s[:, n:], rng, n_null, n_boot=0)
            entries[f"a{a}"] = {"title": f"a{a}", "threat_model": "weights", **figures}
        top = max(entries.values(), key=lambda e: e["auc"])
        naive += top["auc"] > top["chance_band95"][1]
        head = strongest_headline(scores, entries, "weights", rng, n_null, n_boot=0)
        adjusted += head["p_value"] < level
    return {
        "n_per_side": n,
        "attacks": attacks,
        "variants_per_attack": 4,
        "sets": sets,
        "level": level,
        "false_alarm_max_vs_own_band": naive / sets,
        "false_alarm_selection_adjusted": adjusted / sets,
    }


def one_run_guarantee(m: int, epsilon: float, sets: int, seed: int, beta: float = 0.05) -> dict:
    """Randomised response: each candidate's membership bit is reported truthfully with probability
    e^eps / (1 + e^eps); scores are the report plus independent jitter (post-processing)."""
    q = 1 / (1 + np.exp(-epsilon))
    over, bounds = 0, []
    for i in range(sets):
        rng = np.random.default_rng(seed + i)
        member = rng.random(m) < 0.5
        report = np.where(rng.random(m) < q, member, ~member).astype(float)
        score = report + 0.1 * rng.random(m)
        b = one_run_bound(score[member], score[~member], delta=0.0, beta=beta)
        bounds.append(b.epsilon)
        over += b.epsilon > epsilon
    return {
        "candidates": m,
        "true_epsilon": epsilon,
        "sets": sets,
        "beta": beta,
        "exceeded": over / sets,
        "median_bound": float(np.median(bounds)),
    }


def baseline_false_alarms(n: int, pairs: int, seed: int) -> dict:
    """An unchanged model audited twice (two independent null sets): how often does --baseline call the second
    a regression? The z-test on the AUC difference (auditing/baseline.py) against the earlier rule, "above the
    stored run's interval" (with the earlier, DeLong-independent interval)."""
    from cpaudit.auditing.baseline import LEVEL

    z_fail = old_fail = 0
    for i in range(pairs):
        rng = np.random.default_rng(seed + i)
        a, b = (crossfit(*latent_variants(rng, n, 0.5), rng, n_null=200) for _ in range(2))
        z_fail += (a.auc - b.auc) / np.hypot(a.auc_se, b.auc_se) > norm.isf(LEVEL)
        old_hi = normal_interval(b.auc, sum(delong_variance(p, q) for p, q in b.folds) / 4)[1]
        old_fail += a.auc > old_hi
    return {
        "n_per_side": n,
        "pairs": pairs,
        "level": LEVEL,
        "false_alarm_z_test": z_fail / pairs,
        "false_alarm_earlier_rule": old_fail / pairs,
    }


def wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    """Wilson 95% interval of a proportion k / n (Wilson 1927)."""
    p, d = k / n, 1 + z**2 / n
    centre, half = (p + z**2 / (2 * n)) / d, z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / d
    return [max(0.0, float(centre - half)), min(1.0, float(centre + half))]


def independent_variants(rng: np.random.Generator, n: int, aucs: tuple[float, ...]):
    """One independent normal score per variant, members shifted so variant j's AUC is aucs[j]."""
    mu = norm.ppf(np.asarray(aucs)) * np.sqrt(2)
    return rng.normal(size=(len(aucs), n)) + mu[:, None], rng.normal(size=(len(aucs), n))


def coverage_row(name: str, hits: int, sets: int) -> dict:
    return {f"coverage_{name}": hits / sets, f"coverage_{name}_wilson95": wilson(hits, sets)}


def unequal_coverage(n: int, aucs: tuple[float, ...], sets: int, seed: int) -> dict:
    """Both intervals over `sets` data sets of independent variants with unequal AUCs, as the audit computes
    them (200 bootstrap replicates, 200 relabellings)."""
    strongest = float(np.max(np.maximum(aucs, 1 - np.asarray(aucs))))
    chosen_hits = strongest_by_chosen = strongest_hits = low_miss = high_miss = 0
    est, se, widths = [], [], []
    for i in range(sets):
        rng = np.random.default_rng(seed + i)
        pos, neg = independent_variants(rng, n, aucs)
        cf = crossfit(pos, neg, rng, n_null=200)
        lo, hi = strongest_interval(pos, neg, rng.spawn(1)[0])  # as headline_figures draws it
        psi = float(np.mean([aucs[k] if sign > 0 else 1 - aucs[k] for k, sign in cf.chosen]))
        chosen_hits += cf.auc_ci95[0] <= psi <= cf.auc_ci95[1]
        strongest_by_chosen += cf.auc_ci95[0] <= strongest <= cf.auc_ci95[1]
        strongest_hits += lo <= strongest <= hi
        low_miss, high_miss = low_miss + (lo > strongest), high_miss + (hi < strongest)
        est.append(cf.auc)
        se.append(cf.auc_se)
        widths.append(hi - lo)
    return {
        "n_per_side": n,
        "variant_aucs": list(aucs),
        "strongest_auc": strongest,
        "sets": sets,
        **coverage_row("auc_ci95_of_chosen_attack_auc", chosen_hits, sets),
        **coverage_row("strongest_auc_ci95_of_strongest_auc", strongest_hits, sets),
        **coverage_row("auc_ci95_of_strongest_auc", strongest_by_chosen, sets),
        "strongest_auc_ci95_misses_low_high": [low_miss, high_miss],
        "crossfit_mean_auc": float(np.mean(est)),
        "crossfit_empirical_sd": float(np.std(est, ddof=1)),
        "crossfit_mean_reported_se": float(np.mean(se)),
        "strongest_auc_ci95_mean_width": float(np.mean(widths)),
    }


def strongest_on_equal(n: int, true_auc: float, sets: int, seed: int) -> dict:
    """strongest_auc_ci95 on part 1's data sets (same seeds and generator, so the same scores)."""
    strongest = max(true_auc, 1 - true_auc)
    hits, widths = 0, []
    for i in range(sets):
        rng = np.random.default_rng(seed + i)
        pos, neg = latent_variants(rng, n, true_auc)
        lo, hi = strongest_interval(pos, neg, rng.spawn(1)[0])
        hits += lo <= strongest <= hi
        widths.append(hi - lo)
    return {
        "n_per_side": n,
        "true_auc": true_auc,
        "sets": sets,
        **coverage_row("strongest_auc_ci95_of_strongest_auc", hits, sets),
        "strongest_auc_ci95_mean_width": float(np.mean(widths)),
    }


COVERAGE_CELLS = tuple((n, a) for n in (64, 256) for a in (0.5, 0.55, 0.6, 0.7))
NULLS = (0.5,) * 6
UNEQUAL_CELLS = tuple((n, aucs) for n in (64, 256) for aucs in ((0.65, 0.5) + NULLS, (0.65, 0.58) + NULLS))
PARTS = ("coverage", "max_over_attacks", "one_run", "baseline", "unequal", "strongest_equal")


def _cov(row: dict, name: str) -> str:
    lo, hi = row[f"coverage_{name}_wilson95"]
    return f"{row[f'coverage_{name}']:.3f} [{lo:.3f}, {hi:.3f}]"


def _variants_label(aucs: list[float]) -> str:
    signals = [a for a in aucs if a != 0.5]
    return f"{', '.join(f'{a:g}' for a in signals)} + {len(aucs) - len(signals)} nulls"


def _span(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


def strongest_markdown(out: dict) -> str:
    """benchmarks/RESULTS.md's subsection on the strongest attack's interval, from the JSON's `unequal`,
    `strongest_equal` and `coverage` parts (tests/core/test_crossfit_strongest.py keeps the two equal)."""
    uneq, equal = out["unequal"], out["strongest_equal"]
    rows = [
        f"| {r['n_per_side']} v {r['n_per_side']} | {_variants_label(r['variant_aucs'])} | "
        f"{_cov(r, 'auc_ci95_of_chosen_attack_auc')} | {_cov(r, 'auc_ci95_of_strongest_auc')} | "
        f"**{_cov(r, 'strongest_auc_ci95_of_strongest_auc')}** | {r['strongest_auc_ci95_misses_low_high'][0]} / "
        f"{r['strongest_auc_ci95_misses_low_high'][1]} | {r['crossfit_empirical_sd']:.4f} | "
        f"{r['crossfit_mean_reported_se']:.4f} | {r['strongest_auc_ci95_mean_width']:.3f} | "
        f"{2 * 1.959964 * r['crossfit_mean_reported_se']:.3f} |"
        for r in uneq
    ]
    eq_rows = [
        f"| {e['n_per_side']} v {e['n_per_side']} | {e['true_auc']:g} | **{_cov(e, 'strongest_auc_ci95_of_strongest_auc')}** | "
        f"{e['strongest_auc_ci95_mean_width']:.3f} | {2 * 1.959964 * c['mean_reported_se']:.3f} |"
        for e, c in zip(equal, out["coverage"])
    ]
    all_strongest = [r["coverage_strongest_auc_ci95_of_strongest_auc"] for r in uneq + equal]
    chosen = [r["coverage_auc_ci95_of_chosen_attack_auc"] for r in uneq]
    by_chosen = [r["coverage_auc_ci95_of_strongest_auc"] for r in uneq]
    widths = [r["strongest_auc_ci95_mean_width"] for r in uneq + equal]
    cf_widths = [2 * 1.959964 * r["crossfit_mean_reported_se"] for r in uneq] + [
        2 * 1.959964 * c["mean_reported_se"] for c in out["coverage"]
    ]
    return "\n".join(
        [
            f"**The strongest attack's AUC** (issue 36), {uneq[0]['sets']} sets a cell. auc_ci95 follows the attack "
            "the cross-fit chose; where one variant leaks and the others do not, a half sometimes chooses a null "
            "variant, and the chosen attack's AUC is below the strongest attack's. strongest_auc_ci95 "
            "(core/crossfit.strongest_interval) covers max over variants and signs of the AUC, from all images: "
            "upper end the largest estimate + 1.96 DeLong standard errors, lower end the largest estimate - c "
            "standard errors, c the 97.5% max-t point over the variants. Independent variants, 8 a set, "
            "as the audit computes them (200 bootstrap replicates, 200 relabellings); Wilson 95% intervals in brackets.",
            "",
            "| members v held-out | variant AUCs | auc_ci95 covers the chosen attack's AUC | auc_ci95 covers the "
            "strongest attack's AUC (not its claim) | strongest_auc_ci95 covers the strongest attack's AUC | strongest_auc_ci95's misses "
            "low / high | SD of the cross-fit's AUC | mean auc_se | mean width, strongest_auc_ci95 | mean width, auc_ci95 |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "On part 1's data sets (five variants of one latent score, all at the true AUC, which is then the strongest "
            "attack's too):",
            "",
            "| members v held-out | true AUC | strongest_auc_ci95 covers it | mean width, strongest_auc_ci95 | mean width, auc_ci95 |",
            "|---|---|---|---|---|",
            *eq_rows,
            "",
            f"strongest_auc_ci95 covered the strongest attack's AUC in {_span(all_strongest)} of sets over these "
            f"{len(all_strongest)} cells. It holds at least 95% by construction, not by tuning: each end misses at most "
            "2.5% and the two misses exclude each other. It reads above 0.97 where it must allow for a configuration "
            "the data cannot rule out: with a signal close to the nulls (0.65 at 64 v 64, about three standard errors "
            "from 0.5), the null variants' upper ends lie above the strongest AUC, as they must if those variants "
            "could be as strong; where every variant is tied, the largest of several estimates reads high. It is about "
            f"as wide as auc_ci95 (mean widths {_span(widths)} against {_span(cf_widths)}). The cross-fit's auc_ci95 "
            f"keeps covering what it claims, the chosen attack's AUC ({_span(chosen)}), and covered the strongest "
            f"attack's in {_span(by_chosen)} of sets with unequal variants.",
        ]
    )


def readme_sentences(out: dict) -> str:
    """docs/statistics.md's sentences on the two intervals, from the JSON (tests/core/test_crossfit_strongest.py keeps them equal)."""
    one = out["unequal"][0]
    assert one["n_per_side"] == 64 and one["variant_aucs"][1:] == [0.5] * 7
    cells = [r["coverage_strongest_auc_ci95_of_strongest_auc"] for r in out["unequal"] + out["strongest_equal"]]
    return (
        "That interval covers the AUC of the attack the cross-fit chose, not the strongest attack's: with one "
        "leaking variant (AUC 0.65) among seven nulls at 64 v 64 it covered 0.65 in "
        f"{one['coverage_auc_ci95_of_strongest_auc']:.0%} of sets. Each AUC therefore has a second interval, "
        "`strongest_auc_ci95`, for the strongest attack's AUC (its best variant and sign; DeLong standard errors "
        "on all images, the lower end max-t adjusted over the variants): at least 95% by construction, measured "
        f"coverage {_span(cells)} over {len(cells)} cells with equal and unequal variants (benchmarks/RESULTS.md)."
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=400)
    ap.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}; others kept from the file"
    )
    ap.add_argument(
        "--render", action="store_true", help="print RESULTS.md's strongest-attack subsection from the JSON"
    )
    args = ap.parse_args()
    if args.render:
        out = json.loads(OUT.read_text())
        print(strongest_markdown(out) + "\n\ndocs/statistics.md:\n" + readme_sentences(out))
        return
    parts = args.parts.split(",")
    t0 = time.perf_counter()
    out: dict = json.loads(OUT.read_text()) if OUT.is_file() else {}
    runs = {
        "coverage": lambda: [coverage(n, a, args.sets, SEED0 + 100_000 * j) for j, (n, a) in enumerate(COVERAGE_CELLS)],
        "max_over_attacks": lambda: [
            max_gate_false_alarms(n, 6, args.sets // 2, SEED0 + 2_000_000 + 100_000 * j)
            for j, n in enumerate((64, 256))
        ],
        "one_run": lambda: [
            one_run_guarantee(m, eps, args.sets, SEED0 + 3_000_000 + 100_000 * j)
            for j, (m, eps) in enumerate((m, e) for m in (64, 256) for e in (0.5, 1.0, 2.0))
        ],
        "baseline": lambda: [
            baseline_false_alarms(n, args.sets // 2, SEED0 + 4_000_000 + 100_000 * j) for j, n in enumerate((64, 256))
        ],
        "unequal": lambda: [
            unequal_coverage(n, aucs, args.sets, SEED0 + 5_000_000 + 100_000 * j)
            for j, (n, aucs) in enumerate(UNEQUAL_CELLS)
        ],
        "strongest_equal": lambda: [
            strongest_on_equal(n, a, args.sets, SEED0 + 100_000 * j) for j, (n, a) in enumerate(COVERAGE_CELLS)
        ],
    }
    for part in parts:
        out[part] = runs[part]()
        if part in ("unequal", "strongest_equal"):
            out[f"note_{part}"] = f"{args.sets} sets a cell; run with --parts {part} ({time.strftime('%Y-%m-%d')})"
        for row in out[part]:
            print(json.dumps(row), flush=True)
    out[f"seconds_{'_'.join(parts)}"] = round(time.perf_counter() - t0, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(f"-> {OUT} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
