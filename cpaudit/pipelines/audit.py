"""`cpaudit audit`: replication search, permutation test, membership inference, quality, policy gates."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cpaudit.audit.embedding_store import stream_embeddings
from cpaudit.audit.features import FeatureSpec, embed, parse_features
from cpaudit.audit.mia import MIAResult, mia_statistics, reconstruction_losses
from cpaudit.audit.policy import Policy, evaluate
from cpaudit.audit.quality import frechet_distance, kernel_inception_distance
from cpaudit.audit.neighbours import SearchMethod
from cpaudit.audit.replication import replication
from cpaudit.audit.samples import SampleSet, load_samples
from cpaudit.core.stats import permutation_test
from cpaudit.data.imageset import ImageRows, ImageSet, to_uint8
from cpaudit.data.load import load_data
from cpaudit.data.split import Split, read_split
from cpaudit.device import describe, resolve_device
from cpaudit.distributed import gather_rows, world
from cpaudit.errors import InputError
from cpaudit.io_utils import atomic_path, write_json
from cpaudit.models.load import load_model
from cpaudit.pipelines.report import render_audit_report
from cpaudit.sampling.guides import resolve_guide
from cpaudit.sampling.protection import DEFAULT_ALPHA, DEFAULT_SCALE, LogitFn, Protection
from cpaudit.seeding import derive_seed, numpy_generator, torch_generator
from cpaudit.version import __version__

SCHEMA_VERSION = 1
# Members from this many on are embedded to a memory-mapped file rather than held in memory.
STREAM_MIN_REFERENCES = 100_000
# The permutation test compares samples with this many references per side at most (its cost is
# samples x references); below it, all of the smaller side.
PERMUTATION_MAX_REFERENCES = 50_000
DEFAULT_THRESHOLDS = {"pixel": 0.97}
DEFAULT_MIA_TS: tuple[int, ...] = (50, 100, 200, 350, 500)


@dataclass(frozen=True)
class AuditOptions:
    samples: Path
    data: str
    split: Path
    out: Path
    model: Path | None = None
    classifier: str | None = None  # folder or "exact": also attack the protected denoiser
    features: str = "pixel"
    threshold: float | None = None  # default per embedding (0.97 for pixel)
    k: int = 5
    permutations: int = 1000
    mia_t: tuple[int, ...] = DEFAULT_MIA_TS
    mia_draws: int = 8
    mia_members: int = 10_000  # members attacked: all up to this many, else a seeded random subset
    mia_holdout: int | None = None  # held-out images for the attack; default = number of members attacked
    alpha: float | None = None  # protection settings for the protected attack; default: the samples' run.json
    scale: float | None = None
    seed: int = 0
    policy: Policy = field(default_factory=Policy)
    cache_dir: Path | None = None
    search: SearchMethod = "auto"  # nearest-neighbour search: exact below IVF_MIN_REFERENCES, else IVF
    device: str = "auto"  # for the denoiser, classifier and feature network (see device.py)


@dataclass
class AuditResult:
    results: dict
    out: Path
    passed: bool
    arrays: dict[str, np.ndarray]


Progress = Callable[[str], None]


def _check(opts: AuditOptions) -> None:
    if opts.permutations < 1:
        raise InputError("--permutations", f"must be >= 1, got {opts.permutations}")
    if opts.mia_draws < 1:
        raise InputError("--mia-draws", f"must be >= 1, got {opts.mia_draws}")
    if opts.mia_members < 2:
        raise InputError("--mia-members", f"must be >= 2, got {opts.mia_members}")
    if opts.search not in ("auto", "exact", "ivf"):
        raise InputError("--search", f"must be auto, exact or ivf, got {opts.search!r}")
    if opts.k < 1:
        raise InputError("--k", f"must be >= 1, got {opts.k}")
    if opts.threshold is not None and not -1 <= opts.threshold <= 1:
        raise InputError("--threshold", f"must be a similarity in [-1, 1], got {opts.threshold}")


def _mia_block(res: list[MIAResult]) -> dict:
    """Headline = the attacker's best t (largest max(AUC, 1 - AUC)); every t is listed under by_t."""
    best = max(res, key=lambda r: r.attacker_auc)
    return {**best.summary(), "by_t": [r.summary() for r in res]}


def _membership_inference(
    eps_model: torch.nn.Module, abar: torch.Tensor, members: torch.Tensor, holdout: torch.Tensor, opts: AuditOptions,
    guide: tuple[Protection, LogitFn] | None, step: Progress, device: torch.device,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The loss attack at every t on the denoiser and, given a guide, on the protected denoiser.

    Plain and protected attacks at one t see the same noise draws, so their difference is the protection's.
    """
    plain, protected = [], []
    w = world()
    for t in opts.mia_t:
        step(f"membership inference t={t}")
        losses = {}
        for role, x in (("members", members), ("holdout", holdout)):
            seed = derive_seed(opts.seed, f"mia-{t}-{role}")
            # Under torchrun each rank scores a block of the images with the noise one process would draw.
            rows = w.shard(len(x))
            score = lambda **kw: gather_rows(torch.from_numpy(reconstruction_losses(  # noqa: E731
                eps_model, x, abar, t, opts.mia_draws, torch_generator(seed), rows=rows, device=device, **kw)), w).numpy()
            losses[role] = score()
            if guide is not None:
                losses[f"protected-{role}"] = score(protection=guide[0], logit_fn=guide[1])
        plain.append(mia_statistics(t, losses["members"], losses["holdout"]))
        if guide is not None:
            protected.append(mia_statistics(t, losses["protected-members"], losses["protected-holdout"]))
    mia = {**_mia_block(plain), "protected": None}
    best = max(plain, key=lambda r: r.attacker_auc)
    arrays = {"mia_loss_members": best.loss_members, "mia_loss_holdout": best.loss_holdout}
    if protected:
        mia["protected"] = {**_mia_block(protected), "settings": guide[0].to_dict()}  # type: ignore[index]
        bp = max(protected, key=lambda r: r.attacker_auc)
        arrays.update({"mia_protected_loss_members": bp.loss_members, "mia_protected_loss_holdout": bp.loss_holdout})
    return mia, arrays


def audit(opts: AuditOptions, progress: Progress | None = None) -> AuditResult:
    _check(opts)
    device = resolve_device(opts.device)
    step = progress or (lambda _msg: None)
    spec = parse_features(opts.features)
    threshold = opts.threshold if opts.threshold is not None else DEFAULT_THRESHOLDS.get(spec.kind, 0.95)
    data = load_data(opts.data)
    split = read_split(opts.split, data)
    samples = load_samples(opts.samples)
    if tuple(samples.images.shape[1:]) != data.shape:
        raise InputError(opts.samples, f"samples are {tuple(samples.images.shape[1:])} (C, H, W) but {opts.data} "
                         f"images are {data.shape}")
    if len(split.holdout_idx) < 2:
        raise InputError(opts.split, "needs at least 2 held-out images")
    # Images stay uint8 in `data`; these views convert rows to float a batch at a time.
    members = ImageRows(data, np.asarray(split.member_idx, dtype=np.int64))
    holdout = ImageRows(data, np.asarray(split.holdout_idx, dtype=np.int64))

    if opts.cache_dir is not None:
        try:
            Path(opts.cache_dir).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(opts.cache_dir, f"cannot create the cache folder ({e.strerror})") from None
    with tempfile.TemporaryDirectory(prefix="cpaudit-embeddings-", dir=opts.cache_dir) as scratch:
        return _audit(opts, step, spec, threshold, data, split, samples, members, holdout, Path(scratch), device)


def _audit(opts: AuditOptions, step: Progress, spec: FeatureSpec, threshold: float, data: ImageSet, split: Split,
           samples: SampleSet, members: ImageRows, holdout: ImageRows, scratch: Path,
           device: torch.device) -> AuditResult:
    # Replication search. Many members: their embeddings stream to a memory-mapped file, searched in blocks.
    step("embed")
    e_s, f_s = embed(samples.images, spec, cache_dir=opts.cache_dir, device=device)
    if len(members) >= STREAM_MIN_REFERENCES:
        e_m = stream_embeddings(members, spec, scratch / "members.npy", device=device)
    else:
        e_m, _ = embed(members.all(), spec, cache_dir=opts.cache_dir, device=device)
    f_h = None  # quality features of every held-out image, where they are few enough to hold
    if len(holdout) >= STREAM_MIN_REFERENCES:
        e_h = stream_embeddings(holdout, spec, scratch / "holdout.npy", device=device)
    else:
        e_h, f_h = embed(holdout.all(), spec, cache_dir=opts.cache_dir, device=device)
    step("nearest neighbours")
    rep = replication(e_s, e_m, e_h, threshold=threshold, k=opts.k, method=opts.search)

    # Permutation test with equal-size member and holdout reference sets.
    step("permutation test")
    rng = numpy_generator(derive_seed(opts.seed, "permutation"))
    m = min(len(e_m), len(e_h), PERMUTATION_MAX_REFERENCES)
    ref_m = e_m[rng.choice(len(e_m), m, replace=False)]
    ref_h = e_h[rng.choice(len(e_h), m, replace=False)]
    perm = permutation_test(e_s @ ref_m.T, e_s @ ref_h.T, opts.permutations, rng)

    # Quality against as many held-out images as there are samples.
    step("quality")  # its own generator: FID does not depend on --permutations
    rng = numpy_generator(derive_seed(opts.seed, "quality"))
    q_idx = rng.choice(len(holdout), min(len(holdout), len(f_s)), replace=False)
    f_q = f_h[q_idx] if f_h is not None else embed(holdout.take(q_idx), spec, device=device)[1]
    fid = frechet_distance(f_s.astype(np.float64), f_q.astype(np.float64))
    kid = kernel_inception_distance(f_s.astype(np.float64), f_q.astype(np.float64), rng)

    # Membership inference on the denoiser (and on the protected denoiser).
    mia: dict | None = None
    protection_info = None
    arrays: dict[str, np.ndarray] = {
        "sample_sim": rep.sample_sim, "holdout_sim": rep.holdout_sim, "sample_nn": rep.sample_nn,
        "permutation_null": perm.null,
    }
    run_prot = (samples.run or {}).get("protection")
    if run_prot:
        fired = samples.run.get("fired_fraction") if samples.run else None
        protection_info = {"alpha": run_prot.get("alpha"), "scale": run_prot.get("scale"), "rule": run_prot.get("rule"),
                           "guide": run_prot.get("guide"), "classifier": run_prot.get("classifier"), "fired_fraction": fired,
                           "samples_with_guidance": samples.run.get("samples_with_guidance") if samples.run else None}
    model_cfg = None
    if opts.model is not None:
        lm = load_model(opts.model)
        model_cfg = lm.config
        if lm.data_fingerprint is not None and lm.data_fingerprint != data.fingerprint():
            raise InputError(Path(opts.model) / "config.json", f"model was trained on other data than {opts.data}")
        if tuple(lm.image_shape) != data.shape:
            raise InputError(Path(opts.model) / "config.json", f"model image shape {lm.image_shape} differs from the data's {data.shape}")
        abar = lm.schedule.alphas_cumprod()
        bad_t = [t for t in opts.mia_t if not 0 <= t < lm.schedule.T]
        if bad_t:
            raise InputError("--mia-t", f"timesteps must be in [0, {lm.schedule.T - 1}], got {bad_t}")
        # The attack's cost is linear in the images it scores; 10,000 members pin its AUC to about +-0.01.
        m_idx = np.arange(len(members))
        if len(members) > opts.mia_members:
            draw = numpy_generator(derive_seed(opts.seed, "mia-members"))
            m_idx = np.sort(draw.choice(len(members), opts.mia_members, replace=False))
        mia_members = members.take(m_idx)
        n_h = min(len(holdout), opts.mia_holdout or len(m_idx))
        pick = numpy_generator(derive_seed(opts.seed, "mia-holdout"))
        mia_holdout = holdout.take(pick.choice(len(holdout), n_h, replace=False))
        guide = None
        if opts.classifier is not None:
            logit_fn, _ = resolve_guide(lm, opts.classifier, device=device)
            alpha = opts.alpha if opts.alpha is not None else float((run_prot or {}).get("alpha", DEFAULT_ALPHA))
            scale = opts.scale if opts.scale is not None else float((run_prot or {}).get("scale", DEFAULT_SCALE))
            rule = (run_prot or {}).get("rule", "opposite-label")
            guide = (Protection(opts.classifier, alpha, scale, rule), logit_fn)
        mia, mia_arrays = _membership_inference(lm.model.to(device), abar, mia_members, mia_holdout, opts, guide, step,
                                                device)
        arrays.update(mia_arrays)

    # Policy gates: the deployed system is the protected one when a classifier is given.
    gate_mia = None if mia is None else (mia["protected"] or mia)
    failures = evaluate(
        opts.policy,
        replica_rate=rep.replica_rate,
        mia_auc=None if gate_mia is None else gate_mia["attacker_auc"],
        mia_label="protected denoiser" if mia and mia["protected"] else "denoiser",
        permutation_p=perm.p_value,
    )
    if opts.policy.max_mia_auc is not None and mia is None:
        failures.append("max-mia-auc was set but no --model was given, so membership inference did not run")

    top = np.argsort(-rep.sample_sim, kind="stable")[:16]
    arrays["pair_samples"] = to_uint8(samples.images[top])
    arrays["pair_members"] = to_uint8(members.take(rep.sample_nn[top, 0]))
    results = {
        "schema_version": SCHEMA_VERSION,
        "cpaudit_version": __version__,
        "setup": {
            "samples": str(opts.samples),
            "data": opts.data,
            "data_fingerprint": data.fingerprint(),
            "split": str(opts.split),
            "n_members": int(len(split.member_idx)),
            "n_holdout": int(len(split.holdout_idx)),
            "image_shape": list(data.shape),
            "model": None if opts.model is None else str(opts.model),
            "model_config": model_cfg,
            "classifier": opts.classifier,
            "features": spec.label,
            "features_pretrained": spec.pretrained,
            "seed": opts.seed,
            "device": describe(device),
            "options": {"search": opts.search, "k": opts.k, "permutations": opts.permutations, "mia_t": list(opts.mia_t),
                        "mia_draws": opts.mia_draws, "mia_members": opts.mia_members, "mia_holdout": opts.mia_holdout,
                        "alpha": opts.alpha, "scale": opts.scale},
            "sample_run": samples.run and {k: v for k, v in samples.run.items() if k != "fired_steps"},
        },
        "nn": rep.summary(spec.label),
        "top_pairs": [
            {"sample": int(i), "member": data.ids[int(split.member_idx[rep.sample_nn[i, 0]])],
             "similarity": float(rep.sample_sim[i])}
            for i in top
        ],
        "permutation": {"statistic": perm.statistic, "p_value": perm.p_value, "n_permutations": perm.n_permutations,
                        "n_reference": int(m)},
        "mia": mia,
        "quality": {"features": spec.label, "fid": fid, "kid": kid, "n_samples": int(len(f_s)), "n_reference": int(len(q_idx))},
        "protection": protection_info,
        "privacy": {"dp_epsilon": (model_cfg or {}).get("dp", {}).get("epsilon") if (model_cfg or {}).get("dp") else None},
        "policy": {"passed": not failures, "failures": failures,
                   "thresholds": {k: v for k, v in opts.policy.__dict__.items()}},
    }
    out = Path(opts.out)
    if not world().is_main:  # under torchrun every rank holds the results; rank 0 writes them
        return AuditResult(results, out, not failures, arrays)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "audit_data.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    write_json(out / "results.json", results)
    step("report")
    render_audit_report(results, arrays, out)
    return AuditResult(results, out, not failures, arrays)
