"""CPSample's time on the text demo's model (issue 39): where in t the learned latent classifier fires, and the
protected / unprotected sampling time, fastest of `--repeats` interleaved rounds, at its defaults and with the
guidance window cut to where it fired (plus a margin of one step), which changes no sample by construction
where it never fired.

    python -m benchmarks.cpsample_time_text [--model DIR --classifier DIR] [--n 32] [--out JSON]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks._util import machine
from benchmarks.cpsample_firing import recording_guide
from cpaudit.models.load import load_model
from cpaudit.pipelines.sample import extraction_prompts
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.draw import draw_run
from cpaudit.sampling.guides import resolve_logit_fn
from cpaudit.sampling.protection import Protection, protection_guide
from cpaudit.sampling.sampler import SamplerConfig

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "reports" / "demo-text" / "runs"


def firing_profile(model, logit_fn, p: Protection, seeds: list[int], conditions: Conditions) -> list[dict]:
    """Per step, in sampling order: t and the share of samples the guidance fired on."""
    rows: list[dict] = []
    guide = recording_guide(protection_guide(logit_fn, p), rows)
    draw_run(model, seeds, SamplerConfig(), conditions=conditions, guide=guide)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=DEMO / "model")
    ap.add_argument("--classifier", type=Path, default=DEMO / "classifier")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cpsample_time_text.json")
    a = ap.parse_args()
    model = load_model(a.model)
    prompts = extraction_prompts(a.model, per_caption=1)[: a.n]
    conditions = Conditions(tuple(prompts), 7.5)
    seeds = list(range(5_000_000, 5_000_000 + a.n))
    logit_fn, _ = resolve_logit_fn(model, str(a.classifier))
    default = Protection(str(a.classifier)).in_space(latent=True)
    profile = firing_profile(model, logit_fn, default, seeds, conditions)
    fired_ts = [r["t"] for r in profile if r["fired_fraction"] > 0]
    step_gap = profile[0]["t"] - profile[1]["t"]
    t_max = (max(fired_ts) + step_gap) if fired_ts else 0
    runs = {"unprotected": None, "learned default": default, f"learned, t <= {t_max}": replace(default, t_max=t_max)}
    best = {k: float("inf") for k in runs}
    images = {}
    for _ in range(a.repeats):
        for name, p in runs.items():
            t0 = time.perf_counter()
            b = draw_run(model, seeds, SamplerConfig(), conditions=conditions, protection=p, logit_fn=logit_fn)
            best[name] = min(best[name], time.perf_counter() - t0)
            images[name] = b.images
    same = bool(torch.equal(images["learned default"], images[f"learned, t <= {t_max}"]))
    ratios = {k: round(v / best["unprotected"], 3) for k, v in best.items()}
    for k in runs:
        print(f"{k:24s} {best[k]:7.2f} s  {ratios[k]:.2f}x")
    print(f"window samples identical to the default's: {same}; fired at t <= {max(fired_ts, default=None)}")
    record = {
        "model": str(a.model.relative_to(ROOT) if a.model.is_relative_to(ROOT) else a.model),
        "n_samples": a.n,
        "steps": 50,
        "guidance_scale": 7.5,
        "seconds_fastest": {k: round(v, 3) for k, v in best.items()},
        "ratio_to_unprotected": ratios,
        "window_identical_samples": same,
        "per_step": profile,
        "machine": machine(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    a.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
