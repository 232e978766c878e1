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
import torch
import torch.nn.functional as F

from cpaudit.auditing.embedding_store import stream_embeddings
from cpaudit.auditing.features import FeatureSpec, embed, parse_features
from cpaudit.auditing.attacks import ATTACKS
from cpaudit.auditing.baseline import baseline_gates, check_baseline
from cpaudit.auditing.attacks.base import AttackContext, AttackScores, Denoiser, measures_of, summarise, threat_model_of
from cpaudit.auditing.strongest import threat_model_section
from cpaudit.core.threat_models import THREAT_MODELS, in_scope
from cpaudit.auditing.policy import DEFAULT_POLICY, Policy, evaluate_gates
from cpaudit.auditing.verdict import verdict_sentence
from cpaudit.auditing.quality import frechet_distance, kernel_inception_distance
from cpaudit.auditing.neighbours import SearchMethod
from cpaudit.auditing.replication import replication
from cpaudit.auditing.samples import SampleSet, load_samples
from cpaudit.core.stats import permutation_test
from cpaudit.data.imageset import GREY_SPREAD, ImageRows, ImageSet, blur_u8, grey_in_colour, to_uint8
from cpaudit.data.members import resolve_membership
from cpaudit.data.split import Split
from cpaudit.device import describe, resolve_device
from cpaudit.distributed import world
from cpaudit.errors import InputError
from cpaudit.io_utils import atomic_path, write_bytes, write_json
from cpaudit.models.load import conditional_refusal, load_model, model_conditioning, require_pixel_unconditional
from cpaudit.pipelines.report import read_results, render_audit_report
from cpaudit.report.junit import junit_xml
from cpaudit.report.content import SCHEMA_VERSION  # cpaudit/schemas/results.schema.json
from cpaudit.sampling.guides import resolve_guide
from cpaudit.sampling.protection import Protection
from cpaudit.seeding import derive_seed, numpy_generator
from cpaudit.version import __version__

# Members from this many on are embedded to a memory-mapped file rather than held in memory.
STREAM_MIN_REFERENCES = 100_000
# The permutation test compares samples with this many references per side at most (its cost is
# samples x references); below it, all of the smaller side.
PERMUTATION_MAX_REFERENCES = 50_000
QUALITY_MAX_REFERENCES = 50_000  # FID's reference where the held-out set is too large to hold (clean-fid's 50k)
DEFAULT_MIA_TS: tuple[int, ...] = (50, 100, 200, 350, 500)


@dataclass(frozen=True)
class AuditOptions:
    samples: Path | SampleSet  # a samples folder, or samples already in memory (the Python API)
    out: Path | None  # None: write nothing, return the results (the Python API)
    # Which images were trained on: DATA with split.json, split.json alone (it names its data), or a pair of
    # sources (folders, .npz files, metadata.jsonl listings) of members and held-out images.
    data: str | None = None
    split: Path | None = None
    members: str | Path | ImageSet | None = None
    holdout: str | Path | ImageSet | None = None
    resize: tuple[int, int] | None = None  # read the data's images at this (H, W); samples are resized to it too
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
    # Gates: by default, fail on evidence of leakage under the released threat model (auditing/policy.py).
    policy: Policy = DEFAULT_POLICY
    report_only: bool = False  # measure and report, gate nothing (the verdict says so)
    cache_dir: Path | None = None
    search: SearchMethod = "auto"  # nearest-neighbour search: exact below IVF_MIN_REFERENCES, else IVF
    device: str = "auto"  # for the denoiser, classifier and feature network (see device.py)
    release: str = "samples"  # what is deployed: samples | sampler | weights
    junit: Path | None = None  # also write the gates as JUnit XML here
    # Training images in the report (pairs figure, audit_data.npz): a report is shared, the data may be
    # private. auto = show for the bundled digits, hide for anything else.
    member_images: str = "auto"  # auto | show | blur | hide
    baseline: Path | None = None  # a stored results.json: fail where a gated figure is worse beyond its interval
    attack_nulls: int = 200  # relabellings for each attack's chance band and p-value


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
        raise InputError("--attack-nulls", f"{opts.attack_nulls} relabellings cannot resolve the membership gate's level "
                         f"{level:g} (the smallest p-value is 1/{opts.attack_nulls + 1}): give at least {math.floor(1 / level)}, "
                         "a larger --mia-excess-level, or --report-only")


def audit(opts: AuditOptions, progress: Progress | None = None) -> AuditResult:
    _check(opts)
    device = resolve_device(opts.device)
    step = progress or (lambda _msg: None)
    spec = parse_features(opts.features)
    threshold = opts.threshold if opts.threshold is not None else spec.default_threshold
    data, split = resolve_membership(data=opts.data, split=opts.split, members=opts.members, holdout=opts.holdout,
                                     resize=opts.resize)
    samples = fit_samples(opts.samples if isinstance(opts.samples, SampleSet) else load_samples(opts.samples),
                          data, spec, opts)
    _check_run_classifier(opts, samples)
    if opts.model is not None and Path(opts.model).is_dir() and model_conditioning(Path(opts.model)) != "none":
        raise conditional_refusal(Path(opts.model), model_conditioning(Path(opts.model)), "the audit's model-based attacks")
    baseline = None  # a bad file is refused before the work
    if opts.baseline is not None:
        baseline = check_baseline(read_results(opts.baseline)[0], opts.baseline, spec.label, threshold)
    if len(split.holdout_idx) < 4 or len(split.member_idx) < 4:
        raise InputError(opts.split or "--members/--holdout", "needs at least 4 members and 4 held-out images (membership "
                         "attacks split each in two)")
    # Images stay uint8 in `data`; these views convert rows to float a batch at a time.
    members = ImageRows(data, np.asarray(split.member_idx, dtype=np.int64))
    holdout = ImageRows(data, np.asarray(split.holdout_idx, dtype=np.int64))

    if opts.cache_dir is not None:
        try:
            Path(opts.cache_dir).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(opts.cache_dir, f"cannot create the cache folder ({e.strerror})") from None
    with tempfile.TemporaryDirectory(prefix="cpaudit-embeddings-", dir=opts.cache_dir) as scratch:
        return _audit(opts, step, spec, threshold, data, split, samples, members, holdout, Path(scratch), device, baseline)


def _audit(opts: AuditOptions, step: Progress, spec: FeatureSpec, threshold: float, data: ImageSet, split: Split,
           samples: SampleSet, members: ImageRows, holdout: ImageRows, scratch: Path,
           device: torch.device, baseline: dict | None) -> AuditResult:
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

    # Quality against the whole held-out set (a reference of fixed size, whatever the number of samples);
    # where the held-out set is streamed, a seeded subset of QUALITY_MAX_REFERENCES.
    step("quality")  # its own generator: FID does not depend on --permutations
    rng = numpy_generator(derive_seed(opts.seed, "quality"))
    if f_h is not None:
        f_q = f_h
    else:
        pick = numpy_generator(derive_seed(opts.seed, "quality-reference"))  # KID's draws stay as without streaming
        q_idx = np.sort(pick.choice(len(holdout), min(len(holdout), QUALITY_MAX_REFERENCES), replace=False))
        f_q = embed(holdout.take(q_idx), spec, device=device)[1]
    fid = frechet_distance(f_s.astype(np.float64), f_q.astype(np.float64))
    kid = kernel_inception_distance(f_s.astype(np.float64), f_q.astype(np.float64), rng)
    dim = int(f_s.shape[1])
    # Fewer images than dimensions leave the covariance singular: FID is then biased and unstable.
    fid_warning = (None if min(len(f_s), len(f_q)) > dim else
                   f"FID from {len(f_s)} samples and {len(f_q)} reference images in {dim} dimensions: fewer images than "
                   "dimensions on a side make the covariance singular and the FID unreliable")

    arrays: dict[str, np.ndarray] = {
        "sample_sim": rep.sample_sim, "holdout_sim": rep.holdout_sim, "sample_nn": rep.sample_nn,
        "permutation_null": perm.null,
    }
    run_prot = (samples.run or {}).get("protection")
    protection_info = None
    if run_prot:
        fired = samples.run.get("fired_fraction") if samples.run else None
        protection_info = {"alpha": run_prot.get("alpha"), "scale": run_prot.get("scale"), "rule": run_prot.get("rule"),
                           "guide": run_prot.get("guide"), "classifier": run_prot.get("classifier"),
                           "label_seed": run_prot.get("label_seed"), "fired_fraction": fired,
                           "samples_with_guidance": samples.run.get("samples_with_guidance") if samples.run else None}

    # Candidates of every membership attack: members (a seeded subset beyond --mia-members) and as many
    # held-out images. The attack's cost is linear in them; 10,000 members pin an AUC to about +-0.01.
    m_idx = np.arange(len(members))
    if len(members) > opts.mia_members:
        draw = numpy_generator(derive_seed(opts.seed, "mia-members"))
        m_idx = np.sort(draw.choice(len(members), opts.mia_members, replace=False))
    n_h = min(len(holdout), opts.mia_holdout or len(m_idx))
    h_idx = numpy_generator(derive_seed(opts.seed, "mia-holdout")).choice(len(holdout), n_h, replace=False)
    ctx = AttackContext(seed=opts.seed, sample_emb=e_s, member_emb=np.asarray(e_m[m_idx]), holdout_emb=np.asarray(e_h[h_idx]),
                        threshold=threshold, mia_t=opts.mia_t, mia_draws=opts.mia_draws, step=step)
    model_cfg, classifier, denoisers = None, opts.classifier, []
    if opts.model is not None:
        model_cfg, classifier, denoisers = _denoisers(opts, data, run_prot, device)
        ctx.members, ctx.holdout = members.take(m_idx), holdout.take(h_idx)
    attacks, scores = _run_attacks(opts, ctx, denoisers, run_prot, arrays)
    step("strongest attack by threat model")
    threat_models = threat_model_section(scores, attacks, opts.release,
                                         lambda name: numpy_generator(derive_seed(opts.seed, name)), opts.attack_nulls)

    nn_summary = rep.summary(spec.label)
    policy = Policy() if opts.report_only else opts.policy
    gates = evaluate_gates(policy, release=opts.release, replica_rate=rep.replica_rate if len(rep.sample_sim) else None,
                           permutation_p=perm.p_value, threat_models=threat_models, replica_excess=nn_summary["replica_excess_p"],
                           holdout_rate=nn_summary["holdout_replica_rate"], holdout_over=nn_summary.get("holdout_over_threshold"),
                           replicas=nn_summary.get("replicas"), n_samples=nn_summary.get("n_samples"),
                           n_holdout=nn_summary.get("n_holdout"),
                           n_diverged=len((samples.run or {}).get("nonfinite_seeds") or []))
    if baseline is not None and not opts.report_only:
        gates.update(baseline_gates(nn_summary, threat_models, opts.release, baseline))
    failures = [m for m in gates.values() if m is not None]
    thresholds = {k: v for k, v in policy.__dict__.items()}

    top = np.argsort(-rep.sample_sim, kind="stable")[:16]
    arrays["pair_samples"] = to_uint8(samples.images[top])
    member_images = resolve_member_images(opts.member_images, data.source)
    if member_images != "hide":
        shown = to_uint8(members.take(rep.sample_nn[top, 0]))
        arrays["pair_members"] = shown if member_images == "show" else blur_u8(shown)
    results = {
        "schema_version": SCHEMA_VERSION,
        "cpaudit_version": __version__,
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
            "model_config": model_cfg,
            "classifier": classifier,
            "classifier_from_run_json": classifier is not None and opts.classifier is None,
            "features": spec.label,
            "features_pretrained": spec.pretrained,
            "member_images": member_images,
            "seed": opts.seed,
            "device": describe(device),
            "options": {"report_only": opts.report_only, "search": opts.search, "k": opts.k, "permutations": opts.permutations,
                        "mia_t": list(opts.mia_t),
                        "mia_draws": opts.mia_draws, "mia_members": opts.mia_members, "mia_holdout": opts.mia_holdout,
                        "alpha": opts.alpha, "scale": opts.scale, "release": opts.release, "attack_nulls": opts.attack_nulls,
                        "baseline": None if opts.baseline is None else str(opts.baseline)},
            "sample_run": samples.run and {k: v for k, v in samples.run.items() if k != "fired_steps"},
        },
        "nn": nn_summary,
        "top_pairs": [
            {"sample": int(i), "member": data.ids[int(split.member_idx[rep.sample_nn[i, 0]])],
             "similarity": float(rep.sample_sim[i])}
            for i in top
        ],
        "permutation": {"statistic": perm.statistic, "p_value": perm.p_value, "n_permutations": perm.n_permutations,
                        "n_reference": int(m)},
        "release": opts.release,
        "threat_models": threat_models,
        "attacks": attacks,
        "quality": {"features": spec.label, "fid": fid, "kid": kid, "n_samples": int(len(f_s)), "n_reference": int(len(f_q)),
                    "reference": "held-out images" + ("" if f_h is not None else " (seeded subset)"),
                    "feature_dim": dim, "warning": fid_warning,
                    "resize": spec.resize if spec.kind == "inception" else None, "weights_sha256": spec.sha256},
        "protection": protection_info,
        "privacy": {"dp_epsilon": (model_cfg or {}).get("dp", {}).get("epsilon") if (model_cfg or {}).get("dp") else None},
        "policy": {"passed": not failures, "failures": failures, "gates": gates, "thresholds": thresholds, "release": opts.release,
                   "report_only": opts.report_only, "mia_gate_reads": "threat_models." + opts.release + ".strongest"},
        "verdict": verdict_sentence(opts.release, failures, len(gates), threat_models[opts.release]["strongest"],
                                    report_only=opts.report_only),
    }
    out = None if opts.out is None else Path(opts.out)
    if out is None or not world().is_main:  # no folder (the Python API), or not rank 0 under torchrun
        return AuditResult(results, out, not failures, arrays, [data.ids[int(i)] for i in split.member_idx])
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "audit_data.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    write_json(out / "results.json", results)
    if opts.junit is not None:
        write_bytes(opts.junit, junit_xml(results).encode())
    step("report")
    render_audit_report(results, arrays, out)
    return AuditResult(results, out, not failures, arrays, [data.ids[int(i)] for i in split.member_idx])


def fit_samples(samples: SampleSet, data: ImageSet, spec: FeatureSpec, opts: AuditOptions) -> SampleSet:
    """Samples at the data's size: as they are; resized under --resize; or, where a network embedding
    resizes every image to its own input anyway, as they are. Pixel correlation needs one size."""
    samples = _same_channels_as(samples, data.shape[0], opts)
    got, want = tuple(samples.images.shape[1:]), data.shape
    if got == want:
        return samples
    if opts.resize is not None:
        x = F.interpolate(samples.images, size=want[1:], mode="bicubic", antialias=True, align_corners=False)
        return SampleSet(x.clamp(-1, 1), samples.run, samples.folder)
    if spec.kind != "pixel":
        return samples
    raise InputError(opts.samples, f"samples are {got[1]}x{got[2]} but the images are {want[1]}x{want[2]}: pass "
                     f"--resize {got[1]}x{got[2]} to read the images at the samples' size, or a network embedding "
                     "(--features), which resizes both")


def _same_channels_as(samples: SampleSet, channels: int, opts: AuditOptions) -> SampleSet:
    """Grey samples against colour images become RGB; colour samples that are grey in content (R = G = B, as
    PNGs or WebPs of grey images may be saved) against grey images are read as grey, and a line says so."""
    x = samples.images
    if x.shape[1] == channels:
        return samples
    if x.shape[1] == 1 and channels == 3:
        return SampleSet(x.expand(-1, 3, -1, -1).contiguous(), samples.run, samples.folder)
    if x.shape[1] == 3 and channels == 1 and grey_in_colour(to_uint8(x)):
        warnings.warn(f"{described(opts.samples)}: read the samples as grey (their three channels are equal to within "
                      f"{GREY_SPREAD} levels), as the images are", stacklevel=3)
        return SampleSet(x.mean(dim=1, keepdim=True), samples.run, samples.folder)
    raise InputError(described(opts.samples), f"samples have {x.shape[1]} channel(s) but the images have {channels}")


def _check_run_classifier(opts: AuditOptions, samples: SampleSet) -> None:
    """A protected run's classifier must exist where its run.json says, or the protected sampler, the one
    deployed, would silently go unattacked."""
    named = ((samples.run or {}).get("protection") or {}).get("classifier")
    if opts.model is None or opts.classifier is not None or not named or named == "exact":
        return
    if not Path(named).is_dir():
        raise InputError(Path(opts.samples) / "run.json", f"names the classifier folder {named}, which does not exist: "
                         "give --classifier DIR (or 'exact'); without it the protected sampler cannot be attacked")


def _denoisers(opts: AuditOptions, data: ImageSet, run_prot: dict | None,
               device: torch.device) -> tuple[dict, str | None, list[Denoiser]]:
    """The plain denoiser and, given a classifier (--classifier, else the sampling run's), the protected one
    as the sampling run applied it: its classifier, alpha, scale, rule, guide and label seed."""
    lm = load_model(opts.model)
    require_pixel_unconditional(lm, "the audit's model-based attacks")
    # A model that records its data must be audited on it, unless the user names the members (--members).
    if opts.members is None and lm.data_fingerprint is not None and lm.data_fingerprint != data.fingerprint():
        raise InputError(Path(opts.model) / "config.json", f"model was trained on other data than {data.source}")
    if tuple(lm.image_shape) != data.shape:
        raise InputError(Path(opts.model) / "config.json", f"model image shape {lm.image_shape} differs from the data's {data.shape}")
    abar = lm.schedule.alphas_cumprod()
    bad_t = [t for t in opts.mia_t if not 0 <= t < lm.schedule.T]
    if bad_t:
        raise InputError("--mia-t", f"timesteps must be in [0, {lm.schedule.T - 1}], got {bad_t}")
    denoisers = [Denoiser(lm.model.to(device), abar, device)]
    rp = run_prot or {}
    classifier = opts.classifier
    if classifier is None and rp.get("classifier"):
        classifier = rp["classifier"]  # checked before the work (_check_run_classifier)
    if classifier is not None:
        logit_fn, _ = resolve_guide(lm, classifier, rp.get("label_seed"), device=device)
        # Replay the sampling run; a run.json written before a field existed used what is now its fixed value.
        prot = Protection(classifier, opts.alpha if opts.alpha is not None else rp.get("alpha"),
                          opts.scale if opts.scale is not None else rp.get("scale"),
                          rp.get("rule"), rp.get("guide", "when-confident"), t_min=rp.get("t_min", 0),
                          t_max=rp.get("t_max"), space=rp.get("space", "x_t"))
        denoisers.append(Denoiser(denoisers[0].eps_model, abar, device, prot, logit_fn))
    return lm.config, classifier, denoisers


def _run_attacks(opts: AuditOptions, ctx: AttackContext, denoisers: list[Denoiser], run_prot: dict | None,
                 arrays: dict[str, np.ndarray]) -> tuple[dict[str, dict], dict[str, AttackScores]]:
    """Every registered attack that applies, on every denoiser it can run on: one summary shape for all,
    and the raw scores (the threat-model headlines stack them)."""
    keys = ("classifier", "alpha", "scale", "rule", "guide")
    sampling_protected = bool(run_prot) and not Protection(**{k: run_prot[k] for k in keys if k in run_prot}).inactive
    attacks: dict[str, dict] = {}
    scores: dict[str, AttackScores] = {}
    for attack in ATTACKS:
        targets = {"samples": [None], "denoiser": denoisers, "classifier": [d for d in denoisers if d.protected]}
        for den in targets[attack.target]:
            protected = den is not None and den.protected and attack.target == "denoiser"
            key = attack.name + ("_protected" if protected else "")
            title = attack.title + (" on the protected denoiser" if protected else "")
            tm = threat_model_of(attack, den, sampling_protected)
            scores[key] = attack.scores(ctx, den)
            summary, attack_arrays = summarise(key, title, tm, scores[key],
                                               numpy_generator(derive_seed(opts.seed, f"attack-{key}")), opts.attack_nulls)
            attacks[key] = {**summary, "deployed": in_scope(tm, opts.release),
                            "measures": measures_of(attack, den, sampling_protected)}
            arrays.update(attack_arrays)
    return attacks, scores


def described(source: object) -> str:
    """A source as results.json names it: its path, or what an in-memory set is."""
    if isinstance(source, (ImageSet, SampleSet)):
        return source.source if isinstance(source, ImageSet) else str(source.folder)
    return str(source)


def resolve_member_images(mode: str, data: str) -> str:
    """auto: the bundled digits are public, so show them; anyone else's data is withheld."""
    return mode if mode != "auto" else ("show" if data == "digits" else "hide")
