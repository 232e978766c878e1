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

import json
from pathlib import Path

from benchmarks._text_bench import FULL_LABEL, arguments, run, verdict
from cpaudit.models.load import load_model
from cpaudit.report.text_demo_md import demo_table_markdown, white_box_markdown

EVAL_SEED = 7_000_000
JSON_OUT = Path("benchmarks/results/sdxl_memorisation.json")
__all__ = ["EVAL_SEED", "FULL_LABEL", "JSON_OUT", "main", "model_record", "results_markdown"]


def model_record(folder: Path) -> dict:
    meta = json.loads((folder / "cpaudit.json").read_text())
    lm = load_model(folder)
    return {
        "folder": str(folder),
        "pipeline": lm.config["pipeline"],
        "arch": meta["arch"],
        "architecture": meta["architecture"],
        "unet_parameters": lm.config["n_parameters"],
        "time_ids": lm.config["time_ids"],
        "force_zeros_for_empty_prompt": lm.config["force_zeros_for_empty_prompt"],
        "train": meta["train"],
        "train_seconds": meta["train_seconds"],
        "vae_seconds": meta["vae_seconds"],
        "vae_source": meta["vae_source"],
        "n_members": meta["n_members"],
        "seed": meta["seed"],
    }


def main() -> None:
    args = arguments("SDXL", Path("benchmarks/results/sdxl_demo"), JSON_OUT, Path("runs/sdxl_bench")).parse_args()
    if args.render:
        print(results_markdown(json.loads(args.json.read_text())))
        return
    print(results_markdown(run(args, "sdxl", EVAL_SEED, model_record)))


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
        "CPSample at the latent defaults, on the evaluation seeds: " + "; ".join(verdict(r) for r in cpsample) + ".",
        "",
        white_box_markdown(demo),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
