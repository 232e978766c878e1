"""Protected vs unprotected sampling wall time at equal steps, measured side by side in one run.

    python benchmarks/bench_sampling.py [--model DIR --classifier DIR] [--n 256] [--steps 50]

With a trained model and classifier it times the defaults of both classifier kinds (guidance where
confident): the learned classifier and the exact posterior over the model's members. It always also
times the worst case, guidance on every step (a gradient pass at every step), so the ratio has an upper
bound even without trained weights. With a learned classifier it also times the cost cuts of issue 39: the
confidence pass every k-th step (Protection.check_every 2, 3, 5) and a t window above which the demo's
classifier never fired (t <= 750; benchmarks/cpsample_firing.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._util import best_of, machine  # noqa: E402
from cpaudit.core.schedules import Schedule  # noqa: E402
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier  # noqa: E402
from cpaudit.models.denoise import PairModel  # noqa: E402
from cpaudit.models.load import load_classifier, load_model  # noqa: E402
from cpaudit.models.unet import UNet, UNetConfig  # noqa: E402
from cpaudit.sampling.guides import resolve_logit_fn  # noqa: E402
from cpaudit.sampling.protection import Protection  # noqa: E402
from cpaudit.sampling.sampler import SamplerConfig, sample_batch  # noqa: E402


def _runner(run, protection: Protection):
    """A run of one protection, bound now (a lambda in a loop would bind the last one)."""
    return lambda: run(protection)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--classifier", type=Path)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=256, help="as `cpaudit sample --batch-size` (default 256)")
    a = ap.parse_args()
    exact_fn = None
    if a.model and a.classifier:
        loaded = load_model(a.model)
        model, shape, path = loaded.denoiser, loaded.image_shape, loaded.path
        clf = load_classifier(a.classifier).model
        exact_fn, _ = resolve_logit_fn(loaded, "exact")
        source = f"trained model {a.model}, classifier {a.classifier}"
    else:
        torch.manual_seed(0)
        net, clf = UNet(UNetConfig()).eval(), TimeClassifier(ClassifierConfig()).eval()
        shape, path = (1, 8, 8), Schedule().path()
        model = PairModel(net, path)
        source = "default architectures, random weights"
    cfg = SamplerConfig(steps=a.steps)
    logit_fn = lambda x, t: clf(x, t)  # noqa: E731

    def run(protection: Protection | None, fn=None) -> None:
        for start in range(0, a.n, a.batch_size):  # batches as the sample command draws them
            seeds = list(range(start, min(a.n, start + a.batch_size)))
            sample_batch(model, path, shape, seeds, cfg, protection=protection, logit_fn=fn or logit_fn)

    runs = {
        "unprotected": lambda: run(None),
        "protected, every step (worst case)": lambda: run(Protection("bench", 0.4, 100.0, guide_when="every-step")),
    }
    if a.model and a.classifier:
        learned, exact = Protection("bench"), Protection("exact")
        runs[f"learned classifier, default (alpha {learned.alpha:g}, scale {learned.scale:g})"] = lambda: run(learned)
        one = Protection("bench", passes=1)
        runs["learned classifier, default, one pass (forward with gradients, backward where confident)"] = lambda: run(
            one
        )
        for k in (2, 3, 5):
            runs[f"learned classifier, default, confidence every {k} steps"] = _runner(
                run, Protection("bench", check_every=k)
            )
        runs["learned classifier, default, t <= 750 (never fired above)"] = _runner(run, Protection("bench", t_max=750))
        runs[f"exact posterior, default (alpha {exact.alpha:g}, scale {exact.scale:g})"] = lambda: run(exact, exact_fn)
    print(f"machine: {machine()}")
    print(
        f"{source}; {a.n} samples in batches of {a.batch_size}, {a.steps} DDIM steps, best of {a.repeats} interleaved rounds"
    )
    times: dict[str, float] = {}
    for _ in range(a.repeats):  # interleaved rounds: a warm-up or a slow spell hits every run alike
        for name, fn in runs.items():
            times[name] = min(times.get(name, float("inf")), best_of(fn, 1))
    base = times["unprotected"]
    for name, t in times.items():
        print(f"  {name:60s} {t:7.2f} s   ratio {t / base:5.2f}")
    print(f"load average at the end (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
