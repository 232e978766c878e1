"""Choose each prompt defence's default on tuning seeds (2,000,000 on), for `cpaudit demo --text` to claim on
evaluation seeds (5,000,000 on).

    python -m benchmarks.text_defences --model runs/text_bench/model --out benchmarks/results/text_defences_tune.json

Threat model: samples (prompted extraction). The tiny text-to-image pipeline of benchmarks/text_memorisation.py
is prompted with every member caption and 64 held-out captions, 4 seeds each (`sample --extraction`), under
each setting of each prompt defence (sampling/prompt_defences.py). Per setting: captions extracted (a sample
whose pixel correlation with its caption's own image reaches 0.97, the audit's threshold) for member and for
held-out captions, and the pixel FID (8x8 average-pooled) against the held-out images. The rule, per defence:
among settings whose member captions are extracted no more often than held-out captions (the base rate),
the lowest FID; where none reaches it, the setting with the fewest extracted member captions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._util import machine
from cpaudit.auditing.extraction import caption_scores, sample_groups
from cpaudit.auditing.pixel import pixel_embedding
from cpaudit.auditing.quality import frechet_distance, pooled_pixels
from cpaudit.auditing.samples import load_samples
from cpaudit.data.members import data_and_split_of
from cpaudit.models.load import load_model
from cpaudit.pipelines.sample import SampleOptions, extraction_prompts, sample
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.prompt_defences import PromptDefence

TUNE_SEED = 2_000_000
THRESHOLD = 0.97
GRID = {
    "embedding-noise": [{"sigma": s} for s in (0.25, 0.5, 1.0, 2.0)],
    "random-tokens": [{"tokens": k} for k in (1, 2, 4, 8)],
    "prompt-optimisation": [{"target_norm": t, "lr": lr, "iters": 10} for t in (0.3, 0.1) for lr in (0.05, 0.2)],
}


def measure(model: Path, prompts: list[str], defence: PromptDefence | None, data, split, reference: np.ndarray) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sample(SampleOptions(model=model, out=Path(tmp), n=len(prompts), seed=TUNE_SEED, write_png=False, device="cpu",
                             conditions=Conditions(tuple(prompts), 7.5, prompt_defence=defence)))
        seconds = time.perf_counter() - t0
        s = load_samples(Path(tmp))
    emb = pixel_embedding(s.images)
    out = {"seconds": round(seconds, 2), "pixel_fid": frechet_distance(pooled_pixels(s.images), reference)}
    for role, rows in (("member", split.member_idx), ("holdout", split.holdout_idx)):
        caps = [data.captions[i] for i in rows]
        keep = [i for i, c in enumerate(caps) if c in set(s.prompts)]
        scores = caption_scores(emb, sample_groups(s.prompts, [caps[i] for i in keep]),
                                pixel_embedding(data.take(np.asarray(rows)[keep])), THRESHOLD)
        out[f"{role}_captions_extracted"] = int((scores.replicas > 0).sum())
        out[f"n_{role}_captions"] = len(keep)
    return out


def choose(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["member_captions_extracted"] <= r["holdout_captions_extracted"]]
    if ok:
        return min(ok, key=lambda r: r["pixel_fid"])
    return min(rows, key=lambda r: (r["member_captions_extracted"], r["pixel_fid"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    lm = load_model(args.model)
    data, split = data_and_split_of(args.model, lm.config)
    reference = pooled_pixels(data.take(split.holdout_idx))
    prompts = extraction_prompts(args.model, per_caption=4, seed=0)
    record: dict = {"machine": machine(), "threat_model": "samples", "first_seed": TUNE_SEED, "threshold": THRESHOLD,
                    "per_caption": 4, "unprotected": measure(args.model, prompts, None, data, split, reference), "defences": {}}
    print("unprotected", record["unprotected"], flush=True)
    for kind, grid in GRID.items():
        rows = []
        for setting in grid:
            row = {"setting": setting, **measure(args.model, prompts, PromptDefence(kind, **setting), data, split, reference)}
            row["fid_ratio"] = row["pixel_fid"] / record["unprotected"]["pixel_fid"]
            print(kind, row, flush=True)
            rows.append(row)
        record["defences"][kind] = {"rows": rows, "chosen": choose(rows)["setting"]}
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v["chosen"] for k, v in record["defences"].items()}))


if __name__ == "__main__":
    main()
