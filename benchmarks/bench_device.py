"""Sampling and classifier training for a 32x32 RGB model on each device, measured side by side in one run.

    python benchmarks/bench_device.py [--devices cpu,cuda] [--n 256] [--steps 50] [--train-steps 200]
                                      [--batch-size 256] [--train-batch 128] [--repeats 3]

The model is a CIFAR-sized DDPM UNet (3x32x32, width 64, channel_mult 1,2,2, two res blocks, attention at
16x16: 4.3M parameters) and CPSample's random-label classifier (width 64, channel_mult 1,2,2; 1.7M); weights are
random, since time does not depend on them. Timed, through the library functions the commands call:
- sampling: `sample_batch` over --n seeds in batches of --batch-size, --steps DDIM steps, unprotected and
  with CPSample guidance on every step (a classifier forward and backward pass per step: the worst case);
- classifier training: `train_random_label_classifier` for --train-steps steps at batch --train-batch on
  256 members (its final accuracy check included, as in `cpaudit train-classifier`).
The default devices are the CPU and, where CUDA has one, the GPU; the GPU/CPU ratio is printed when both run.
On the CPU the defaults take minutes; --n 64 --steps 20 --train-steps 50 gives a quicker figure (rates are
per sample-step and per training step, so they compare across settings).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._util import machine  # noqa: E402
from cpaudit.core.schedules import Schedule  # noqa: E402
from cpaudit.device import describe, resolve_device  # noqa: E402
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier  # noqa: E402
from cpaudit.models.denoise import PairModel  # noqa: E402
from cpaudit.models.unet import UNet, UNetConfig  # noqa: E402
from cpaudit.sampling.protection import Protection  # noqa: E402
from cpaudit.sampling.sampler import SamplerConfig, sample_batch  # noqa: E402
from cpaudit.train.classifier import ClassifierTrainConfig, train_random_label_classifier  # noqa: E402

UNET = UNetConfig(
    in_channels=3,
    image_size=32,
    base_channels=64,
    channel_mult=(1, 2, 2),
    num_res_blocks=2,
    attention_resolutions=(16,),
)
CLASSIFIER = ClassifierConfig(in_channels=3, image_size=32, base_channels=64, channel_mult=(1, 2, 2), num_res_blocks=2)
MEMBERS = 256


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Fastest of `repeats` runs in seconds; on a GPU after one warm-up run (kernel selection, allocator)."""
    if device.type == "cuda":
        fn()
        _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def bench(device: torch.device, a: argparse.Namespace) -> dict[str, float]:
    torch.manual_seed(0)
    unet = UNet(UNET).eval().requires_grad_(False).to(device)
    clf = TimeClassifier(CLASSIFIER).eval().requires_grad_(False).to(device)
    path = Schedule().path()
    denoise = PairModel(unet, path)
    cfg = SamplerConfig(steps=a.steps)
    shape = (3, 32, 32)

    def draw(protection: Protection | None) -> None:
        for start in range(0, a.n, a.batch_size):  # batches as `cpaudit sample` draws them
            seeds = list(range(start, min(a.n, start + a.batch_size)))
            sample_batch(
                denoise, path, shape, seeds, cfg, protection=protection, logit_fn=lambda x, t: clf(x, t), device=device
            )

    members = torch.rand((MEMBERS, *shape), generator=torch.Generator().manual_seed(1)) * 2 - 1
    labels = torch.randint(2, (MEMBERS,), generator=torch.Generator().manual_seed(2))
    train_cfg = ClassifierTrainConfig(steps=a.train_steps, batch_size=a.train_batch, eval_every=10**9, eval_draws=1)

    def train() -> None:
        torch.manual_seed(3)
        model = TimeClassifier(CLASSIFIER)
        train_random_label_classifier(
            model, members, labels, Schedule(), train_cfg, torch.Generator().manual_seed(4), 5, device=device
        )

    return {
        "sample": timed(lambda: draw(None), device, a.repeats),
        "sample_protected": timed(
            lambda: draw(Protection("bench", 0.4, 100.0, guide_when="every-step")), device, a.repeats
        ),
        "train": timed(train, device, a.repeats),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--train-steps", type=int, default=200)
    ap.add_argument("--train-batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    devices = [resolve_device(d) for d in a.devices.split(",")]
    print(f"machine: {machine()}")
    print(
        f"UNet {sum(p.numel() for p in UNet(UNET).parameters()):,} parameters, classifier "
        f"{sum(p.numel() for p in TimeClassifier(CLASSIFIER).parameters()):,}; {a.n} samples x {a.steps} DDIM steps "
        f"(batch {a.batch_size}); {a.train_steps} classifier steps at batch {a.train_batch}; best of {a.repeats}"
    )
    results = {}
    for device in devices:
        r = results[str(device)] = bench(device, a)
        sample_steps = a.n * a.steps
        print(f"{describe(device)}:")
        print(
            f"  sampling, unprotected:          {r['sample']:8.2f} s  ({sample_steps / r['sample']:9.0f} sample-steps/s)"
        )
        print(
            f"  sampling, guidance every step:  {r['sample_protected']:8.2f} s  "
            f"({sample_steps / r['sample_protected']:9.0f} sample-steps/s, {r['sample_protected'] / r['sample']:.2f}x unprotected)"
        )
        print(f"  classifier training:            {r['train']:8.2f} s  ({a.train_steps / r['train']:9.1f} steps/s)")
    if len(results) > 1:
        (cpu_key, cpu), *others = results.items()
        for key, r in others:
            print(
                f"speed-up of {key} over {cpu_key}: sampling {cpu['sample'] / r['sample']:.1f}x, protected sampling "
                f"{cpu['sample_protected'] / r['sample_protected']:.1f}x, classifier training {cpu['train'] / r['train']:.1f}x"
            )


if __name__ == "__main__":
    main()
