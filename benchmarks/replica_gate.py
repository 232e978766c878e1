"""The replica gate's false alarms and power, written to benchmarks/results/replica_gate.json.

The gate asks whether training images are reached by some sample at the replica threshold more often than
held-out images are (stats.reach_excess_p: the unit is the candidate image). Simulated on the digits with
the audit's own functions (auditing/replication.py, pixel embedding, threshold 0.97), each set drawing a
fresh random split of 400 members and 400 held-out images and, from the remaining digits, the samples of a
model that never saw the members:
- exact null: 256 distinct unseen digits (a perfect generator);
- collapsed: 256 samples from 8, 16 or 64 unseen digits (32, 16 or 4 copies each) plus small Gaussian noise
  (std 0.05 on the [-1, 1] scale), the case where samples are neither independent nor like held-out images.
Beside it, the per-sample test the gate used before (stats.replica_excess_p: samples at the threshold vs
held-out images, Fisher), which assumes samples exchangeable with held-out images.

Power: the committed demo's unprotected samples of its memorising model (reports/demo/runs/unprotected,
64 members, 1,733 held-out), all 256 and random subsets of 16, 32 and 64 samples.

    python -m benchmarks.replica_gate [--sets 1000] [--render]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._util import machine
from cpaudit.auditing.features import DEFAULT_THRESHOLDS
from cpaudit.auditing.replication import replication
from cpaudit.auditing.samples import load_samples
from cpaudit.core.stats import wilson_interval
from cpaudit.data.digits import load_digits_set
from cpaudit.data.split import read_split
from cpaudit.similarity.pixel import pixel_embedding

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "replica_gate.json"
DEMO = ROOT / "reports" / "demo" / "runs"
LEVELS = (0.05, 0.025)
N_MEMBERS = N_HOLDOUT = 400
N_SAMPLES = 256
NOISE = 0.05
SCENARIOS = {
    "exact null (256 distinct unseen digits)": None,
    "collapsed onto 64 unseen digits": 64,
    "collapsed onto 16 unseen digits": 16,
    "collapsed onto 8 unseen digits": 8,
}
POWER_SUBSETS = (4, 8, 16, 64)
SEED0 = 7_000_000


def null_samples(pool: torch.Tensor, distinct: int | None, rng: np.random.Generator) -> torch.Tensor:
    """N_SAMPLES images of a model that never saw the members: distinct pool images, or copies of `distinct`
    of them with small noise."""
    if distinct is None:
        return pool[rng.choice(len(pool), N_SAMPLES, replace=False)]
    sources = pool[rng.choice(len(pool), distinct, replace=False)].repeat_interleave(N_SAMPLES // distinct, 0)
    noise = torch.from_numpy(rng.standard_normal(sources.shape)).float() * NOISE
    return (sources + noise).clamp(-1, 1)


def both_tests(samples: torch.Tensor, members: torch.Tensor, holdout: torch.Tensor) -> tuple[float, float]:
    """(the gate's p: candidates reached, the old per-sample p) of one audit."""
    nn = replication(
        pixel_embedding(samples),
        pixel_embedding(members),
        pixel_embedding(holdout),
        threshold=DEFAULT_THRESHOLDS["pixel"],
        k=1,
        method="exact",
    ).summary("pixel")
    return nn["reach_excess_p"], nn["replica_excess_p"]


def false_alarms(images: torch.Tensor, distinct: int | None, sets: int, seed: int) -> dict:
    p_new, p_old = [], []
    for s in range(sets):
        rng = np.random.default_rng(seed + s)
        order = rng.permutation(len(images))
        members, holdout = images[order[:N_MEMBERS]], images[order[N_MEMBERS : N_MEMBERS + N_HOLDOUT]]
        pool = images[order[N_MEMBERS + N_HOLDOUT :]]
        new, old = both_tests(null_samples(pool, distinct, rng), members, holdout)
        p_new.append(new)
        p_old.append(old)
    return {
        "sets": sets,
        **{
            f"level_{a:g}": {"gate": _rate(np.asarray(p_new) < a), "per_sample_test": _rate(np.asarray(p_old) < a)}
            for a in LEVELS
        },
    }


def _rate(hits: np.ndarray) -> dict:
    k, n = int(hits.sum()), int(len(hits))
    return {"failed": k, "of": n, "rate": k / n, "rate_ci95": list(wilson_interval(k, n))}


def power(sets: int, seed: int) -> dict:
    data = load_digits_set()
    split = read_split(DEMO / "model" / "split.json", data)
    samples = load_samples(DEMO / "unprotected").images
    members, holdout = data.images[split.member_idx], data.images[split.holdout_idx]
    emb_m, emb_h, emb_s = pixel_embedding(members), pixel_embedding(holdout), pixel_embedding(samples)
    full = replication(emb_s, emb_m, emb_h, threshold=DEFAULT_THRESHOLDS["pixel"], k=1, method="exact").summary("pixel")
    out = {
        "all_samples": {
            "n_samples": len(samples),
            "members_reached": full["members_reached"],
            "n_members": full["n_members_reached_of"],
            "holdout_reached": full["holdout_reached"],
            "n_holdout": full["n_holdout_reached_of"],
            "reach_excess_p": full["reach_excess_p"],
        }
    }
    for n in POWER_SUBSETS:
        rng = np.random.default_rng(seed + n)
        p = np.asarray(
            [
                replication(
                    emb_s[rng.choice(len(emb_s), n, replace=False)],
                    emb_m,
                    emb_h,
                    threshold=DEFAULT_THRESHOLDS["pixel"],
                    k=1,
                    method="exact",
                ).summary("pixel")["reach_excess_p"]
                for _ in range(sets)
            ]
        )
        out[f"subsets_of_{n}"] = {f"level_{a:g}": _rate(p < a) for a in LEVELS}
    return out


def _pct(rate: dict) -> str:
    lo, hi = rate["rate_ci95"]
    return f"{rate['failed']}/{rate['of']} = {rate['rate']:.1%} ({lo:.1%}-{hi:.1%})"


def results_markdown(r: dict) -> str:
    """benchmarks/RESULTS.md's section, from the committed JSON."""
    lines = [
        "## The replica gate's false alarms and power (`python -m benchmarks.replica_gate`)",
        "",
        f"Digits, pixel embedding, threshold {r['threshold']}; each of {next(iter(r['false_alarms'].values()))['sets']} sets "
        f"draws {r['n_members']} members and {r['n_holdout']} held-out images afresh, and {r['n_samples']} samples of a "
        "model that never saw the members from the other digits (collapsed: copies of a few, plus noise of std "
        f"{r['noise_std']}). Failed audits, with Wilson 95% intervals: the gate (training images reached vs held-out "
        "images reached) against the per-sample test it replaced (samples at the threshold vs held-out images).",
        "",
        "| samples of a model that never saw the members | gate at 0.05 | per-sample test at 0.05 | gate at 0.025 | per-sample test at 0.025 |",
        "|---|---|---|---|---|",
    ]
    for name, fa in r["false_alarms"].items():
        a, b = fa["level_0.05"], fa["level_0.025"]
        lines.append(
            f"| {name} | {_pct(a['gate'])} | {_pct(a['per_sample_test'])} | {_pct(b['gate'])} | {_pct(b['per_sample_test'])} |"
        )
    p = r["power_demo_unprotected"]
    full = p["all_samples"]
    subsets = "; ".join(
        f"{k.split('_')[-1]} samples: {_pct(v['level_0.025'])}" for k, v in p.items() if k.startswith("subsets_of_")
    )
    lines += [
        "",
        f"Power on the demo's memorising model (its {full['n_samples']} unprotected samples): {full['members_reached']} of "
        f"{full['n_members']} training images reached against {full['holdout_reached']} of {full['n_holdout']} held-out images, "
        f"p = {full['reach_excess_p']:.2g}; random subsets failing at 0.025: {subsets}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", type=int, default=1000)
    ap.add_argument("--render", action="store_true", help="print RESULTS.md's section from the committed JSON")
    args = ap.parse_args()
    if args.render:
        print(results_markdown(json.loads(OUT.read_text())))
        return
    t0 = time.perf_counter()
    images = load_digits_set().images
    results = {
        "machine": machine(),
        "threshold": DEFAULT_THRESHOLDS["pixel"],
        "n_members": N_MEMBERS,
        "n_holdout": N_HOLDOUT,
        "n_samples": N_SAMPLES,
        "noise_std": NOISE,
        "levels": list(LEVELS),
        "false_alarms": {
            name: false_alarms(images, d, args.sets, SEED0 + 100_000 * i)
            for i, (name, d) in enumerate(SCENARIOS.items())
        },
        "power_demo_unprotected": power(args.sets, SEED0 + 900_000),
    }
    results["seconds"] = round(time.perf_counter() - t0, 1)
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
