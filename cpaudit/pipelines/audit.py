"""`cpaudit audit`: replication search, permutation test, membership attacks, quality, policy gates.

Every figure belongs to a threat model (auditing/attacks/base.py); `release` names what is deployed, and the
gates and the verdict apply to it and to every weaker threat model.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch.nn.functional as F

from cpaudit.auditing.baseline import check_baseline
from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.features import FeatureSpec, parse_features
from cpaudit.auditing.samples import SampleSet, load_samples
from cpaudit.core.threat_models import THREAT_MODELS
from cpaudit.data.imageset import GREY_SPREAD, ImageRows, ImageSet, grey_in_colour, to_uint8
from cpaudit.data.members import resolve_membership
from cpaudit.device import describe, resolve_device
from cpaudit.distributed import world
from cpaudit.errors import InputError
from cpaudit.io_utils import atomic_path, write_bytes, write_json
from cpaudit.pipelines.audit_attacks import attacks_stage
from cpaudit.pipelines.audit_stages import (
    AuditRun,
    Stage,
    described,
    embed_stage,
    extraction_hint,
    member_images_mode,
    model_conditioning_of,
    permutation_stage,
    policy_stage,
    protection_stage,
    quality_stage,
    replication_stage,
    run_stages,
)
from cpaudit.pipelines.audit_text import TEXT_STAGES
from cpaudit.pipelines.report import read_results, render_audit_report
from cpaudit.provenance import provenance
from cpaudit.report.content import SCHEMA_VERSION  # cpaudit/schemas/results.schema.json
from cpaudit.report.junit import junit_xml
from cpaudit.version import __version__


@dataclass
class AuditResult:
    results: dict
    out: Path | None
    passed: bool
    arrays: dict[str, np.ndarray]
    member_ids: list[str] | None = None  # ids of the members, in the order arrays' sample_nn indexes them


Progress = Callable[[str], None]


def _check(opts: AuditOptions) -> None:
    if opts.permutations < 1:
        raise InputError("--permutations", f"must be >= 1, got {opts.permutations}")
    if opts.mia_draws < 1:
        raise InputError("--mia-draws", f"must be >= 1, got {opts.mia_draws}")
    if opts.mia_members < 4:
        raise InputError("--mia-members", f"must be >= 4, got {opts.mia_members}")
    if opts.search not in ("auto", "exact", "ivf"):
        raise InputError("--search", f"must be auto, exact or ivf, got {opts.search!r}")
    if opts.k < 1:
        raise InputError("--k", f"must be >= 1, got {opts.k}")
    if opts.threshold is not None and not -1 <= opts.threshold <= 1:
        raise InputError("--threshold", f"must be a similarity in [-1, 1], got {opts.threshold}")
    if opts.release not in THREAT_MODELS:
        raise InputError("--release", f"must be one of {', '.join(THREAT_MODELS)}, got {opts.release!r}")
    if opts.member_images not in ("auto", "show", "blur", "hide"):
        raise InputError("--member-images", f"must be auto, show, blur or hide, got {opts.member_images!r}")
    if opts.attack_nulls < 19:
        raise InputError("--attack-nulls", f"must be >= 19 (a 95% band needs that many), got {opts.attack_nulls}")
    level = None if opts.report_only else opts.policy.mia_excess_level
    if level and 1 / (opts.attack_nulls + 1) >= level:  # the gate could never fail: it would pass unmeasured
        raise InputError(
            "--attack-nulls",
            f"{opts.attack_nulls} relabellings cannot resolve the membership gate's level "
            f"{level:g} (the smallest p-value is 1/{opts.attack_nulls + 1}): give at least {math.floor(1 / level)}, "
            "a larger --mia-excess-level, or --report-only",
        )


def audit(opts: AuditOptions, progress: Progress | None = None) -> AuditResult:
    """Every stage of the audit (pixel models: PIXEL_STAGES; text-to-image: pipelines/audit_text.py) and,
    unless opts.out is None, results.json, audit_data.npz and the report in opts.out."""
    _check(opts)
    device = resolve_device(opts.device)  # a missing GPU is refused before any work
    spec = parse_features(opts.features)
    threshold = opts.threshold if opts.threshold is not None else spec.default_threshold
    data, split = resolve_membership(
        data=opts.data, split=opts.split, members=opts.members, holdout=opts.holdout, resize=opts.resize
    )
    samples = fit_samples(
        opts.samples if isinstance(opts.samples, SampleSet) else load_samples(opts.samples), data, spec, opts
    )
    _check_run_classifier(opts, samples)
    _check_conditioning(opts, samples)
    baseline = None  # a bad file is refused before the work
    if opts.baseline is not None:
        baseline = check_baseline(read_results(opts.baseline)[0], opts.baseline, spec.label, threshold)
    if len(split.holdout_idx) < 4 or len(split.member_idx) < 4:
        raise InputError(
            opts.split or "--members/--holdout",
            "needs at least 4 members and 4 held-out images (membership attacks split each in two)",
        )
    # Images stay uint8 in `data`; these views convert rows to float a batch at a time.
    members = ImageRows(data, np.asarray(split.member_idx, dtype=np.int64))
    holdout = ImageRows(data, np.asarray(split.holdout_idx, dtype=np.int64))
    _make_cache_dir(opts.cache_dir)
    with tempfile.TemporaryDirectory(prefix="cpaudit-embeddings-", dir=opts.cache_dir) as scratch:
        run = AuditRun(
            opts,
            spec,
            threshold,
            data,
            split,
            samples,
            members,
            holdout,
            Path(scratch),
            device,
            baseline,
            progress or (lambda _msg: None),
        )
        return _audit(run)


def _check_conditioning(opts: AuditOptions, samples: SampleSet) -> None:
    """A text-to-image model needs samples that carry their prompts (class-conditional ones are attacked with each
    candidate's class: pipelines/audit_attacks.py)."""
    kind = model_conditioning_of(opts)
    if kind == "text" and samples.prompts is None:
        raise InputError(
            described(opts.samples),
            "has no prompt for its samples, which the audit of a text-to-image model needs: "
            f"sample with {extraction_hint(opts)} (run.json records each seed's prompt), or give a metadata.jsonl",
        )
    if opts.prompts is not None and (samples.prompts is None or kind != "text"):
        raise InputError(
            "--prompts",
            "the memorisation detector queries a text-to-image model: give --model PIPELINE and "
            "samples with their prompts",
        )


def _make_cache_dir(cache_dir: Path | None) -> None:
    if cache_dir is None:
        return
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(cache_dir, f"cannot create the cache folder ({e.strerror})") from None


PIXEL_STAGES: tuple[Stage, ...] = (
    embed_stage,
    replication_stage,
    permutation_stage,
    quality_stage,
    attacks_stage,
    protection_stage,
    policy_stage,
)


def _audit(run: AuditRun) -> AuditResult:
    stages = TEXT_STAGES if run.samples.prompts is not None else PIXEL_STAGES
    sections = run_stages(run, (*stages, setup_stage))
    results = {
        "schema_version": SCHEMA_VERSION,
        "cpaudit_version": __version__,
        "provenance": provenance(run.device),
        **sections,
    }
    passed = results["policy"]["passed"]
    member_ids = [run.data.ids[int(i)] for i in run.split.member_idx]
    out = None if run.opts.out is None else Path(run.opts.out)
    if out is not None and world().is_main:  # a folder (not the Python API's None), and rank 0 under torchrun
        write_outputs(run, results, out)
    return AuditResult(results, out, passed, run.arrays, member_ids)


def write_outputs(run: AuditRun, results: dict, out: Path) -> None:
    """audit_data.npz, results.json, the JUnit file if asked, and the report."""
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "audit_data.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **run.arrays)
    write_json(out / "results.json", results)
    if run.opts.junit is not None:
        write_bytes(run.opts.junit, junit_xml(results).encode())
    run.step("report")
    render_audit_report(results, run.arrays, out)


def setup_stage(run: AuditRun, _sections: dict) -> dict:
    """`setup`: what was audited, against what, with which options (written first, built last: the attack
    stage names the model's config and the classifier it attacked)."""
    opts, data, split = run.opts, run.data, run.split
    return {
        "setup": {
            "samples": described(opts.samples),
            "data": data.source,
            "data_fingerprint": data.fingerprint(),
            "split": None if opts.split is None else str(opts.split),
            "members": None if opts.members is None else described(opts.members),
            "holdout": None if opts.holdout is None else described(opts.holdout),
            "resize": None if opts.resize is None else list(opts.resize),
            "n_members": int(len(split.member_idx)),
            "n_holdout": int(len(split.holdout_idx)),
            "image_shape": list(data.shape),
            "model": None if opts.model is None else str(opts.model),
            "model_config": run.model_config,
            "classifier": run.classifier,
            "classifier_from_run_json": run.classifier is not None and opts.classifier is None,
            "features": run.spec.label,
            "features_pretrained": run.spec.pretrained,
            "member_images": member_images_mode(run),
            "seed": opts.seed,
            "device": describe(run.device),
            "options": {
                "report_only": opts.report_only,
                "search": opts.search,
                "k": opts.k,
                "permutations": opts.permutations,
                "mia_t": list(opts.mia_t),
                "mia_draws": opts.mia_draws,
                "mia_members": opts.mia_members,
                "mia_holdout": opts.mia_holdout,
                "alpha": opts.alpha,
                "scale": opts.scale,
                "release": opts.release,
                "attack_nulls": opts.attack_nulls,
                "baseline": None if opts.baseline is None else str(opts.baseline),
            },
            "sample_run": run.samples.run and {k: v for k, v in run.samples.run.items() if k != "fired_steps"},
        }
    }


def fit_samples(samples: SampleSet, data: ImageSet, spec: FeatureSpec, opts: AuditOptions) -> SampleSet:
    """Samples at the data's size: as they are; resized under --resize; or, where a network embedding
    resizes every image to its own input anyway, as they are. Pixel correlation needs one size."""
    samples = _same_channels_as(samples, data.shape[0], opts)
    got, want = tuple(samples.images.shape[1:]), data.shape
    if got == want:
        return samples
    if opts.resize is not None:
        x = F.interpolate(samples.images, size=want[1:], mode="bicubic", antialias=True, align_corners=False)
        return SampleSet(x.clamp(-1, 1), samples.run, samples.folder, samples.prompts)
    if spec.kind != "pixel":
        return samples
    raise InputError(
        opts.samples,
        f"samples are {got[1]}x{got[2]} but the images are {want[1]}x{want[2]}: pass "
        f"--resize {got[1]}x{got[2]} to read the images at the samples' size, or a network embedding "
        "(--features), which resizes both",
    )


def _same_channels_as(samples: SampleSet, channels: int, opts: AuditOptions) -> SampleSet:
    """Grey samples against colour images become RGB; colour samples that are grey in content (R = G = B, as
    PNGs or WebPs of grey images may be saved) against grey images are read as grey, and a line says so."""
    x = samples.images
    if x.shape[1] == channels:
        return samples
    if x.shape[1] == 1 and channels == 3:
        return SampleSet(x.expand(-1, 3, -1, -1).contiguous(), samples.run, samples.folder, samples.prompts)
    if x.shape[1] == 3 and channels == 1 and grey_in_colour(to_uint8(x)):
        warnings.warn(
            f"{described(opts.samples)}: read the samples as grey (their three channels are equal to within "
            f"{GREY_SPREAD} levels), as the images are",
            stacklevel=3,
        )
        return SampleSet(x.mean(dim=1, keepdim=True), samples.run, samples.folder, samples.prompts)
    raise InputError(described(opts.samples), f"samples have {x.shape[1]} channel(s) but the images have {channels}")


def _check_run_classifier(opts: AuditOptions, samples: SampleSet) -> None:
    """A protected run's classifier must exist where its run.json says, or the protected sampler, the one
    deployed, would silently go unattacked."""
    named = ((samples.run or {}).get("protection") or {}).get("classifier")
    if opts.model is None or opts.classifier is not None or not named or named == "exact":
        return
    if not Path(named).is_dir():
        raise InputError(
            Path(opts.samples) / "run.json",
            f"names the classifier folder {named}, which does not exist: "
            "give --classifier DIR (or 'exact'); without it the protected sampler cannot be attacked",
        )
