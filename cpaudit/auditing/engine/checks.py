"""What the audit refuses before it works: option values out of range, and inputs that do not fit together (samples
without prompts for a text-to-image model, a protected run whose classifier is gone, too few images). Each refusal
is one InputError naming the option or the file, raised before any embedding is computed."""

from __future__ import annotations

import math
from pathlib import Path

from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.engine.stages import described, extraction_hint, model_conditioning_of
from cpaudit.auditing.samples import SampleSet
from cpaudit.core.threat_models import THREAT_MODELS
from cpaudit.data.split import Split
from cpaudit.errors import InputError


def check_options(opts: AuditOptions) -> None:
    """Every option's value in its range, before any file is read."""
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
    _check_attack_nulls(opts)


def _check_attack_nulls(opts: AuditOptions) -> None:
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


def check_run_classifier(opts: AuditOptions, samples: SampleSet) -> None:
    """A protected run's classifier must exist where its run.json says, or the protected sampler, the one
    deployed, would silently go unattacked."""
    named = ((samples.run or {}).get("protection") or {}).get("classifier")
    if opts.model is None or opts.classifier is not None or not named or named == "exact":
        return
    if not Path(named).is_dir():
        raise InputError(
            samples.folder / "run.json",
            f"names the classifier folder {named}, which does not exist: "
            "give --classifier DIR (or 'exact'); without it the protected sampler cannot be attacked",
        )


def check_conditioning(opts: AuditOptions, samples: SampleSet) -> None:
    """A text-to-image model needs samples that carry their prompts (class-conditional ones are attacked with each
    candidate's class: auditing/engine/attacks_stage.py)."""
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


def check_split_sizes(opts: AuditOptions, split: Split) -> None:
    """Membership attacks split members and held-out images in two each: at least 4 of each."""
    if len(split.holdout_idx) < 4 or len(split.member_idx) < 4:
        raise InputError(
            opts.split or "--members/--holdout",
            "needs at least 4 members and 4 held-out images (membership attacks split each in two)",
        )


def make_cache_dir(cache_dir: Path | None) -> None:
    if cache_dir is None:
        return
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(cache_dir, f"cannot create the cache folder ({e.strerror})") from None
