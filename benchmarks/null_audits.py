"""The default gates' family false-alarm rate, measured on null audits, written to
benchmarks/results/null_audits.json.

A null audit runs `cpaudit.audit` with its default gates (auditing/policy.py: levels summing to
FAMILY_LEVEL = 0.05) on the committed demo samples against a split of images the model never saw: the
members it audits are a random draw from its unseen images, so nothing leaks by construction and every
failure is a false alarm. Each set draws a fresh split (seeded, one per set) and runs the whole audit:
- pixel: the demo's unprotected samples of its memorising digits model (reports/demo/runs/unprotected;
  256 samples), 64 "members" drawn from the 1,733 digits it never saw, the rest held out. Gates: the replica
  gate (0.025) and the sample-only membership gate (0.025).
- text: the text demo's model (`cpaudit demo --text`'s, trained here as the demo trains it, or --text-model)
  sampled as the demo samples it (its extraction prompts, 3 per caption, evaluation seeds); the samples of
  its 64 held-out captions (the model never saw these images) are audited, 32 of those images drawn as
  "members", the other 32 and the 192 unprompted held-out images held out. Gates: the replica and prompted-extraction gates (0.0125
  each) and the membership gate (0.025).
The audits run without --model (release `samples`, the default), with 200 permutations (the permutation
test gates nothing by default).

    python -m benchmarks.null_audits [--sets 200] [--parts pixel,text] [--text-model FOLDER] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks._util import machine
from cpaudit.auditing.policy import DEFAULT_POLICY, family
from cpaudit.auditing.samples import SampleSet, load_samples
from cpaudit.core.stats import wilson_interval
from cpaudit.data.load import load_data
from cpaudit.data.split import read_split
from cpaudit.pipelines.audit import AuditOptions, audit
from cpaudit.pipelines.demo_text import TextDemoOptions, resolve_options, sample_defence, train_demo_model
from cpaudit.pipelines.sample import extraction_prompts

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "null_audits.json"
PIXEL = ROOT / "reports" / "demo" / "runs"
SEED0 = 8_000_000
PERMUTATIONS = 200


def null_audit(samples: SampleSet, members, holdout, seed: int) -> dict:
    r = audit(
        AuditOptions(samples=samples, out=None, members=members, holdout=holdout, seed=seed, permutations=PERMUTATIONS)
    ).results
    return {
        "passed": r["policy"]["passed"],
        "failed_gates": [g for g, m in r["policy"]["gates"].items() if m is not None],
    }


def pixel_sets(sets: int) -> list[dict]:
    data = load_data("digits")
    unseen = read_split(PIXEL / "model" / "split.json", data).holdout_idx
    samples = load_samples(PIXEL / "unprotected")
    out = []
    for s in range(sets):
        rng = np.random.default_rng(SEED0 + s)
        order = rng.permutation(unseen)
        out.append(null_audit(samples, data.subset(order[:64]), data.subset(order[64:]), seed=s))
    return out


def text_demo_samples(model: Path | None, work: Path) -> tuple[Path, SampleSet]:
    """The text demo's model (trained into WORK/model unless given) and its unprotected samples."""
    opts = resolve_options(TextDemoOptions(out=work, device="cpu"))
    if model is None:
        model = work / "model"
        if not (model / "model_index.json").is_file():
            train_demo_model(opts, model, lambda *a: None)
    folder = work / "unprotected"
    if not (folder / "samples.npz").is_file():
        sample_defence(opts, model, folder, extraction_prompts(model, per_caption=opts.per_caption, seed=opts.seed), {})
    return model, load_samples(folder)


def text_sets(sets: int, model: Path | None, work: Path) -> list[dict]:
    data = load_data("captioned-digits")
    model, full = text_demo_samples(model, work)
    unseen = read_split(model / "split.json", data).holdout_idx
    prompted = set(full.prompts)
    rows = [i for i, p in enumerate(full.prompts) if p in {data.captions[j] for j in unseen}]
    samples = SampleSet(full.images[rows], full.run, full.folder, tuple(full.prompts[i] for i in rows))
    candidates = np.asarray([j for j in unseen if data.captions[j] in prompted])
    others = np.asarray([j for j in unseen if data.captions[j] not in prompted])
    out = []
    for s in range(sets):
        rng = np.random.default_rng(SEED0 + 500_000 + s)
        order = rng.permutation(candidates)
        half = len(order) // 2
        out.append(
            null_audit(samples, data.subset(order[:half]), data.subset(np.concatenate([order[half:], others])), seed=s)
        )
    return out


def summary(audits: list[dict], text: bool) -> dict:
    k, n = sum(not a["passed"] for a in audits), len(audits)
    gates = sorted({g for a in audits for g in a["failed_gates"]})
    return {
        "audits": n,
        "failed": k,
        "rate": k / n,
        "rate_ci95": list(wilson_interval(k, n)),
        "family": family(DEFAULT_POLICY, text),
        "failed_by_gate": {g: sum(g in a["failed_gates"] for a in audits) for g in gates},
    }


def _rate(part: dict) -> str:
    lo, hi = part["rate_ci95"]
    return f"{part['failed']} of {part['audits']} ({part['rate']:.1%}, 95% Wilson {lo:.1%}-{hi:.1%})"


def readme_sentence(r: dict) -> str:
    """docs/ci.md's measured family rate, from the committed JSON."""
    return (
        f"Measured on null audits (`python -m benchmarks.null_audits`: the demo's samples against members drawn "
        f"from images its model never saw), the default gates failed {_rate(r['pixel'])} pixel audits and "
        f"{_rate(r['text'])} text-to-image audits."
    )


def results_markdown(r: dict) -> str:
    """benchmarks/RESULTS.md's section, from the committed JSON."""
    lines = [
        "## The default gates' family level on null audits (`python -m benchmarks.null_audits`)",
        "",
        "Each audit runs `cpaudit.audit` with its default gates on the committed demo's samples against a fresh random "
        "split of images the model never saw, so every failure is a false alarm. The gates' levels sum to the family "
        "total by design (Bonferroni).",
        "",
        "| audit | gates and levels | total | failed audits | by gate |",
        "|---|---|---|---|---|",
    ]
    for part in ("pixel", "text"):
        if part not in r:
            continue
        x = r[part]
        levels = ", ".join(f"{g} {v:g}" for g, v in x["family"]["levels"].items())
        by_gate = ", ".join(f"{g} {n}" for g, n in x["failed_by_gate"].items()) or "none"
        lines.append(f"| {part} | {levels} | {x['family']['total']:g} | {_rate(x)} | {by_gate} |")
    return "\n".join(lines + [""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", type=int, default=200)
    ap.add_argument("--parts", default="pixel,text")
    ap.add_argument("--text-model", type=Path, default=None, help="the text demo's model folder, if trained already")
    ap.add_argument("--work", type=Path, default=Path("null-audits-work"), help="where the text model and samples go")
    ap.add_argument("--render", action="store_true", help="print RESULTS.md's section from the committed JSON")
    args = ap.parse_args()
    if args.render:
        print(results_markdown(json.loads(OUT.read_text())))
        return
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results["machine"] = machine()
    for part in args.parts.split(","):
        t0 = time.perf_counter()
        audits = pixel_sets(args.sets) if part == "pixel" else text_sets(args.sets, args.text_model, args.work)
        results[part] = {**summary(audits, part == "text"), "seconds": round(time.perf_counter() - t0, 1)}
        OUT.write_text(json.dumps(results, indent=1) + "\n")
        print(part, json.dumps(results[part]))


if __name__ == "__main__":
    main()
