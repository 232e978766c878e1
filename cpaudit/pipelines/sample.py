"""`cpaudit sample`: draw images from a model, optionally with CPSample protection."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cpaudit.auditing.extraction import caption_units
from cpaudit.data.imageio import save_png, save_samples_npz
from cpaudit.data.imageset import to_uint8
from cpaudit.data.members import Membership, MemberSource, membership_names, model_members
from cpaudit.device import describe, resolve_device
from cpaudit.distributed import gather_rows, world
from cpaudit.errors import InputError
from cpaudit.io_utils import write_json
from cpaudit.models.load import LoadedModel, load_model
from cpaudit.provenance import provenance
from cpaudit.sampling.amg import amg_for_model
from cpaudit.sampling.conditions import Conditions, resolve_conditions
from cpaudit.sampling.draw import draw_run
from cpaudit.sampling.guides import resolve_logit_fn
from cpaudit.sampling.protection import LogitFn, Protection
from cpaudit.sampling.repulsion import Repulsion, repulsion_guide
from cpaudit.sampling.sampler import SamplerConfig
from cpaudit.seeding import MAX_SEED, derive_seed, numpy_generator
from cpaudit.version import __version__


@dataclass(frozen=True)
class SampleOptions:
    model: Path
    out: Path
    n: int = 256
    seed: int = 0  # sample i uses seed + i
    batch_size: int = 256  # small images: large batches amortise per-op overhead (benchmarks/RESULTS.md)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    protection: Protection | None = None
    repulsion: Repulsion | None = None  # nearest-member repulsion, alone or after CPSample (sampling/repulsion.py)
    label_seed: int | None = None  # for --classifier exact; default: the labels train-classifier would draw
    # Which images the model was trained on, where the user says (--split, or --members/--holdout): the exact
    # posterior's members (a model trained elsewhere records none), and what a learned classifier is checked against.
    membership: MemberSource = field(default_factory=MemberSource)
    conditions: Conditions = field(default_factory=Conditions)  # prompts or classes, one per sample
    lora: Path | None = None  # a LoRA file beside a Stable Diffusion pipeline folder
    scheduler: str = "cpaudit"  # or "native": the pipeline folder's own scheduler (sampling/native.py)
    write_png: bool = True
    device: str = "auto"  # see device.py


@dataclass
class SampleResult:
    out: Path | None  # None: the Python API drew into a scratch folder (cpaudit.sample without out=)
    images: np.ndarray  # uint8 (N, H, W, C) of the finite samples
    seeds: np.ndarray
    fired: np.ndarray  # per finite sample, steps where guidance fired
    fired_fraction: float
    nonfinite_seeds: list[int]
    seconds: float
    run: dict


def draw_samples(
    model: LoadedModel,
    opts: SampleOptions,
    on_step: Callable[[], None] | None = None,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
    """Sample opts.n images in batches; returns (images, fired, finite, guide info).

    Under torchrun each rank draws a contiguous block of the seeds and the blocks are gathered in order;
    an image depends on its seed alone, so the result is the one-process result.
    """
    w = world()
    device = device or resolve_device(opts.device)
    seeds = [opts.seed + i for i in range(opts.n)][w.shard(opts.n)]
    logit_fn: LogitFn | None = None
    info: dict = {}
    if opts.protection is not None and not opts.protection.inactive:
        logit_fn, info = resolve_logit_fn(model, opts.protection.classifier, opts.label_seed, device, opts.membership)
    model.to(device)
    guide = None if opts.repulsion is None else repulsion_guide(model, opts.repulsion, opts.membership, device)
    positions = list(range(opts.n))[w.shard(opts.n)]
    b = draw_run(
        model,
        seeds,
        opts.sampler,
        conditions=opts.conditions,
        positions=positions,
        batch_size=opts.batch_size,
        protection=opts.protection,
        logit_fn=logit_fn,
        guide=guide,
        on_step=on_step,
        device=device,
        scheduler=opts.scheduler,
    )
    return gather_rows(b.images, w), gather_rows(b.fired, w), gather_rows(b.finite, w), info


def extraction_prompts(model: Path, membership: Membership = None, per_caption: int = 4, seed: int = 0) -> list[str]:
    """The prompts of a prompted-extraction audit: every member's caption and as many held-out images' captions
    (a seeded choice where there are more), each `per_caption` times in a row. Membership is the user's
    (`membership`: a MemberSource, a split.json's path, or images and split loaded), else the split.json that
    `train-diffusion --text` wrote into the model folder (data/members.py, model_members)."""
    if not Path(model).is_dir():
        raise InputError(model, "model folder not found")
    data, sp = model_members(Path(model), None, membership)
    if data.captions is None:
        where = membership_names(membership, Path(model) / "split.json")
        raise InputError(where, f"names data without captions ({data.source}); --extraction prompts with captions")
    # The caption is the unit (auditing/extraction.py, caption_units): a repeated caption is prompted once, so it
    # gets one set of per_caption seeds; a caption on both sides is no unit and is not prompted.
    m, h_units, _ = caption_units([data.captions[i] for i in sp.member_idx], [data.captions[i] for i in sp.holdout_idx])
    first = sp.holdout_idx[[im[0] for im in h_units.images]]  # each held-out caption by its first image
    rng = numpy_generator(derive_seed(seed, "extraction-holdout"))
    h = first if len(first) <= len(m.captions) else np.sort(rng.choice(first, len(m.captions), replace=False))
    captions = m.captions + [data.captions[i] for i in h]
    return [c for c in captions for _ in range(per_caption)]


def check_sample_options(opts: SampleOptions) -> None:
    if opts.n < 1:
        raise InputError("--n", f"must be >= 1, got {opts.n}")
    if opts.scheduler not in ("cpaudit", "native"):
        raise InputError("--scheduler", f"must be cpaudit or native, got {opts.scheduler!r}")
    if opts.batch_size < 1:
        raise InputError("--batch-size", f"must be >= 1, got {opts.batch_size}")
    for flag, given in (("--cfg-schedule", opts.conditions.cfg_schedule), ("--amg", opts.conditions.amg)):
        if given is not None and opts.scheduler == "native":
            raise InputError(flag, "runs with --scheduler cpaudit only")
    if not 0 <= opts.seed <= MAX_SEED - opts.n:
        raise InputError("--seed", f"must be in [0, 2^63 - 1 - n], got {opts.seed}")


def in_model_space(opts: SampleOptions, model: LoadedModel) -> SampleOptions:
    """The options checked against the loaded model: its conditions resolved (a class model's classes, a text
    model's default guidance), the protection's unset settings at that model kind's defaults."""
    conditions = resolve_conditions(model, opts.conditions)
    if not 1 <= opts.sampler.steps <= model.schedule.T:
        raise InputError("--steps", f"must be in [1, {model.schedule.T}], got {opts.sampler.steps}")
    flow = model.prediction == "flow"
    protection = None if opts.protection is None else opts.protection.in_space(model.codec.latent, flow)
    return replace(opts, conditions=conditions, protection=protection)


def with_amg_hook(model: LoadedModel, opts: SampleOptions, device: torch.device) -> SampleOptions:
    """AMG's members loaded once for the run (sampling/amg.py), where the options ask for it."""
    c = opts.conditions
    if c.amg is None or c.amg_hook is not None:
        return opts
    hook = amg_for_model(model, c.amg, opts.membership, device)
    return replace(opts, conditions=replace(c, amg_hook=hook))


def sample(opts: SampleOptions, on_step: Callable[[], None] | None = None) -> SampleResult:
    """Draw opts.n samples; rank 0 writes the PNGs, samples.npz and run.json (run_record)."""
    check_sample_options(opts)
    device = resolve_device(opts.device)
    model = load_model(opts.model, opts.lora)
    opts = with_amg_hook(model, in_model_space(opts, model), device)
    t0 = time.perf_counter()
    images, fired, finite, info = draw_samples(model, opts, on_step, device)
    seconds = time.perf_counter() - t0

    seeds = np.arange(opts.seed, opts.seed + opts.n, dtype=np.int64)
    ok = finite.numpy()
    u8 = to_uint8(images[finite])
    out = Path(opts.out)
    fired_np = fired.numpy()
    fired_fraction = float(fired_np.sum() / (opts.n * opts.sampler.steps))
    nonfinite = [int(s) for s in seeds[~ok]]
    if not world().is_main:  # rank 0 writes what every rank gathered
        return SampleResult(out, u8, seeds[ok], fired_np[ok], fired_fraction, nonfinite, seconds, {})
    out.mkdir(parents=True, exist_ok=True)
    if opts.write_png:
        for img, s in zip(u8, seeds[ok]):
            save_png(out / f"{s:06d}.png", img)
    save_samples_npz(out / "samples.npz", u8, seeds[ok])
    run = run_record(opts, model, device, seeds, fired_np, info)
    run.update({"nonfinite_seeds": nonfinite, "seconds": round(seconds, 3)})
    write_json(out / "run.json", run)
    return SampleResult(out, u8, seeds[ok], fired_np[ok], fired_fraction, nonfinite, seconds, run)


def run_record(
    opts: SampleOptions, model: LoadedModel, device: torch.device, seeds: np.ndarray, fired: np.ndarray, info: dict
) -> dict:
    """run.json: what was drawn, from which model, how, and where guidance fired (the audit replays it)."""
    return {
        "kind": "cpaudit-samples",
        "cpaudit_version": __version__,
        "model": str(opts.model),
        "model_fingerprint": model.data_fingerprint,
        "model_format": model.config.get("format", "cpaudit"),
        "image_shape": list(model.image_shape),
        "conditioning": model.conditioning,
        "conditions": opts.conditions.record([int(s) for s in seeds]),
        "lora": None if opts.lora is None else str(opts.lora),
        "n": opts.n,
        "seed": opts.seed,
        "seed_range": [int(opts.seed), int(opts.seed + opts.n - 1)],  # samples.npz's "seeds" lists each
        "batch_size": opts.batch_size,
        "world_size": world().size,
        "device": describe(device),
        "provenance": provenance(device),
        "sampler": sampler_record(opts, model),
        "protection": None if opts.protection is None else {**opts.protection.to_dict(), **info},
        **({"repulsion": opts.repulsion.to_dict()} if opts.repulsion is not None else {}),
        "fired_steps": {str(int(s)): int(f) for s, f in zip(seeds, fired)},
        "fired_fraction": float(fired.sum() / (opts.n * opts.sampler.steps)),
        "samples_with_guidance": int((fired > 0).sum()),
    }


def sampler_record(opts: SampleOptions, model: LoadedModel) -> dict:
    """run.json's sampler: steps, method, eta, clipping, and the timesteps visited where they are not cpaudit's."""
    return {
        "steps": opts.sampler.steps,
        "method": opts.sampler.method,
        "eta": opts.sampler.eta,
        "clip": opts.sampler.clip and not model.codec.latent,  # latent samplers never clip (sampling/draw.py)
        **(
            {"scheduler": model.config["scheduler"]["_class_name"]}
            if opts.scheduler == "native"
            else {"spacing": model.spacing.to_dict()}
            if model.spacing.kind != "cpaudit"
            else {}
        ),
    }
