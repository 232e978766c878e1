"""The random-label classifier's width on the pixel model: protection and cost measured together.

    python -m benchmarks.classifier_width --out benchmarks/results/classifier_width.json

The demo's memorising model (reports/demo/runs/model) with classifiers of base width 32 (the committed demo
classifier), 16 and 8, each trained by `cpaudit train-classifier` at its defaults. For each width and scale
(alpha 0.4, the x_t space of the learned default), 1,024 samples on the tuning seeds (2,000,000 on, where
`cpaudit tune` chose the defaults), scored as the tune's frontier scores a point (auditing/frontier.py): replicas
at r >= 0.97, the sample-only AUC against the held-out digits, pixel FID. Cost: sampling 256 samples (50 DDIM
steps) at each width's default-scale setting against unprotected, fastest of 3, side by side in one run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from benchmarks._util import best_of, machine
from cpaudit.auditing.frontier import Reference, evaluate_samples
from cpaudit.data.members import data_and_split_of
from cpaudit.models.load import load_model
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.sampling.defences import Guides, Setting, draw_setting
from cpaudit.sampling.protection import Protection
from cpaudit.sampling.sampler import SamplerConfig
from cpaudit.seeding import numpy_generator

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "reports" / "demo" / "runs" / "model"
TUNE_SEED = 2_000_000
WIDTHS = (32, 16, 8)
SCALES = (30.0, 100.0, 300.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("runs/classifier_width"))
    ap.add_argument("--n", type=int, default=1024)
    args = ap.parse_args()
    lm = load_model(MODEL)
    data, split = data_and_split_of(MODEL, lm.config)
    members, holdout = data.take(split.member_idx), data.take(split.holdout_idx)
    ref = Reference.of(members, holdout, threshold=0.97)
    guides = Guides(members, torch.device("cpu"))
    folders = {32: ROOT / "reports" / "demo" / "runs" / "classifier"}
    record: dict = {
        "machine": machine(),
        "threat_model": "samples",
        "first_seed": TUNE_SEED,
        "n": args.n,
        "classifiers": {},
    }
    for w in WIDTHS[1:]:
        folders[w] = args.work / f"classifier-w{w}"
        if not (folders[w] / "config.json").is_file():
            train_classifier(TrainClassifierOptions("digits", folders[w], model=MODEL, base_channels=w, device="cpu"))
    for w, folder in folders.items():
        cfg = json.loads((folder / "config.json").read_text())
        record["classifiers"][w] = {"accuracy": cfg["accuracy"], "steps_done": cfg["steps_done"]}
    cfg = SamplerConfig(steps=50)
    rows = [
        {
            "width": None,
            "scale": None,
            **evaluate_samples(
                draw_setting(lm, Setting("none", "-"), guides, TUNE_SEED, args.n, cfg).images, ref, numpy_generator(0)
            ),
        }
    ]
    for w, folder in folders.items():
        for s in SCALES:
            st = Setting(
                "CPSample, learned classifier",
                f"width {w}, scale {s:g}",
                protection=Protection(str(folder), alpha=0.4, scale=s),
            )
            d = draw_setting(lm, st, guides, TUNE_SEED, args.n, cfg)
            rows.append(
                {
                    "width": w,
                    "scale": s,
                    "fired_fraction": d.fired_fraction,
                    **evaluate_samples(d.images, ref, numpy_generator(0)),
                }
            )
            r = rows[-1]
            print(
                f"width {w} scale {s:g}: replicas {r['replicas']}, AUC {r['sample_only_auc']:.3f}, FID {r['fid']:.2f}",
                flush=True,
            )
    timing = {"none": best_of(lambda: draw_setting(lm, Setting("none", "-"), guides, 0, 256, cfg))}
    for w, folder in folders.items():
        st = Setting("t", "t", protection=Protection(str(folder), alpha=0.4, scale=100.0))
        timing[w] = best_of(lambda: draw_setting(lm, st, guides, 0, 256, cfg))
        print(f"width {w}: {timing[w] / timing['none']:.2f} x unprotected", flush=True)
    record["rows"] = [{k: v for k, v in r.items() if k not in ("sample_only_auc_by_n", "tpr_at_fpr")} for r in rows]
    record["timing_seconds"] = {str(k): round(v, 3) for k, v in timing.items()}
    record["timing_ratio"] = {str(k): round(v / timing["none"], 3) for k, v in timing.items() if k != "none"}
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
