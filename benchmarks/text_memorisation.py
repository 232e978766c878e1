"""The tiny text-to-image pipeline on captioned digits: does it reproduce its training captions' images,
and which sampling-time defence removes that, at what cost in pixel FID and sampling time.

    python -m benchmarks.text_memorisation --out benchmarks/results/text_memorisation.json

Threat model: samples (an attacker prompts the released sampler with training captions and keeps the images).
1. Train `train-diffusion captioned-digits --text` (64 members, seed 0, defaults) and time it.
2. Threshold on the pixel embedding (Pearson r) from held-out images, as the audit's data threshold: the
   (1 - 1/n) quantile of the held-out images' nearest-member r.
3. Prompt with every member caption and with 64 held-out captions, `--per-caption` seeds each, from seed
   5,000,000 on: no default (CPSample's alpha and scale were chosen by `cpaudit tune` on the pixel model's
   seeds 2,000,000 on; rejection's threshold is the data threshold) was chosen on these seeds.
4. Defences at their defaults on the member captions: none, CPSample with the learned latent classifier and
   with the exact posterior over the members' latents, rejection of replicas (decoded images), nearest-member
   repulsion (latents). Replicas: a sample whose r with its caption's member reaches the threshold.
   Pixel FID: 8x8 average-pooled samples (64-d) against the held-out images, as a ratio to no defence.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks._util import machine
from cpaudit.audit.pixel import pixel_embedding
from cpaudit.audit.quality import frechet_distance
from cpaudit.core.stats import wilson_interval
from cpaudit.data.members import data_and_split_of
from cpaudit.models.load import load_model
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.pipelines.train_text import TrainTextOptions, train_text_diffusion
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.defences import Guides, Setting, draw_setting
from cpaudit.sampling.protection import Protection
from cpaudit.sampling.repulsion import Repulsion
from cpaudit.sampling.sampler import SamplerConfig

FIRST_SEED = 5_000_000


def pooled(images: torch.Tensor) -> np.ndarray:
    return F.adaptive_avg_pool2d(images.float(), 8).flatten(1).double().numpy()


def rate(k: int, n: int) -> dict:
    lo, hi = wilson_interval(k, n)
    return {"k": int(k), "n": int(n), "rate": k / n, "ci95": [lo, hi]}


def evaluate(images: torch.Tensor, own: torch.Tensor, members: torch.Tensor, holdout_feats: np.ndarray, thr: float) -> dict:
    emb, own_emb, mem_emb = pixel_embedding(images), pixel_embedding(own), pixel_embedding(members)
    own_r = (emb * own_emb).sum(1)
    nearest = (emb @ mem_emb.T).max(1)
    return {"own_replicas": rate(int((own_r >= thr).sum()), len(emb)),
            "any_member_replicas": rate(int((nearest >= thr).sum()), len(emb)),
            "median_own_r": float(np.median(own_r)), "median_nearest_r": float(np.median(nearest)),
            "pixel_fid": frechet_distance(pooled(images), holdout_feats)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("runs/text_bench"))
    ap.add_argument("--model", type=Path, help="reuse a trained pipeline instead of training one")
    ap.add_argument("--per-caption", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--guidance-scale", type=float, default=7.5)
    args = ap.parse_args()
    record: dict = {"machine": machine(), "threat_model": "samples", "first_seed": FIRST_SEED, "steps": args.steps,
                    "guidance_scale": args.guidance_scale, "per_caption": args.per_caption}
    folder = args.model
    if folder is None:
        folder = args.work / "model"
        res = train_text_diffusion(TrainTextOptions("captioned-digits", folder, device="cpu"))
        record["train"] = {"seconds": round(res.seconds, 1), "vae_seconds": round(res.vae_seconds, 1), "unet_steps": res.steps,
                           "unet_parameters": res.n_parameters}
    lm = load_model(folder)
    data, split = data_and_split_of(folder, lm.config)
    members, holdout = data.take(split.member_idx), data.take(split.holdout_idx)
    h_sim = (pixel_embedding(holdout) @ pixel_embedding(members).T).max(1)
    thr = float(np.quantile(h_sim, 1 - 1 / len(h_sim), method="higher"))
    record["threshold"] = {"value": thr, "n_holdout": len(h_sim), "holdout_median_r": float(np.median(h_sim))}
    t0 = time.perf_counter()
    clf = train_classifier(TrainClassifierOptions("captioned-digits", args.work / "classifier", model=folder, device="cpu"))
    record["classifier"] = {"seconds": round(time.perf_counter() - t0, 1), "steps": clf.steps, "parameters": clf.n_parameters,
                            "accuracy": clf.accuracy.to_dict()}

    cfg = SamplerConfig(steps=args.steps)
    m_caps = tuple(data.captions[i] for i in split.member_idx)
    h_rows = split.holdout_idx[:64]
    h_caps = tuple(data.captions[i] for i in h_rows)
    n = len(m_caps) * args.per_caption
    own = members[torch.arange(n) % len(m_caps)]
    guides = Guides(members, torch.device("cpu"), space_members=lm.codec.encode(members))
    holdout_feats = pooled(holdout)
    settings = [Setting("none", "-"),
                Setting("CPSample, learned classifier", "defaults", protection=Protection(str(args.work / "classifier"))),
                Setting("CPSample, exact posterior", "defaults", protection=Protection("exact")),
                Setting("rejection", f"r >= {thr:.4f}", reject_at=thr),
                Setting("repulsion", "defaults", repulsion=Repulsion())]
    rows = []
    for s in settings:
        t0 = time.perf_counter()
        d = draw_setting(lm, s, guides, FIRST_SEED, n, cfg, batch_size=128, conditions=Conditions(m_caps, args.guidance_scale))
        seconds = time.perf_counter() - t0
        rows.append({**s.to_dict(), **evaluate(d.images, own, members, holdout_feats, thr), "seconds": round(seconds, 2),
                     "drawn": d.drawn, "fired_fraction": d.fired_fraction})
        print(json.dumps({k: rows[-1][k] for k in ("defence", "own_replicas", "pixel_fid", "seconds")}), flush=True)
    base = rows[0]
    for r in rows:
        r["fid_ratio"] = r["pixel_fid"] / base["pixel_fid"]
        r["time_ratio"] = r["seconds"] / base["seconds"]
    held = draw_setting(lm, settings[0], guides, FIRST_SEED, len(h_caps) * args.per_caption, cfg, batch_size=128,
                        conditions=Conditions(h_caps, args.guidance_scale))
    h_own = data.take(h_rows)[torch.arange(len(held.images)) % len(h_rows)]
    record["heldout_captions"] = evaluate(held.images, h_own, members, holdout_feats, thr)
    record["member_captions"] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print("| defence | replicas of the caption's member | nearest-member replicas | pixel FID ratio | time ratio |")
    for r in rows:
        o, a = r["own_replicas"], r["any_member_replicas"]
        print(f"| {r['defence']} | {o['k']}/{o['n']} [{o['ci95'][0]:.3f}, {o['ci95'][1]:.3f}] | {a['k']}/{a['n']} | "
              f"{r['fid_ratio']:.2f} | {r['time_ratio']:.2f} |")
    hc = record["heldout_captions"]["any_member_replicas"]
    print(f"held-out captions: {hc['k']}/{hc['n']} samples reach a member")


if __name__ == "__main__":
    main()
