"""CPSample on a tiny SDXL-architecture pipeline trained to memorise, on seeds no default was chosen on.

    python -m benchmarks.sdxl_memorisation            # train, sample, audit; writes the JSON and the demo's reports
    python -m benchmarks.sdxl_memorisation --render   # the benchmarks/RESULTS.md section, from the committed JSON

1. Train `cpaudit train-diffusion captioned-digits --text --arch sdxl` (64 members, seed 0, the command's
   defaults: 500 autoencoder and 1,500 UNet steps) unless --model names a trained folder.
2. Run `cpaudit demo --text --model`'s experiment on it (pipelines/demo_text.py, unchanged): the random-label
   latent classifier (width LATENT_CLASSIFIER_WIDTH), every member caption and 64 held-out captions, 3 seeds
   each, unprotected and under each sampling-time defence at its default (CPSample with the learned classifier
   and with the exact posterior at LATENT_KIND_DEFAULTS, rejection, the prompt defences), each audited by
   prompted extraction (threat model samples; the unprotected run also with the model: sampler and weights).
   Seeds 7,000,000 on: CPSample's latent defaults were chosen on the SD 1.x tiny model's tuning seeds
   2,000,000 on (benchmarks/text_memorisation.py), the prompt defences' on that model's too, and the SD model
   was evaluated on 5,000,000 and 6,000,000 on; nothing was ever chosen on this model.
3. The demo trains its classifier shorter than `train-classifier`'s defaults (DEMO_CLASSIFIER, to fit its 10
   minutes); CPSample is also run, on the same prompts and seeds, with a classifier trained at those defaults
   (`train-classifier --model`, width LATENT_CLASSIFIER_WIDTH): "CPSample, learned classifier, full training".
4. Write benchmarks/results/sdxl_memorisation.json (machine, times, seeds, settings, the model's training
   record, the demo's figures); the demo's comparison report and each run's results.json stay in --out.
   --reuse keeps the JSON's finished parts and runs only what it lacks.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks._util import machine
from cpaudit.auditing.quality import pooled_pixels
from cpaudit.data.members import data_and_split_of
from cpaudit.models.load import load_model
from cpaudit.pipelines.demo import StageClock
from cpaudit.pipelines.demo_text import (DEMO_CLASSIFIER, TextDemoOptions, demo_table_markdown, demo_text, run_defence,
                                         white_box_markdown)
from cpaudit.pipelines.sample import extraction_prompts
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.pipelines.train_text import TrainTextOptions, text_architecture, train_text_diffusion
from cpaudit.sampling.protection import LATENT_CLASSIFIER_WIDTH, LATENT_KIND_DEFAULTS, Protection

EVAL_SEED = 7_000_000
FULL_LABEL = "CPSample, learned classifier, full training"
JSON_OUT = Path("benchmarks/results/sdxl_memorisation.json")


def train(folder: Path, seed: int) -> None:
    opts = TrainTextOptions("captioned-digits", folder, members=64, seed=seed, arch=text_architecture("sdxl"), device="cpu")
    t0 = time.perf_counter()
    train_text_diffusion(opts, progress=lambda part, s, n, m: print(f"train {part} {s}/{n} {m}", flush=True)
                         if s % 100 == 0 or s == n else None)
    print(f"trained in {time.perf_counter() - t0:.0f} s", flush=True)


def model_record(folder: Path) -> dict:
    meta = json.loads((folder / "cpaudit.json").read_text())
    lm = load_model(folder)
    return {"folder": str(folder), "pipeline": lm.config["pipeline"], "arch": meta["arch"], "architecture": meta["architecture"],
            "unet_parameters": lm.config["n_parameters"], "time_ids": lm.config["time_ids"],
            "force_zeros_for_empty_prompt": lm.config["force_zeros_for_empty_prompt"], "train": meta["train"],
            "train_seconds": meta["train_seconds"], "vae_seconds": meta["vae_seconds"], "vae_source": meta["vae_source"],
            "n_members": meta["n_members"], "seed": meta["seed"]}


def classifier_record(folder: Path) -> dict:
    cfg = json.loads((folder / "config.json").read_text())
    return {k: cfg[k] for k in ("steps_done", "train_seconds", "accuracy")}


def learned_full_training(opts: TextDemoOptions, unprotected_fid: float) -> dict:
    """CPSample with a classifier trained at train-classifier's defaults, sampled and audited as the demo's rows are."""
    model, work = Path(opts.model), Path(opts.work)
    t0 = time.perf_counter()
    classifier = work / "classifier-full-training"
    train_classifier(TrainClassifierOptions("captioned-digits", classifier, model=model, base_channels=LATENT_CLASSIFIER_WIDTH,
                                            seed=opts.seed, device=opts.device))
    prompts = extraction_prompts(model, per_caption=opts.per_caption, seed=opts.seed)
    data, split = data_and_split_of(model, load_model(model).config)
    say = StageClock(lambda name, s, n, m: print(name, flush=True))
    _, row = run_defence(opts, model, work, FULL_LABEL, {"protection": Protection(str(classifier))}, prompts,
                         pooled_pixels(data.take(split.holdout_idx)), say)
    row["fid_ratio"] = row["pixel_fid"] / unprotected_fid
    return {"row": row, "classifier": classifier_record(classifier), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/sdxl_demo"), help="the demo's reports")
    ap.add_argument("--json", type=Path, default=JSON_OUT)
    ap.add_argument("--work", type=Path, default=Path("runs/sdxl_bench"), help="model, classifier and samples")
    ap.add_argument("--model", type=Path, help="reuse a trained SDXL pipeline folder instead of training one")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--render", action="store_true", help="print the RESULTS.md section from --json and stop")
    ap.add_argument("--reuse", action="store_true", help="keep --json's finished parts, run only what it lacks")
    args = ap.parse_args()
    if args.render:
        print(results_markdown(json.loads(args.json.read_text())))
        return
    t0 = time.perf_counter()
    folder = args.model or args.work / "model"
    if not (folder / "model_index.json").is_file():
        train(folder, args.seed)
    opts = TextDemoOptions(out=args.out, work=args.work, model=folder, seed=args.seed, sample_seed=EVAL_SEED, device="cpu")
    record = json.loads(args.json.read_text()) if args.reuse and args.json.is_file() else {}
    if "demo" not in record:
        result = demo_text(opts, stage=lambda name, s, n, m: print(name, flush=True) if s == 0 else None)
        record = {"machine": machine(), "threat_model": "samples (prompted extraction); sampler and weights for the unprotected run",
                  "model": model_record(folder), "eval_seed": EVAL_SEED, "tuning_seeds_of_the_defaults": 2_000_000,
                  "latent_defaults": LATENT_KIND_DEFAULTS, "classifier_width": LATENT_CLASSIFIER_WIDTH,
                  "demo_classifier": {"max_steps": DEMO_CLASSIFIER.steps, **classifier_record(Path(args.work) / "classifier")},
                  "demo_seconds": round(result.seconds, 1), "total_seconds": round(time.perf_counter() - t0, 1),
                  "demo": json.loads((args.out / "text_demo.json").read_text())}
        write(args.json, record)
    if "full_training" not in record:
        record["full_training"] = learned_full_training(opts, record["demo"]["table"][0]["pixel_fid"])
        write(args.json, record)
    print(results_markdown(record))


def write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")


def _verdict(row: dict) -> str:
    """One CPSample row in words: extracted training captions against held-out ones, the AUC against its chance band."""
    c, lo, hi = row["captions"], row["chance_band95"][0], row["chance_band95"][1]
    base = "at" if c["member_captions_extracted"] <= c["holdout_captions_extracted"] else "above"
    band = "inside" if lo <= row["extraction_auc"] <= hi else ("above" if row["extraction_auc"] > hi else "below")
    s = row["samples"]
    return (f"{row['defence']}: {c['member_captions_extracted']} of {c['n_member_captions']} training captions extracted "
            f"against {c['holdout_captions_extracted']} of {c['n_holdout_captions']} held-out ones ({base} the base rate, "
            f"Fisher p {c['fisher_p']:.2g}; {s['member_caption_replicas']} of {s['n_member_caption_samples']} samples "
            f"replicas against {s['holdout_caption_replicas']} of {s['n_holdout_caption_samples']}), extraction AUC "
            f"{row['extraction_auc']:.3f} ({band} its chance band {lo:.3f}-{hi:.3f}), pixel FID ratio {row['fid_ratio']:.2f}")


def results_markdown(record: dict) -> str:
    """The benchmarks/RESULTS.md section, every figure from the record (tests/test_sdxl_train.py keeps them equal)."""
    m, demo, full = record["model"], record["demo"], record["full_training"]
    a, dc, fc = m["architecture"], record["demo_classifier"], full["classifier"]
    rows = {r["defence"]: r for r in demo["table"]}
    cpsample = [rows["CPSample, learned classifier"], full["row"], rows["CPSample, exact posterior"]]
    t = {k: v for k, v in demo["stage_seconds"].items()}
    lines = [
        "## CPSample on a tiny SDXL-architecture pipeline that memorises (`python -m benchmarks.sdxl_memorisation`)",
        "",
        f"`cpaudit train-diffusion captioned-digits --text --arch sdxl`: a {m['pipeline']} folder (two frozen random CLIP "
        f"encoders of widths {a['text_width']} and {a['text_width_2']}, their penultimate states concatenated; encoder 2's "
        f"pooled projection ({a['projection_dim']}) and the size/crop time ids {m['time_ids']} as the UNet's added conditions; "
        f"force_zeros_for_empty_prompt, so a dropped caption trains on zeros; a {m['unet_parameters']:,}-parameter UNet), "
        f"{m['n_members']} members, seed {m['seed']}, {m['train']['vae_steps']} autoencoder and {m['train']['steps']:,} UNet steps, "
        f"trained in {m['train_seconds']:.0f} s ({m['vae_seconds']:.0f} s of it the autoencoder; the cores were shared with "
        f"other work). Then `cpaudit demo --text --model`'s experiment on it (pipelines/demo_text.py): {demo['per_caption']} "
        f"samples for each of 64 training and 64 held-out captions on seeds {demo['sample_seed']:,} on, {demo['steps']} DDIM "
        f"steps, guidance scale {demo['guidance_scale']:g}, every defence at its default. Every default was chosen on the SD "
        f"1.x tiny model's tuning seeds {record['tuning_seeds_of_the_defaults']:,} on, never on this model: CPSample's latent "
        f"defaults (learned classifier: alpha {record['latent_defaults']['learned']['alpha']:g}, scale "
        f"{record['latent_defaults']['learned']['scale']:g}, width {record['classifier_width']}; exact posterior: alpha "
        f"{record['latent_defaults']['exact']['alpha']:g}, scale {record['latent_defaults']['exact']['scale']:g} on the "
        f"predicted {record['latent_defaults']['exact']['space']}) and the prompt defences' defaults. The demo trains its classifier for "
        f"{dc['max_steps']:,} steps ({dc['train_seconds']:.0f} s); the row 'full training' is CPSample with a classifier at "
        f"`train-classifier --model`'s defaults ({fc['steps_done']:,} steps, {fc['train_seconds']:.0f} s; accuracy at t = "
        f"{fc['accuracy']['t'][-1]} {fc['accuracy']['learned'][-1]:.3f} against the Bayes-optimal "
        f"{fc['accuracy']['bayes'][-1]:.3f}, {dc['accuracy']['learned'][-1]:.3f} after {dc['max_steps']:,}) on the same prompts "
        f"and seeds. Threat model samples; pixel FID on 8x8-pooled samples against the held-out images, as a ratio to "
        f"unprotected. The run took {record['total_seconds'] + full['seconds']:.0f} s in all on {record['machine']}; sampling "
        f"384 images took {t['sample unprotected']:.0f} s unprotected, {t['sample CPSample, learned classifier']:.0f} s with "
        f"the learned classifier and {t['sample CPSample, exact posterior']:.0f} s with the exact posterior. Reports and each "
        f"run's results.json: benchmarks/results/sdxl_demo/.",
        "",
        demo_table_markdown({"table": demo["table"] + [full["row"]]}),
        "",
        "CPSample at the latent defaults, on the evaluation seeds: " + "; ".join(_verdict(r) for r in cpsample) + ".",
        "",
        white_box_markdown(demo),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
