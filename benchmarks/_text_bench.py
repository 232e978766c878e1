"""Shared by the benchmarks that run `cpaudit demo --text`'s experiment on a tiny pipeline of one architecture
(sdxl_memorisation.py, flow_memorisation.py): train it, run the demo on it on evaluation seeds, train the
random-label classifier at `train-classifier`'s defaults for one more CPSample row, and say each row in words.
The record names the CPSample defaults the runs took (`defaults_entries`) and `check_defaults` holds each
CPSample run's results.json to them.

The demo's experiment itself is pipelines/demo_text.py's, unchanged; these helpers only record it."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks._util import machine
from cpaudit.auditing.quality import pooled_pixels
from cpaudit.data.members import data_and_split_of
from cpaudit.models.load import load_model
from cpaudit.pipelines.demo import StageClock
from cpaudit.pipelines.demo_text import (
    DEMO_CLASSIFIER,
    TextDemoOptions,
    demo_text,
    run_defence,
)
from cpaudit.pipelines.sample import extraction_prompts
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.pipelines.train_text import (
    TrainTextOptions,
    default_train_config,
    text_architecture,
    train_text_diffusion,
)
from cpaudit.sampling.protection import (
    LATENT_CLASSIFIER_WIDTH,
    Protection,
    defaults_table,
)

FULL_LABEL = "CPSample, learned classifier, full training"
# Every default was chosen on tuning seeds from here: CPSample's latent ones and the prompt defences' on the SD 1.x
# tiny model's, CPSample's rectified-flow ones (FLOW_KIND_DEFAULTS) on the tiny FLUX model's.
TUNING_SEED = 2_000_000
DefaultsEntries = Callable[
    [Path, bool], dict
]  # (the model folder, trained in this run) -> the record's defaults entries


def latent_defaults_entries(folder: Path, trained_here: bool) -> dict:
    """A latent UNet pipeline's (SD, SDXL): CPSample takes LATENT_KIND_DEFAULTS there (Protection.in_space)."""
    return {"latent_defaults": defaults_table(latent=True)}


def recorded_defaults(record: dict) -> tuple[dict, str]:
    """The CPSample defaults a record says its runs took, and the name results.json gives that table."""
    return (record["defaults"], "flow") if "defaults" in record else (record["latent_defaults"], "latent")


def check_defaults(out: Path, record: dict) -> list[str]:
    """Refuse a record whose CPSample runs (OUT/cpsample-*/results.json) took other settings than the defaults it
    records (alpha, scale, rule, space, and which table); the run folders checked."""
    table, name = recorded_defaults(record)
    checked = []
    for results in sorted(Path(out).glob("cpsample-*/results.json")):
        p = json.loads(results.read_text())["setup"]["sample_run"]["protection"]
        want = table["exact" if p["classifier"] == "exact" else "learned"]
        got = {k: p[k] for k in want}
        if got != want or p.get("defaults") != name:
            raise ValueError(
                f"{results}: protection {got} ({p.get('defaults')} defaults), the record says {want} ({name})"
            )
        checked.append(results.parent.name)
    if not checked:
        raise ValueError(f"{out}: no CPSample run to check")
    return checked


def arguments(name: str, out: Path, json_out: Path, work: Path) -> argparse.ArgumentParser:
    """The options every such benchmark takes (`name`: the architecture, for the help)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=out, help="the demo's reports")
    ap.add_argument("--json", type=Path, default=json_out)
    ap.add_argument("--work", type=Path, default=work, help="model, classifier and samples")
    ap.add_argument("--model", type=Path, help=f"reuse a trained {name} pipeline folder instead of training one")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--render", action="store_true", help="print the RESULTS.md section from --json and stop")
    ap.add_argument("--reuse", action="store_true", help="keep --json's finished parts, run only what it lacks")
    return ap


def train(folder: Path, seed: int, arch: str) -> None:
    """`cpaudit train-diffusion captioned-digits --text --arch ARCH` at its defaults, 64 members, on the CPU."""
    opts = TrainTextOptions(
        "captioned-digits",
        folder,
        members=64,
        seed=seed,
        train=default_train_config(arch),
        arch=text_architecture(arch),
        device="cpu",
    )
    t0 = time.perf_counter()
    train_text_diffusion(
        opts,
        progress=lambda part, s, n, m: (
            print(f"train {part} {s}/{n} {m}", flush=True) if s % 100 == 0 or s == n else None
        ),
    )
    print(f"trained in {time.perf_counter() - t0:.0f} s", flush=True)


def classifier_record(folder: Path) -> dict:
    cfg = json.loads((folder / "config.json").read_text())
    return {k: cfg[k] for k in ("steps_done", "train_seconds", "accuracy")}


def demo_record(opts: TextDemoOptions, model: dict, eval_seed: int, t0: float, defaults: dict) -> dict:
    """Run the demo's experiment (opts.model, opts.work, opts.out) and record it with the model's record and the
    defaults entries (`DefaultsEntries`' answer)."""
    result = demo_text(opts, stage=lambda name, s, n, m: print(name, flush=True) if s == 0 else None)
    return {
        "machine": machine(),
        "threat_model": "samples (prompted extraction); sampler and weights for the unprotected run",
        "model": model,
        "eval_seed": eval_seed,
        "tuning_seeds_of_the_defaults": TUNING_SEED,
        **defaults,
        "classifier_width": LATENT_CLASSIFIER_WIDTH,
        "demo_classifier": {"max_steps": DEMO_CLASSIFIER.steps, **classifier_record(Path(opts.work) / "classifier")},
        "demo_seconds": round(result.seconds, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "demo": json.loads((Path(opts.out) / "text_demo.json").read_text()),
    }


def learned_full_training(opts: TextDemoOptions, unprotected_fid: float) -> dict:
    """CPSample with a classifier trained at train-classifier's defaults, sampled and audited as the demo's rows are."""
    model, work = Path(opts.model), Path(opts.work)
    t0 = time.perf_counter()
    classifier = work / "classifier-full-training"
    train_classifier(
        TrainClassifierOptions(
            "captioned-digits",
            classifier,
            model=model,
            base_channels=LATENT_CLASSIFIER_WIDTH,
            seed=opts.seed,
            device=opts.device,
        )
    )
    prompts = extraction_prompts(model, per_caption=opts.per_caption, seed=opts.seed)
    data, split = data_and_split_of(model, load_model(model).config)
    say = StageClock(lambda name, s, n, m: print(name, flush=True))
    _, row = run_defence(
        opts,
        model,
        work,
        FULL_LABEL,
        {"protection": Protection(str(classifier))},
        prompts,
        pooled_pixels(data.take(split.holdout_idx)),
        say,
    )
    row["fid_ratio"] = row["pixel_fid"] / unprotected_fid
    return {"row": row, "classifier": classifier_record(classifier), "seconds": round(time.perf_counter() - t0, 1)}


def run(
    args: argparse.Namespace,
    arch: str,
    eval_seed: int,
    model_record: Callable[[Path], dict],
    full_training: bool = True,
    defaults: DefaultsEntries = latent_defaults_entries,
) -> dict:
    """Train unless --model (or WORK/model) holds the pipeline, run the demo, then (with `full_training`) the
    fully trained classifier's row; --reuse keeps what --json already holds. The record, written after each part
    once its CPSample runs are checked against the defaults it records (`check_defaults`)."""
    t0 = time.perf_counter()
    folder = args.model or args.work / "model"
    trained_here = not (folder / "model_index.json").is_file()
    if trained_here:
        train(folder, args.seed, arch)
    opts = TextDemoOptions(
        out=args.out, work=args.work, model=folder, seed=args.seed, sample_seed=eval_seed, device="cpu"
    )
    record = json.loads(args.json.read_text()) if args.reuse and args.json.is_file() else {}
    if "demo" not in record:
        record = demo_record(opts, model_record(folder), eval_seed, t0, defaults(folder, trained_here))
        record["model_trained_here"] = trained_here
        check_defaults(args.out, record)
        write(args.json, record)
    if full_training and "full_training" not in record:
        record["full_training"] = learned_full_training(opts, record["demo"]["table"][0]["pixel_fid"])
        check_defaults(args.out, record)
        write(args.json, record)
    return record


def write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")


def at_base_rate(row: dict) -> bool:
    """Training captions extracted no more often than held-out ones."""
    c = row["captions"]
    return c["member_captions_extracted"] <= c["holdout_captions_extracted"]


def band_position(row: dict) -> str:
    """Where the extraction AUC lies against its chance band: 'inside', 'above' or 'below'."""
    lo, hi, auc = row["chance_band95"][0], row["chance_band95"][1], row["extraction_auc"]
    return "inside" if lo <= auc <= hi else ("above" if auc > hi else "below")


def verdict(row: dict) -> str:
    """One row in words: extracted training captions against held-out ones, the AUC against its chance band."""
    c, lo, hi = row["captions"], row["chance_band95"][0], row["chance_band95"][1]
    base = "at" if at_base_rate(row) else "above"
    s = row["samples"]
    return (
        f"{row['defence']}: {c['member_captions_extracted']} of {c['n_member_captions']} training captions extracted "
        f"against {c['holdout_captions_extracted']} of {c['n_holdout_captions']} held-out ones ({base} the base rate, "
        f"Fisher p {c['fisher_p']:.2g}; {s['member_caption_replicas']} of {s['n_member_caption_samples']} samples "
        f"replicas against {s['holdout_caption_replicas']} of {s['n_holdout_caption_samples']}), extraction AUC "
        f"{row['extraction_auc']:.3f} ({band_position(row)} its chance band {lo:.3f}-{hi:.3f}), pixel FID ratio "
        f"{row['fid_ratio']:.2f}"
    )
