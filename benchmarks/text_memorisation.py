"""The tiny text-to-image pipeline on captioned digits: does it reproduce its training captions' images,
and which sampling-time defence removes that, at what cost in pixel FID and sampling time.

    python -m benchmarks.text_memorisation --part tune --out benchmarks/results/text_tune.json
    python -m benchmarks.text_memorisation --part evaluate --out benchmarks/results/text_memorisation.json

Threat model: samples (an attacker prompts the released sampler with training captions and keeps the images).
1. Train `train-diffusion captioned-digits --text` (64 members, seed 0, defaults) and time it.
2. Threshold on the pixel embedding (Pearson r) from held-out images, as the audit's data threshold: the
   (1 - 1/n) quantile of the held-out images' nearest-member r.
3. Prompt with every member caption and with 64 held-out captions, `--per-caption` seeds each.
   --part tune: seeds 2,000,000 on; CPSample swept (classifier width 32/16/8 and scale for the learned
   classifier, space and scale for the exact posterior, threshold and scale for repulsion) and each kind's
   latent default chosen (see `choose`), then written into sampling/protection.py by hand.
   --part evaluate: seeds 5,000,000 on, where nothing was chosen: the defences at their defaults on the member
   captions: none, CPSample with the learned latent classifier and with the exact posterior over the members'
   latents (latent defaults, and the exact posterior's pixel defaults for comparison), rejection of replicas (decoded images,
   20 draws a prompt, then the prompt is refused), nearest-member repulsion on the latents (its pixel defaults,
   and the setting --part tune chose).
   Replicas: a sample whose r with its caption's member reaches the threshold. Pixel FID: 8x8 average-pooled
   samples (64-d) against the held-out images, as a ratio to no defence.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks._util import best_of, machine
from cpaudit.auditing.quality import frechet_distance
from cpaudit.core.stats import wilson_interval
from cpaudit.data.members import data_and_split_of
from cpaudit.models.load import load_model
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.pipelines.train_text import TrainTextOptions, train_text_diffusion
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.defences import Guides, Setting, draw_setting
from cpaudit.sampling.protection import KIND_DEFAULTS, LATENT_CLASSIFIER_WIDTH, Protection
from cpaudit.sampling.repulsion import Repulsion
from cpaudit.sampling.sampler import SamplerConfig
from cpaudit.similarity.pixel import pixel_embedding

TUNE_SEED, EVAL_SEED = 2_000_000, 5_000_000
WIDTHS = (32, 16, 8)  # the random-label classifier's base width


def pooled(images: torch.Tensor) -> np.ndarray:
    return F.adaptive_avg_pool2d(images.float(), 8).flatten(1).double().numpy()


def rate(k: int, n: int) -> dict:
    lo, hi = wilson_interval(k, n)
    return {"k": int(k), "n": int(n), "rate": k / n, "ci95": [lo, hi]}


def evaluate(
    images: torch.Tensor, own: torch.Tensor, members: torch.Tensor, holdout_feats: np.ndarray, thr: float
) -> dict:
    emb, own_emb, mem_emb = pixel_embedding(images), pixel_embedding(own), pixel_embedding(members)
    own_r = (emb * own_emb).sum(1)
    nearest = (emb @ mem_emb.T).max(1)
    return {
        "own_replicas": rate(int((own_r >= thr).sum()), len(emb)),
        "any_member_replicas": rate(int((nearest >= thr).sum()), len(emb)),
        "median_own_r": float(np.median(own_r)),
        "median_nearest_r": float(np.median(nearest)),
        "pixel_fid": frechet_distance(pooled(images), holdout_feats),
    }


def setup(args) -> tuple:
    """The trained pipeline (trained here unless --model), its data, threshold and classifiers of each width."""
    record: dict = {
        "machine": machine(),
        "threat_model": "samples",
        "steps": args.steps,
        "guidance_scale": args.guidance_scale,
        "per_caption": args.per_caption,
    }
    folder = args.model or args.work / "model"
    if not (folder / "model_index.json").is_file():
        train_text_diffusion(TrainTextOptions("captioned-digits", folder, device="cpu"))
    meta = json.loads((folder / "cpaudit.json").read_text())
    record["train"] = {k: meta[k] for k in ("train_seconds", "vae_seconds", "vae_source", "train")}
    lm = load_model(folder)
    data, split = data_and_split_of(folder, lm.config)
    members, holdout = data.take(split.member_idx), data.take(split.holdout_idx)
    h_sim = (pixel_embedding(holdout) @ pixel_embedding(members).T).max(1)
    thr = float(np.quantile(h_sim, 1 - 1 / len(h_sim), method="higher"))
    record["threshold"] = {"value": thr, "n_holdout": len(h_sim), "holdout_median_r": float(np.median(h_sim))}
    record["classifiers"] = {}
    for w in WIDTHS:
        out = args.work / f"classifier-w{w}"
        if not (out / "config.json").is_file():
            train_classifier(
                TrainClassifierOptions("captioned-digits", out, model=folder, base_channels=w, device="cpu")
            )
        cfg = json.loads((out / "config.json").read_text())
        record["classifiers"][w] = {k: cfg[k] for k in ("train_seconds", "steps_done", "accuracy")}
    return record, lm, data, split, members, holdout, thr


def sweep_settings(work: Path) -> list[Setting]:
    learned = [
        Setting(
            "CPSample, learned classifier",
            f"width {w}, alpha 0.4, scale {s:g}",
            protection=Protection(str(work / f"classifier-w{w}"), alpha=0.4, scale=s, space="x_t"),
        )
        for w in WIDTHS
        for s in (10.0, 30.0, 50.0, 100.0)
    ]
    exact = [
        Setting(
            "CPSample, exact posterior",
            f"space {sp}, alpha 0.4, scale {s:g}",
            protection=Protection("exact", alpha=0.4, scale=s, space=sp),
        )
        for sp, scales in (("x0", (0.03, 0.1, 0.3, 1.0)), ("x_t", (1.0, 3.0, 10.0, 30.0)))
        for s in scales
    ]
    repulsion = [
        Setting("repulsion", f"threshold {th:g}, scale {s:g}", repulsion=Repulsion(th, s))
        for th in (0.5, 0.8)
        for s in (30.0, 100.0, 300.0)
    ]
    return learned + exact + repulsion


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("tune", "evaluate"), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path("runs/text_bench"))
    ap.add_argument("--model", type=Path, help="reuse a trained pipeline instead of training one")
    ap.add_argument(
        "--tuned", type=Path, default=Path("benchmarks/results/text_tune.json"), help="--part tune's output"
    )
    ap.add_argument("--per-caption", type=int, default=4)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--guidance-scale", type=float, default=7.5)
    args = ap.parse_args()
    record, lm, data, split, members, holdout, thr = setup(args)
    first = TUNE_SEED if args.part == "tune" else EVAL_SEED
    record.update(part=args.part, first_seed=first)
    cfg = SamplerConfig(steps=args.steps)
    m_caps = tuple(data.captions[i] for i in split.member_idx)
    h_rows = split.holdout_idx[:64]
    h_caps = tuple(data.captions[i] for i in h_rows)
    guides = Guides(members, torch.device("cpu"), space_members=lm.codec.encode(members))
    holdout_feats = pooled(holdout)

    def run(s: Setting, caps: tuple, own_images: torch.Tensor) -> dict:
        t0 = time.perf_counter()
        d = draw_setting(
            lm,
            s,
            guides,
            first,
            len(caps) * args.per_caption,
            cfg,
            batch_size=128,
            conditions=Conditions(caps, args.guidance_scale),
            allow_refusal=True,
        )
        seconds = time.perf_counter() - t0
        pos = torch.as_tensor(d.positions if d.positions is not None else range(len(d.images)))
        own = own_images[pos % len(caps)]
        row = {
            **s.to_dict(),
            **evaluate(d.images, own, members, holdout_feats, thr),
            "seconds": round(seconds, 2),
            "drawn": d.drawn,
            "fired_fraction": d.fired_fraction,
        }
        if d.refused is not None:
            row["refused"] = rate(len(d.refused), len(caps) * args.per_caption)
        print(
            json.dumps(
                {k: row.get(k) for k in ("defence", "label", "own_replicas", "pixel_fid", "seconds", "refused")}
            ),
            flush=True,
        )
        return row

    record["heldout_captions"] = run(Setting("none", "held-out captions"), h_caps, data.take(h_rows))
    none = run(Setting("none", "-"), m_caps, members)
    if args.part == "tune":
        rows = [none] + [run(s, m_caps, members) for s in sweep_settings(args.work)]
        record["member_captions"] = rows
        record["chosen"] = choose(rows, record["heldout_captions"]["own_replicas"]["k"], none)
    else:
        rows = [
            none,
            run(
                Setting(
                    "CPSample, learned classifier",
                    "latent defaults",
                    protection=Protection(str(args.work / f"classifier-w{LATENT_CLASSIFIER_WIDTH}")),
                ),
                m_caps,
                members,
            ),
            run(
                Setting("CPSample, exact posterior", "latent defaults", protection=Protection("exact")), m_caps, members
            ),
            run(
                Setting(
                    "CPSample, exact posterior",
                    "pixel defaults (untuned for latents)",
                    protection=Protection("exact", **KIND_DEFAULTS["exact"]),
                ),
                m_caps,
                members,
            ),
            run(Setting("rejection", f"r >= {thr:.4f}, 20 draws", reject_at=thr), m_caps, members),
            run(Setting("repulsion", "pixel defaults (untuned for latents)", repulsion=Repulsion()), m_caps, members),
        ]
        tuned = json.loads(args.tuned.read_text())["chosen"].get("repulsion")
        if tuned is not None:  # chosen on the tuning seeds by --part tune
            rep = Repulsion(tuned["repulsion"]["threshold"], tuned["repulsion"]["scale"])
            rows.append(run(Setting("repulsion", f"tuned: {tuned['label']}", repulsion=rep), m_caps, members))
        record["member_captions"] = rows
        record["timing"] = timing(lm, cfg, m_caps, args, guides)
    for r in rows:
        r["fid_ratio"] = r["pixel_fid"] / none["pixel_fid"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print_table(record)


def choose(rows: list[dict], base: int, none: dict) -> dict:
    """Per classifier kind: the lowest pixel FID among settings whose samples for member captions replicate
    no more members (any member, not only their caption's) than samples for held-out captions replicate
    their own caption's image on the same seeds (the base rate: the model never saw those images); for the
    learned classifier, the cheapest (fastest) setting within 10% of that FID: cost and protection together."""
    chosen = {}
    for kind in ("CPSample, learned classifier", "CPSample, exact posterior", "repulsion"):
        ok = [r for r in rows if r["defence"] == kind and r["any_member_replicas"]["k"] <= base]
        if not ok:
            chosen[kind] = None
            continue
        best = min(r["pixel_fid"] for r in ok)
        near = [r for r in ok if r["pixel_fid"] <= 1.1 * best]
        pick = min(near, key=lambda r: (r["seconds"] if "learned" in kind else 0, r["pixel_fid"]))
        chosen[kind] = {
            "label": pick["label"],
            "protection": pick["protection"],
            "repulsion": pick["repulsion"],
            "pixel_fid_ratio": pick["pixel_fid"] / none["pixel_fid"],
            "seconds_ratio": pick["seconds"] / none["seconds"],
        }
    return chosen


def timing(lm, cfg, caps, args, guides) -> dict:
    """Sampling time of the member captions, fastest of 3, unprotected and with each kind's latent defaults."""
    out = {}
    for name, prot in (
        ("none", None),
        ("learned", Protection(str(args.work / f"classifier-w{LATENT_CLASSIFIER_WIDTH}"))),
        ("exact", Protection("exact")),
    ):
        s = Setting(name, "timing", protection=prot)
        out[name] = best_of(
            lambda: draw_setting(
                lm,
                s,
                guides,
                EVAL_SEED,
                len(caps) * args.per_caption,
                cfg,
                batch_size=128,
                conditions=Conditions(caps, args.guidance_scale),
            )
        )
    return {
        **{k: round(v, 3) for k, v in out.items()},
        "learned_ratio": out["learned"] / out["none"],
        "exact_ratio": out["exact"] / out["none"],
    }


def table_markdown(record: dict) -> str:
    """The member-caption table as README.md and benchmarks/RESULTS.md show it (tests/test_readme_figures.py)."""
    n_caps = record["member_captions"][0]["own_replicas"]["n"]
    lines = [
        f"| defence | setting | replicas of the caption's member, of {n_caps} (95% CI) | any member | prompts refused | pixel FID ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in record["member_captions"]:
        o, a, ref = r["own_replicas"], r["any_member_replicas"], r.get("refused")
        lines.append(
            f"| {r['defence']} | {r['label']} | {o['k']} ({o['rate']:.1%}) [{o['ci95'][0]:.1%}, {o['ci95'][1]:.1%}] | "
            f"{a['k']} | {'-' if ref is None else ref['k']} | {r['fid_ratio']:.2f} |"
        )
    return "\n".join(lines)


def summary_markdown(record: dict) -> str:
    """The sentences around the table (docs/text-to-image.md, benchmarks/RESULTS.md), every figure from the record."""
    tr, none = record["train"], record["member_captions"][0]["own_replicas"]
    ho, ha = record["heldout_captions"]["own_replicas"], record["heldout_captions"]["any_member_replicas"]
    tm = record["timing"]
    return (
        f"Training took {tr['train_seconds']:.0f} s on 2 cores ({tr['vae_seconds']:.0f} s of it the autoencoder; "
        f"{tr['train']['steps']} UNet steps). Prompted with its 64 training captions ({record['per_caption']} seeds each, "
        f"seeds {record['first_seed']:,} on, {record['steps']} DDIM steps, guidance scale {record['guidance_scale']:g}), "
        f"{none['k']} of {none['n']} samples ({none['rate']:.1%}) replicate their caption's image (Pearson r >= "
        f"{record['threshold']['value']:.4f}, the (1 - 1/n) quantile of {record['threshold']['n_holdout']} held-out images' "
        f"nearest-member r); prompted with 64 held-out captions, {ho['k']} of {ho['n']} replicate their caption's "
        f"(never seen) image, the base rate, while {ha['k']} of {ha['n']} ({ha['rate']:.0%}) reproduce some member: "
        f"the model falls back on its training images for captions it does not know. Sampling time, fastest of 3: "
        f"CPSample with the learned classifier {tm['learned_ratio']:.2f} times unprotected, with the exact posterior "
        f"{tm['exact_ratio']:.2f} times."
    )


def print_table(record: dict) -> None:
    print(table_markdown(record))
    if "timing" in record:
        print(summary_markdown(record))
    hc, ha = record["heldout_captions"]["own_replicas"], record["heldout_captions"]["any_member_replicas"]
    print(
        f"held-out captions: {hc['k']}/{hc['n']} samples replicate their caption's (held-out) image; {ha['k']}/{ha['n']} reach a member"
    )
    if "timing" in record:
        print("timing:", record["timing"])
    if "chosen" in record:
        print("chosen:", json.dumps(record["chosen"], indent=1))


if __name__ == "__main__":
    main()
