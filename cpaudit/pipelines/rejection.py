"""Rejection-sampling baseline as a pipeline: a samples folder of N non-replicas, with its extra cost."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cpaudit.data.imageio import save_samples_npz
from cpaudit.data.imageset import to_uint8, to_unit_range
from cpaudit.data.members import data_and_split_of
from cpaudit.device import describe, resolve_device
from cpaudit.io_utils import write_json
from cpaudit.models.load import load_model, require_pixel_unconditional
from cpaudit.provenance import provenance
from cpaudit.sampling.rejection import reject_replicas
from cpaudit.sampling.sampler import SamplerConfig, sample_batch
from cpaudit.similarity.pixel import PIXEL_REPLICA_THRESHOLD
from cpaudit.version import __version__


@dataclass(frozen=True)
class RejectionOptions:
    model: Path
    out: Path
    n: int = 256
    seed: int = 0
    threshold: float = PIXEL_REPLICA_THRESHOLD
    batch_size: int = 256  # small images: large batches amortise per-op overhead (benchmarks/RESULTS.md)
    sampler: SamplerConfig = SamplerConfig()
    device: str = "auto"  # see device.py


def rejection_sample(opts: RejectionOptions) -> dict:
    device = resolve_device(opts.device)
    model = load_model(opts.model)
    require_pixel_unconditional(model, "rejection sampling from the command line")
    data, split = data_and_split_of(model.folder, model.config)
    model.to(device)
    denoise = model.pair_fn()

    def draw(seeds: list[int]) -> torch.Tensor:
        parts = [
            sample_batch(
                denoise, model.path, model.image_shape, seeds[i : i + opts.batch_size], opts.sampler, device=device
            ).images
            for i in range(0, len(seeds), opts.batch_size)
        ]
        # Judge the images as they will be written (uint8), so the audit sees exactly what was kept.
        return to_unit_range(to_uint8(torch.cat(parts)))

    t0 = time.perf_counter()
    res = reject_replicas(draw, data.take(split.member_idx), opts.n, opts.seed, threshold=opts.threshold)
    seconds = time.perf_counter() - t0
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    save_samples_npz(out / "samples.npz", to_uint8(res.images), np.array(res.seeds))
    run = {
        "kind": "cpaudit-samples",
        "cpaudit_version": __version__,
        "provenance": provenance(device),
        "model": str(opts.model),
        "n": opts.n,
        "seed": opts.seed,
        "image_shape": list(model.image_shape),
        "sampler": {"steps": opts.sampler.steps, "method": opts.sampler.method, "eta": opts.sampler.eta},
        "protection": None,
        "rejection": {
            "threshold": opts.threshold,
            "features": "pixel",
            "drawn": res.drawn,
            "extra_samples": res.extra,
            "rejected": len(res.rejected_seeds),
            "extra_cost": res.extra / opts.n,
        },
        "fired_fraction": 0.0,
        "nonfinite_seeds": [],
        "device": describe(device),
        "seconds": round(seconds, 3),
    }
    write_json(out / "run.json", run)
    return run
