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

Seeds: 10,000,000 on, apart from the 500,000-700,000 the interval's construction was tried on.

    python benchmarks/crossfit_coverage.py [--sets 400] [--parts coverage,max_over_attacks,one_run,baseline]
    # about 40 minutes on 2 cores
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
from cpaudit.core.crossfit import crossfit
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
    return {"n_per_side": n, "true_auc": true_auc, "sets": sets, "procedure_mean_auc": float(np.mean(est)),
            "empirical_sd": float(np.std(est, ddof=1)), "mean_reported_se": float(np.mean(widths) / (2 * 1.959964)),
            "coverage_of_chosen_attack_auc": float(np.mean(cover_psi)),
            "coverage_of_variant_auc": float(np.mean(cover_auc)),
            "earlier_delong_independent_coverage_of_chosen_attack_auc": float(np.mean(old_psi)),
            "monte_carlo_sd": float(np.sqrt(0.95 * 0.05 / sets))}


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
    return {"n_per_side": n, "attacks": attacks, "variants_per_attack": 4, "sets": sets, "level": level,
            "false_alarm_max_vs_own_band": naive / sets, "false_alarm_selection_adjusted": adjusted / sets}


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
    return {"candidates": m, "true_epsilon": epsilon, "sets": sets, "beta": beta, "exceeded": over / sets,
            "median_bound": float(np.median(bounds))}


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
    return {"n_per_side": n, "pairs": pairs, "level": LEVEL, "false_alarm_z_test": z_fail / pairs,
            "false_alarm_earlier_rule": old_fail / pairs}


PARTS = ("coverage", "max_over_attacks", "one_run", "baseline")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=400)
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}; others kept from the file")
    args = ap.parse_args()
    parts = args.parts.split(",")
    t0 = time.perf_counter()
    out: dict = json.loads(OUT.read_text()) if OUT.is_file() else {}
    runs = {
        "coverage": lambda: [coverage(n, a, args.sets, SEED0 + 100_000 * j)
                             for j, (n, a) in enumerate((n, a) for n in (64, 256) for a in (0.5, 0.55, 0.6, 0.7))],
        "max_over_attacks": lambda: [max_gate_false_alarms(n, 6, args.sets // 2, SEED0 + 2_000_000 + 100_000 * j)
                                     for j, n in enumerate((64, 256))],
        "one_run": lambda: [one_run_guarantee(m, eps, args.sets, SEED0 + 3_000_000 + 100_000 * j)
                            for j, (m, eps) in enumerate((m, e) for m in (64, 256) for e in (0.5, 1.0, 2.0))],
        "baseline": lambda: [baseline_false_alarms(n, args.sets // 2, SEED0 + 4_000_000 + 100_000 * j)
                             for j, n in enumerate((64, 256))],
    }
    for part in parts:
        out[part] = runs[part]()
        for row in out[part]:
            print(json.dumps(row), flush=True)
    out[f"seconds_{'_'.join(parts)}"] = round(time.perf_counter() - t0, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(f"-> {OUT} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
