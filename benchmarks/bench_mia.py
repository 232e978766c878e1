"""Membership-inference scoring throughput (images per second), plain and protected denoiser, side by side.

python benchmarks/bench_mia.py [--images 512] [--draws 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._util import machine  # noqa: E402
from cpaudit.auditing.attacks.loss import reconstruction_losses  # noqa: E402
from cpaudit.core.schedules import Schedule  # noqa: E402
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier  # noqa: E402
from cpaudit.models.denoise import PairModel  # noqa: E402
from cpaudit.models.unet import UNet, UNetConfig  # noqa: E402
from cpaudit.sampling.protection import Protection  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--draws", type=int, default=8)
    a = ap.parse_args()
    torch.manual_seed(0)
    net, clf = UNet(UNetConfig()).eval(), TimeClassifier(ClassifierConfig()).eval()
    path = Schedule().path()
    model = PairModel(net, path)
    images = torch.rand(a.images, 1, 8, 8) * 2 - 1
    print(f"machine: {machine()}")
    print(f"{a.images} 8x8 images x {a.draws} noise draws at one t; default architectures")
    rates = {}
    for name, prot in (
        ("plain", None),
        ("protected (gradient every step)", Protection("bench", 0.4, 100.0, guide_when="every-step")),
    ):
        t0 = time.perf_counter()
        reconstruction_losses(model, images, path, 350, a.draws, 0, protection=prot, logit_fn=lambda x, t: clf(x, t))
        rates[name] = a.images / (time.perf_counter() - t0)
    for name, r in rates.items():
        print(f"  {name:34s} {r:9.0f} images/s   ratio {r / rates['plain']:.2f}")


if __name__ == "__main__":
    main()
