"""CPSample on a tiny rectified-flow pipeline (SD3 or FLUX architecture) trained to memorise, on evaluation
seeds: seeds no default was chosen on.

    python -m benchmarks.flow_memorisation --arch flux            # train, sample, audit; writes the JSON and the demo's reports
    python -m benchmarks.flow_memorisation --arch sd3
    python -m benchmarks.flow_memorisation --arch flux --render   # the benchmarks/RESULTS.md section, from the committed JSON

1. Train `cpaudit train-diffusion captioned-digits --text --arch ARCH` (64 members, seed 0, the command's
   defaults, which `cpaudit demo --text --arch ARCH` trains at too) unless --model names a trained folder.
2. Run `cpaudit demo --text --model`'s experiment on it (pipelines/demo_text.py, unchanged): the random-label
   latent classifier, every member caption and 64 held-out captions, 3 seeds each, the pipeline's 28 steps at
   guidance 4 (demo_text.SAMPLING), unprotected and under each sampling-time defence at its default (CPSample
   with the learned classifier and with the exact posterior at FLOW_KIND_DEFAULTS, which Protection.in_space
   gives a rectified-flow model; rejection; the prompt defences), each audited by prompted extraction (threat
   model samples; the unprotected run also with the model: sampler and weights). Seeds EVAL_SEEDS[ARCH] on
   (8,000,000 for sd3, 9,000,000 for flux), apart from the tuning seeds 2,000,000 on: CPSample's flow defaults
   were chosen on the tiny FLUX model's (`cpaudit tune --model runs/flow_bench_flux/model`,
   benchmarks/results/flux_tune/tune.json, evaluated there on 6,000,000 on), the prompt defences' on the SD 1.x
   tiny model's; the SD and SDXL models were evaluated on 5,000,000, 6,000,000 and 7,000,000 on; nothing was
   ever chosen on the SD3 model. The record says which defaults the runs took and where they were chosen
   (`flow_defaults_entries`), and the run refuses to write it unless each CPSample run's results.json agrees.
3. CPSample once more with a classifier trained at `train-classifier`'s defaults (the demo's is shorter).
4. Write benchmarks/results/flow_memorisation_ARCH.json; the demo's comparison report and each run's
   results.json stay in --out (benchmarks/results/flow_demo_ARCH/). --reuse keeps the JSON's finished parts.

`table_markdown(record)` is the table docs/text-to-image.md and RESULTS.md show; `results_markdown(record)` the section.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks._text_bench import (
    TUNING_SEED,
    arguments,
    at_base_rate,
    band_position,
    run,
    verdict,
)
from cpaudit.models.load import load_model
from cpaudit.report.text_demo_md import white_box_markdown
from cpaudit.sampling.protection import defaults_table

EVAL_SEEDS = {"sd3": 8_000_000, "flux": 9_000_000}
NAMES = {"sd3": "SD3", "flux": "FLUX"}
FLOW_TUNE = Path("benchmarks/results/flux_tune/tune.json")  # where FLOW_KIND_DEFAULTS were chosen
PROMPT_TUNE = "benchmarks/results/text_defences/tune.json"  # where the prompt defences' defaults were chosen
FLOW_DEFAULTS_CHOSEN_ON = f"the tiny FLUX model's tuning seeds {TUNING_SEED:,} on ({FLOW_TUNE})"
PROMPT_DEFAULTS_CHOSEN_ON = f"the SD 1.x tiny model's tuning seeds {TUNING_SEED:,} on ({PROMPT_TUNE})"


def json_out(arch: str) -> Path:
    return Path(f"benchmarks/results/flow_memorisation_{arch}.json")


def flow_defaults_entries(folder: Path, trained_here: bool) -> dict:
    """The record's defaults entries: CPSample's on a rectified-flow model (FLOW_KIND_DEFAULTS, what
    Protection.in_space gives it), where they and the prompt defences' were chosen, and whether CPSample's were
    chosen on this very model (the folder `cpaudit tune` ran on, not retrained since)."""
    tuned = json.loads(FLOW_TUNE.read_text())["model"] if FLOW_TUNE.is_file() else None
    this_model = not trained_here and tuned is not None and Path(tuned).resolve() == Path(folder).resolve()
    return {
        "defaults": defaults_table(latent=True, flow=True),
        "defaults_chosen_on": FLOW_DEFAULTS_CHOSEN_ON,
        "defaults_chosen_on_this_model": this_model,
        "prompt_defaults_chosen_on": PROMPT_DEFAULTS_CHOSEN_ON,
    }


def model_record(folder: Path) -> dict:
    """What was trained (cpaudit.json) and what cpaudit loads (the transformer's size, the flow schedule)."""
    meta = json.loads((folder / "cpaudit.json").read_text())
    cfg = load_model(folder).config
    return {
        "folder": str(folder),
        "pipeline": cfg["pipeline"],
        "arch": meta["arch"],
        "architecture": meta["architecture"],
        "transformer_parameters": cfg["n_parameters"],
        "schedule": cfg["schedule"],
        "image_seq_len": cfg["image_seq_len"],
        "max_sequence_length": cfg["max_sequence_length"],
        "has_t5": cfg["has_t5"],
        "train": meta["train"],
        "train_seconds": meta["train_seconds"],
        "vae_seconds": meta["vae_seconds"],
        "vae_source": meta["vae_source"],
        "n_members": meta["n_members"],
        "seed": meta["seed"],
    }


def row_verdict(row: dict) -> str:
    """A table row's verdict: prompted extraction against the held-out captions' base rate, and whether an
    attacker still tells training captions from held-out ones (the extraction AUC against its chance band)."""
    base = "at the base rate" if at_base_rate(row) else "above the base rate"
    return f"{base}; AUC {band_position(row)} chance"


def table_markdown(record: dict) -> str:
    """Every row of the demo and the fully trained classifier's: extraction, FID and sampling time as ratios to
    unprotected, and the verdict (docs/text-to-image.md and benchmarks/RESULTS.md; tests/test_flow_benchmark.py)."""
    rows = record["demo"]["table"] + [record["full_training"]["row"]]
    none_seconds = rows[0]["sampling_seconds"]
    lines = [
        (
            "| defence | training captions extracted (95% CI) | held-out captions extracted | Fisher p | prompted-extraction "
            "AUC [chance band] | prompts refused | pixel FID ratio | sampling time ratio | verdict |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, band = r["captions"], r["chance_band95"]
        lines.append(
            f"| {r['defence']} | {c['member_captions_extracted']} of {c['n_member_captions']} ({c['rate_ci95'][0]:.0%}-"
            f"{c['rate_ci95'][1]:.0%}) | {c['holdout_captions_extracted']} of {c['n_holdout_captions']} | "
            f"{c['fisher_p']:.2g} | {r['extraction_auc']:.3f} [{band[0]:.3f}-{band[1]:.3f}] | "
            f"{r['refused']['prompts'] or '-'} | {r['fid_ratio']:.2f} | {r['sampling_seconds'] / none_seconds:.2f} | "
            f"{row_verdict(r)} |"
        )
    return "\n".join(lines)


def model_words(m: dict) -> str:
    """The trained pipeline in one parenthesis."""
    a = m["architecture"]
    if m["arch"] == "flux":
        net = (
            f"a {m['transformer_parameters']:,}-parameter FluxTransformer2DModel of {a['layers']} double- and "
            f"{a['single_layers']} single-stream blocks, {a['heads']} heads x {a['head_dim']}, on the {a['latent_channels']} "
            f"latent channels packed 2x2 into tokens; a frozen random CLIP encoder (width {a['text_width']}) pooled and a "
            f"small frozen random T5 (width {a['t5_width']}, {m['max_sequence_length']} tokens)"
        )
    else:
        t5 = (
            f"a small T5 ({m['max_sequence_length']} tokens)"
            if m["has_t5"]
            else f"no T5 (zeros for its {m['max_sequence_length']} tokens)"
        )
        net = (
            f"a {m['transformer_parameters']:,}-parameter SD3Transformer2DModel of {a['layers']} joint blocks, {a['heads']} "
            f"heads x {a['head_dim']}, patch {a['patch_size']}; two frozen random CLIP encoders (width {a['text_width']}), "
            f"their projections pooled, {t5}"
        )
    s = m["schedule"]
    shift = "dynamic shift" if s["dynamic"] else f"static shift {s['shift']:g}"
    return f"{net}; FlowMatchEulerDiscreteScheduler, {shift}; velocity prediction, {m['image_seq_len']} image tokens"


def results_markdown(record: dict) -> str:
    """The benchmarks/RESULTS.md section, every figure from the record (tests/test_flow_benchmark.py keeps them equal)."""
    m, demo, full = record["model"], record["demo"], record["full_training"]
    dc, fc, d = record["demo_classifier"], full["classifier"], record["defaults"]
    arch, name = m["arch"], NAMES[m["arch"]]
    rows = {r["defence"]: r for r in demo["table"]}
    t = demo["stage_seconds"]
    sample = {k: t[f"sample {k}"] for k in ("unprotected", "CPSample, learned classifier", "CPSample, exact posterior")}
    guidance = "its guidance_scale" if arch == "sd3" else "true_cfg_scale against the empty prompt"
    cpsample = (
        f"CPSample's defaults on rectified-flow models (FLOW_KIND_DEFAULTS, which every CPSample run here took: "
        f"learned classifier: alpha {d['learned']['alpha']:g}, scale {d['learned']['scale']:g}, width "
        f"{record['classifier_width']}; exact posterior: alpha {d['exact']['alpha']:g}, scale "
        f"{d['exact']['scale']:g} on the predicted {d['exact']['space']})"
    )
    if record["defaults_chosen_on_this_model"]:
        chosen = (
            f"{cpsample} were chosen on this very model, on {record['defaults_chosen_on']}; the prompt defences' "
            f"defaults on {record['prompt_defaults_chosen_on']}. Nothing was chosen on these seeds "
            f"({demo['sample_seed']:,} on)."
        )
    else:
        chosen = (
            f"Nothing was ever chosen on this model: {cpsample} were chosen on {record['defaults_chosen_on']}; the "
            f"prompt defences' defaults on {record['prompt_defaults_chosen_on']}."
        )
    if record["model_trained_here"]:
        took = f"training and the demo {record['total_seconds']:.0f} s"
    else:
        took = f"the demo {record['total_seconds']:.0f} s, on the model an earlier run of this command trained"
    lines = [
        (
            f"## CPSample on a tiny {name}-architecture rectified-flow pipeline that memorises "
            f"(`python -m benchmarks.flow_memorisation --arch {arch}`)"
        ),
        "",
        (
            f"`cpaudit train-diffusion captioned-digits --text --arch {arch}`: a {m['pipeline']} folder ({model_words(m)}), "
            f"{m['n_members']} members, seed {m['seed']}, {m['train']['vae_steps']} autoencoder and {m['train']['steps']:,} "
            f"transformer steps (the command's defaults, which `cpaudit demo --text --arch {arch}` trains at), trained in "
            f"{m['train_seconds']:.0f} s ({m['vae_seconds']:.0f} s of it the autoencoder; the cores were shared with other "
            f"work). Then `cpaudit demo --text --model`'s experiment on it (pipelines/demo_text.py): {demo['per_caption']} "
            f"samples for each of 64 training and 64 held-out captions on seeds {demo['sample_seed']:,} on, {demo['steps']} "
            f"Euler steps at the pipeline's own sampling sigmas, guidance {demo['guidance_scale']:g} ({guidance}), every "
            f"defence at its default. {chosen} The demo trains its classifier for {dc['max_steps']:,} "
            f"steps ({dc['train_seconds']:.0f} s); the row 'full training' is CPSample with a classifier at `train-classifier "
            f"--model`'s defaults ({fc['steps_done']:,} steps, {fc['train_seconds']:.0f} s) on the same prompts and seeds. "
            f"Threat model samples; pixel FID on 8x8-pooled samples against the held-out images, and sampling time, as "
            f"ratios to unprotected. The run took {record['total_seconds'] + full['seconds']:.0f} s in all on "
            f"{record['machine']} ({took}); sampling 384 images took "
            f"{sample['unprotected']:.1f} s unprotected, {sample['CPSample, learned classifier']:.1f} s with the learned "
            f"classifier ({sample['CPSample, learned classifier'] / sample['unprotected']:.2f} times) and "
            f"{sample['CPSample, exact posterior']:.1f} s with the exact posterior "
            f"({sample['CPSample, exact posterior'] / sample['unprotected']:.2f} times). Reports and each run's results.json: "
            f"benchmarks/results/flow_demo_{arch}/."
        ),
        "",
        table_markdown(record),
        "",
        "CPSample at its rectified-flow defaults, on the evaluation seeds: "
        + "; ".join(
            verdict(r) for r in (rows["CPSample, learned classifier"], full["row"], rows["CPSample, exact posterior"])
        )
        + ".",
        "",
        white_box_markdown(demo),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--arch", choices=sorted(EVAL_SEEDS), default="flux")
    arch = first.parse_known_args(argv)[0].arch  # the other options' defaults name it
    ap = arguments(
        NAMES[arch], Path(f"benchmarks/results/flow_demo_{arch}"), json_out(arch), Path(f"runs/flow_bench_{arch}")
    )
    ap.add_argument("--arch", choices=sorted(EVAL_SEEDS), default="flux", help="sd3 or flux")
    args = ap.parse_args(argv)
    if args.render:
        print(results_markdown(json.loads(args.json.read_text())))
        return
    print(results_markdown(run(args, arch, EVAL_SEEDS[arch], model_record, defaults=flow_defaults_entries)))


if __name__ == "__main__":
    main()
