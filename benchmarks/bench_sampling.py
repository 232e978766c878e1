"""Protected vs unprotected sampling wall time at equal steps, measured side by side in one run.

    python benchmarks/bench_sampling.py [--model DIR --classifier DIR] [--n 256] [--steps 50]

With a trained model and classifier it times the default protection (guidance where confident). It
always also times the worst case, guidance on every step (a gradient pass at every step), so the
ratio has an upper bound even without trained weights.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._util import best_of, machine  # noqa: E402
from cpaudit.core.schedules import Schedule  # noqa: E402
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier  # noqa: E402
from cpaudit.models.load import load_classifier, load_model  # noqa: E402
from cpaudit.models.unet import UNet, UNetConfig  # noqa: E402
from cpaudit.sampling.protection import Protection  # noqa: E402
from cpaudit.sampling.sampler import SamplerConfig, sample_batch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--classifier", type=Path)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.model and a.classifier:
        model, shape, abar = load_model(a.model).model, load_model(a.model).image_shape, load_model(a.model).schedule.alphas_cumprod()
        clf = load_classifier(a.classifier).model
        source = f"trained model {a.model}, classifier {a.classifier}"
    else:
        torch.manual_seed(0)
        model, clf = UNet(UNetConfig()).eval(), TimeClassifier(ClassifierConfig()).eval()
        shape, abar = (1, 8, 8), Schedule().alphas_cumprod()
        source = "default architectures, random weights"
    seeds = list(range(a.n))
    cfg = SamplerConfig(steps=a.steps)
    logit_fn = lambda x, t: clf(x, t)  # noqa: E731
    runs = {
        "unprotected": lambda: sample_batch(model, abar, shape, seeds, cfg),
        "protected, every step (worst case)": lambda: sample_batch(
            model, abar, shape, seeds, cfg, protection=Protection("bench", 0.4, 100.0, guide="every-step"), logit_fn=logit_fn),
    }
    if a.model and a.classifier:
        runs["protected, default (alpha 0.4, scale 100)"] = lambda: sample_batch(
            model, abar, shape, seeds, cfg, protection=Protection("bench", 0.4, 100.0), logit_fn=logit_fn)
    print(f"machine: {machine()}")
    print(f"{source}; {a.n} samples, {a.steps} DDIM steps, best of {a.repeats}")
    times = {}
    for name, fn in runs.items():  # interleaved order would be fairer; repeats already take the minimum
        times[name] = best_of(fn, a.repeats)
    base = times["unprotected"]
    for name, t in times.items():
        print(f"  {name:45s} {t:7.2f} s   ratio {t / base:5.2f}")


if __name__ == "__main__":
    main()
