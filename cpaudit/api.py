"""The Python API for scripts and notebooks: the functions the CLI calls, with keyword arguments named like
its options, taking paths or images in memory, returning typed results, writing files only where asked."""

from __future__ import annotations

import inspect
import tempfile
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.config import configured
from cpaudit.data.imageset import ImageSet
from cpaudit.data.members import MemberSource, model_members
from cpaudit.errors import InputError
from cpaudit.inputs import as_image_set, as_path, as_samples
from cpaudit.models.load import load_model
from cpaudit.options import keywords, resolve, with_keywords
from cpaudit.pipelines.audit import audit as _audit
from cpaudit.pipelines.classifier_request import TrainClassifierRequest, classifier_options
from cpaudit.pipelines.fid import FidOptions
from cpaudit.pipelines.fid import fid as _fid
from cpaudit.pipelines.sample import SampleResult
from cpaudit.pipelines.sample import sample as _sample
from cpaudit.pipelines.sample_request import SampleRequest, sample_options
from cpaudit.pipelines.train_classifier import TrainClassifierResult
from cpaudit.pipelines.train_classifier import train_classifier as _train_classifier
from cpaudit.pipelines.train_request import TrainDiffusionRequest, TrainResult, train_model
from cpaudit.results import AuditReport, FidReport
from cpaudit.sampling.protection import Protection


def train_diffusion(data: str | Path | None = None, *, out: str | Path, **options: Any) -> TrainResult:
    """`cpaudit train-diffusion [DATA] --out OUT`: every option a keyword named as its flag (TrainDiffusionRequest in
    pipelines/train_request.py: `n_members`, `seed`, `steps`, `dp`, `epsilon`, `text`, `arch`, `classes`, ...).
    Returns the pipeline's result (pixel DDPM, text-to-image pipeline or class-conditional UNet)."""
    if "members" in options:  # the count's old name, for one release
        warnings.warn("train_diffusion(members=N) is renamed n_members=N", FutureWarning, stacklevel=2)
        options["n_members"] = options.pop("members")
    given = {**options, "data": None if data is None else str(data), "out": as_path(out, "out")}
    return train_model(resolve(TrainDiffusionRequest, given))


with_keywords(
    TrainDiffusionRequest,
    skip=("data",),
    first=[inspect.Parameter("data", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)],
)(train_diffusion)


def train_classifier(data: str | Path | None = None, *, out: str | Path, **options: Any) -> TrainClassifierResult:
    """`cpaudit train-classifier [DATA] --out OUT`: every option a keyword named as its flag (TrainClassifierRequest
    in pipelines/classifier_request.py). `members` and `holdout` are the training and held-out images (paths or
    images in memory), for a model trained elsewhere; `n_members` how many to draw from DATA without a model
    (an int given as `members` is still read as that count for one release, with a notice)."""
    for name in ("members", "holdout"):
        if options.get(name) is not None and not isinstance(options[name], int):
            options[name] = as_image_set(options[name], name)
    given = {**options, "data": None if data is None else str(data), "out": as_path(out, "out")}
    return _train_classifier(classifier_options(resolve(TrainClassifierRequest, given)))


with_keywords(
    TrainClassifierRequest,
    skip=("data",),
    first=[inspect.Parameter("data", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)],
)(train_classifier)


def sample(*, out: str | Path | None = None, protection: Protection | None = None, **options: Any) -> SampleResult:
    """`cpaudit sample`: every option as a keyword named as its flag (pipelines/sample_request.py declares them:
    `model`, `n`, `steps`, `seed`, `prompt`, `prompts` (a file or a list), `extraction`, `class_label`,
    `prompt_defence`, `lora`, `protect`, `classifier`, ...). Draws `n` samples (sample i from seed + i); `.images`
    holds them as uint8 (N, H, W, C). Files (samples.npz, PNGs, run.json) are written only where `out` is given.
    `protection`: a Protection from `protect(...)` (instead of protect=True); the members (`split`, with `data`
    where it names none, or `members` with `holdout`, paths or images in memory): the exact posterior's and
    --extraction's, for a model trained elsewhere; without them, those `protect(..., split=...)` was given."""
    if out is None:
        with tempfile.TemporaryDirectory(prefix="cpaudit-sample-") as scratch:
            result = sample(out=scratch, protection=protection, **options)
        return replace(result, out=None)
    for name in ("members", "holdout"):
        if options.get(name) is not None:
            options[name] = as_image_set(options[name], name)
    opts = sample_options(resolve(SampleRequest, {**options, "out": as_path(out, "out")}))
    if protection is not None:
        if opts.protection is not None:
            raise InputError("protection", "give protection= (from protect()) or protect=True, not both")
        membership = opts.membership
        if not membership.given and isinstance(protection, _ProtectionOver):
            membership = protection.membership
        opts = replace(opts, protection=protection, membership=membership)
    return _sample(opts)


with_keywords(  # sample's keywords for help() and inspect: SampleRequest's options, out and protection first
    SampleRequest,
    skip=("out",),
    first=[inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in ("out", "protection")],
)(sample)


def audit(
    samples: str | Path | np.ndarray | torch.Tensor | SampleResult,
    *,
    config: str | Path | None = None,
    **options: Any,
) -> AuditReport:
    """Audit samples for replication (and, given `model=`, the model for membership leakage) under the gates.

    Which images were trained on: `members` and `holdout` (paths, or images in memory: uint8 (N, H, W[, C])
    or float (N, C, H, W) in [-1, 1]), or `split` (a split.json, with `data` where it names none). Every
    audit option is a keyword named as its flag and its cpaudit.toml key (AuditOptions' declarations:
    `model`, `classifier`, `features`, `threshold`, `release`, `mia_t`, `max_replica_rate`, ...); a config file
    (`config`, default ./cpaudit.toml or ./pyproject.toml's [tool.cpaudit]) fills what is not given. Writes
    results.json and the reports only where `out` is given. `.passed` is False where a gate failed; bad input
    raises a one-line CpauditError.
    """
    for name in ("members", "holdout"):
        if options.get(name) is not None:
            options[name] = as_image_set(options[name], name)
    for name in ("out", "split"):
        if options.get(name) is not None:
            options[name] = as_path(options[name], name)
    if options.get("data") is not None:
        options["data"] = str(as_path(options["data"], "data"))
    given = {"samples": as_samples(samples), **{k: v for k, v in options.items() if v is not None}}
    opts = configured(AuditOptions, given, as_path(config, "config") if config is not None else None)
    result = _audit(opts)
    return AuditReport(result.results, result.arrays, result.member_ids or [], result.out)


audit.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter("samples", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None),
        *keywords(AuditOptions, skip=("samples",)),
    ]
)


def fid(
    a: str | Path | np.ndarray | torch.Tensor, b: str | Path | np.ndarray | torch.Tensor, **options: Any
) -> FidReport:
    """FID and KID between two image sets (paths or images in memory) on the named embedding: `cpaudit fid A B`,
    its options keywords named as its flags (FidOptions in pipelines/fid.py: `features`, `seed`, `device`)."""
    r = _fid(resolve(FidOptions, {**options, "a": _source(a, "a"), "b": _source(b, "b")}))
    return FidReport(r["fid"], r["kid"], r["features"], r["n_a"], r["n_b"], r["warning"], r)


with_keywords(
    FidOptions,
    skip=("a", "b"),
    first=[inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("a", "b")],
)(fid)


@dataclass(frozen=True)
class _ProtectionOver(Protection):
    """A Protection that remembers the members `protect` was given, so that `sample(protection=...)` uses them
    (the exact posterior reads them when sampling); everything else is Protection's."""

    membership: MemberSource = field(default_factory=MemberSource)


def protect(
    model: str | Path,
    *,
    classifier: str | Path = "exact",
    out: str | Path | None = None,
    alpha: float | None = None,
    scale: float | None = None,
    steps: int = 3000,
    seed: int = 0,
    members: str | Path | np.ndarray | torch.Tensor | None = None,
    holdout: str | Path | np.ndarray | torch.Tensor | None = None,
    split: str | Path | None = None,
    data: str | Path | None = None,
    device: str = "auto",
) -> Protection:
    """CPSample protection for `model`, to pass to `sample(protection=...)`: the exact posterior over the
    members ("exact"), a trained classifier folder, or "learned": train the random-label classifier into
    `out` first. The members: the model's own (a cpaudit model), or `split` (with `data` where it names none),
    or `members` with `holdout`, as needed for a model trained elsewhere; the exact posterior's are checked
    here and used again by `sample`. Unset alpha and scale take the classifier kind's default."""
    membership = _membership(data, split, members, holdout)
    if str(classifier) == "learned":
        if out is None:
            raise InputError("out", "a learned classifier is written to a folder: give out=")
        given = {
            "data": membership.data,
            "out": as_path(out, "out"),
            "model": as_path(model, "model"),
            "split": membership.split,
            "members": membership.members,
            "holdout": membership.holdout,
            "steps": steps,
            "seed": seed,
            "device": device,
        }
        _train_classifier(classifier_options(resolve(TrainClassifierRequest, given)))
        classifier = out
    if str(classifier) == "exact":
        lm = load_model(_required_path(model, "model"))
        model_members(lm.folder, lm.config, membership)  # refused now, in one line, rather than when sampling
        return _ProtectionOver(str(classifier), alpha, scale, membership=membership)
    if not Path(classifier).is_dir():
        raise InputError("classifier", f"{classifier} is not a classifier folder ('exact', 'learned' or a folder)")
    return _ProtectionOver(str(classifier), alpha, scale, membership=membership)


def _required_path(value: object, name: str) -> Path:
    path = as_path(value, name)
    if path is None:
        raise InputError(name, "is required (a path)")
    return path


def _membership(data: object, split: object, members: object, holdout: object) -> MemberSource:
    return MemberSource(
        data=None if data is None else str(as_path(data, "data")),
        split=as_path(split, "split"),
        members=None if members is None else as_image_set(members, "members"),
        holdout=None if holdout is None else as_image_set(holdout, "holdout"),
    )


def _source(x: object, name: str) -> str | ImageSet:
    s = as_image_set(x, name)
    return s if isinstance(s, ImageSet) else str(s)
