"""The audit itself: from options and inputs already read (samples, images, split, a baseline results.json) to
results.json's sections and the arrays of audit_data.npz. Nothing here reads an input or writes an output;
pipelines/audit.py does both around `run_audit`.

Every figure belongs to a threat model (auditing/attacks/base.py); `release` names what is deployed, and the
gates and the verdict apply to it and to every weaker threat model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cpaudit.auditing.baseline import check_baseline
from cpaudit.auditing.engine.attacks_stage import attacks_stage
from cpaudit.auditing.engine.checks import (
    check_conditioning,
    check_options,
    check_run_classifier,
    check_split_sizes,
    make_cache_dir,
)
from cpaudit.auditing.engine.fit_samples import fit_samples
from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.engine.setup_stage import setup_stage
from cpaudit.auditing.engine.stages import (
    AuditRun,
    Stage,
    embed_stage,
    permutation_stage,
    policy_stage,
    protection_stage,
    quality_stage,
    replication_stage,
    run_stages,
)
from cpaudit.auditing.engine.text_stages import TEXT_STAGES
from cpaudit.auditing.features import FeatureSpec, parse_features
from cpaudit.auditing.samples import SampleSet
from cpaudit.data.imageset import ImageRows, ImageSet
from cpaudit.data.split import Split
from cpaudit.device import resolve_device
from cpaudit.provenance import provenance
from cpaudit.report.content import SCHEMA_VERSION  # cpaudit/schemas/results.schema.json
from cpaudit.version import __version__

Progress = Callable[[str], None]

PIXEL_STAGES: tuple[Stage, ...] = (
    embed_stage,
    replication_stage,
    permutation_stage,
    quality_stage,
    attacks_stage,
    protection_stage,
    policy_stage,
)


@dataclass
class AuditResult:
    results: dict
    out: Path | None  # where the driver wrote them (None: nothing written, the Python API's default)
    passed: bool
    arrays: dict[str, np.ndarray]
    member_ids: list[str] | None = None  # ids of the members, in the order arrays' sample_nn indexes them


@dataclass(frozen=True)
class AuditPlan:
    """What the options resolve to before any input is read: a bad option or a missing GPU is refused first."""

    device: torch.device
    spec: FeatureSpec
    threshold: float


@dataclass(frozen=True)
class AuditInputs:
    """The inputs as read: the samples, the images with which of them are members, a stored results.json."""

    samples: SampleSet
    data: ImageSet
    split: Split
    baseline: dict | None = None  # the results.json named by opts.baseline, as read


def plan_audit(opts: AuditOptions) -> AuditPlan:
    check_options(opts)
    device = resolve_device(opts.device)  # a missing GPU is refused before any work
    spec = parse_features(opts.features)
    threshold = opts.threshold if opts.threshold is not None else spec.default_threshold
    return AuditPlan(device, spec, threshold)


def run_audit(
    opts: AuditOptions, plan: AuditPlan, inputs: AuditInputs, progress: Progress | None = None
) -> AuditResult:
    """Every stage of the audit (pixel models: PIXEL_STAGES; text-to-image: auditing/engine/text_stages.py)."""
    samples, data = fit_samples(inputs.samples, inputs.data, plan.spec, opts)  # data may turn RGB, as samples
    split = inputs.split
    check_run_classifier(opts, samples)
    check_conditioning(opts, samples)
    baseline = None  # a bad file is refused before the work
    if inputs.baseline is not None:
        assert opts.baseline is not None  # inputs.baseline is the results.json it names (read_inputs)
        baseline = check_baseline(inputs.baseline, opts.baseline, plan.spec.label, plan.threshold)
    check_split_sizes(opts, split)
    # Images stay uint8 in `data`; these views convert rows to float a batch at a time.
    members = ImageRows(data, np.asarray(split.member_idx, dtype=np.int64))
    holdout = ImageRows(data, np.asarray(split.holdout_idx, dtype=np.int64))
    make_cache_dir(opts.cache_dir)
    with tempfile.TemporaryDirectory(prefix="cpaudit-embeddings-", dir=opts.cache_dir) as scratch:
        run = AuditRun(
            opts,
            plan.spec,
            plan.threshold,
            data,
            split,
            samples,
            members,
            holdout,
            Path(scratch),
            plan.device,
            baseline,
            progress or (lambda _msg: None),
        )
        return _audit(run)


def _audit(run: AuditRun) -> AuditResult:
    stages = TEXT_STAGES if run.samples.prompts is not None else PIXEL_STAGES
    sections = run_stages(run, (*stages, setup_stage))
    results = {
        "schema_version": SCHEMA_VERSION,
        "cpaudit_version": __version__,
        "provenance": provenance(run.device),
        **sections,
    }
    member_ids = [run.data.ids[int(i)] for i in run.split.member_idx]
    return AuditResult(results, None, results["policy"]["passed"], run.arrays, member_ids)
