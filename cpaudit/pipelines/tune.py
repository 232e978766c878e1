"""`cpaudit tune`: every defence on one privacy/quality frontier, chosen on tuning seeds, claimed on others.

1. Sweep each defence's settings (pipelines/tune_grid.py) on the tuning seeds and score each point from its
   samples alone (auditing/frontier.py: replicas against the held-out base rate, sample-only AUC, epsilon
   lower bound, pixel FID against the whole held-out set).
2. Per defence, keep the tuning points on its frontier (no other point has both lower FID and lower AUC),
   at most `points_per_defence` of them, always with the one chosen at the FID budget: the lowest AUC
   among points with FID <= budget x unprotected FID and replicas not above the held-out base rate.
3. Draw those settings again on the evaluation seeds, which chose nothing, and report those figures.

The defaults for `sample --protect` are the CPSample settings chosen at the budget on the tuning seeds,
one per classifier kind; the evaluation seeds say how they hold up.

With a reference model (`--reference`, pipelines/tune_reference.py: the same architecture trained on disjoint
images) its unprotected samples are drawn on both sets of seeds too, and every point's FID is also read as a
multiple of the reference's; the reference's members leave every point's held-out set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpaudit.auditing.frontier import (
    Reference,
    best_within_budget,
    copy_excess_p,
    evaluate_samples,
    pareto_front,
    spread,
)
from cpaudit.data.imageset import ImageSet
from cpaudit.data.members import MemberSource, model_members, require_model_shape
from cpaudit.device import describe, resolve_device
from cpaudit.errors import InputError
from cpaudit.io_utils import write_json
from cpaudit.models.load import LoadedModel, load_model, require_pixel_unconditional
from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, train_diffusion
from cpaudit.pipelines.tune_grid import (
    DP,
    DP_CONTROL,
    FAMILIES,
    KIND_FAMILIES,
    NONE,
    sweep_settings,
)
from cpaudit.pipelines.tune_reference import (
    REFERENCE_MODEL_KEY,
    load_reference,
    reference_setting,
    with_reference_ratios,
)
from cpaudit.report.tune_report import tune_document, tune_figures
from cpaudit.report.write import write_report
from cpaudit.sampling.defences import Guides, Setting, draw_setting
from cpaudit.sampling.rejection import RejectionExhausted
from cpaudit.sampling.sampler import SamplerConfig
from cpaudit.seeding import derive_seed, numpy_generator
from cpaudit.similarity.pixel import PIXEL_REPLICA_THRESHOLD
from cpaudit.train.diffusion import DiffusionTrainConfig
from cpaudit.train.dp import DPConfig
from cpaudit.version import __version__

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True)
class TuneOptions:
    model: Path
    out: Path
    classifier: str | None = None  # a learned classifier folder; the exact posterior needs none
    # Tuning draws seeds tune_seed ... (rejection takes the next unused ones), apart from the evaluation seeds
    # and from the demo's (1000 on). As many samples as evaluation: FID is biased upward by about d/N, so
    # a ratio to the unprotected FID measured on fewer samples would pass settings the evaluation fails.
    tune_seed: int = 2_000_000
    n_tune: int = 1024
    eval_seed: int = 1_000_000  # far from the tuning seeds, also after rejection's extra draws
    n_eval: int = 1024
    fid_budget: float = 2.0  # chosen settings have FID at most this many times the unprotected FID
    excess_level: float = (
        0.05  # replicas "not above the held-out base rate": the replica gate's p (reach_excess_p) >= this
    )
    points_per_defence: int = 4
    dp_epsilons: tuple[float, ...] = (1.0, 10.0, 100.0)
    families: tuple[str, ...] | None = None  # keys of tune_grid.FAMILIES; default: every defence the inputs allow
    small: bool = False  # two settings a defence (tests and a quick look)
    steps: int = 50  # DDIM steps per sample
    seed: int = 0  # the attacks' relabellings
    device: str = "auto"
    # Which images the model was trained on, where the user says (--split, or --members/--holdout); a model
    # trained elsewhere needs it. Its DP-SGD runs are not swept: cpaudit retrains only its own models.
    membership: MemberSource = field(default_factory=MemberSource)
    # A reference model (train-diffusion --reference-for): drawn unprotected, beside every defence.
    reference: Path | None = None


@dataclass
class TuneResult:
    out: Path
    tuning: list[dict]
    evaluation: list[dict]
    defaults: dict[str, dict]
    seconds: float


def _check(opts: TuneOptions) -> None:
    if opts.n_tune < 8 or opts.n_eval < 8:
        raise InputError("--n-tune/--n-eval", f"need at least 8 samples each, got {opts.n_tune} and {opts.n_eval}")
    if opts.fid_budget <= 1:
        raise InputError("--fid-budget", f"must be > 1 (a multiple of the unprotected FID), got {opts.fid_budget}")
    if not 1 <= opts.steps <= 1000:
        raise InputError("--steps", f"must be in [1, 1000], got {opts.steps}")
    if opts.points_per_defence < 1:
        raise InputError("--points-per-defence", f"must be >= 1, got {opts.points_per_defence}")
    if any(e <= 0 for e in opts.dp_epsilons):
        raise InputError("--dp-epsilons", f"must be > 0, got {list(opts.dp_epsilons)}")
    tune_end = opts.tune_seed + 100 * opts.n_tune  # rejection may draw up to about this far
    if opts.eval_seed < tune_end and opts.tune_seed < opts.eval_seed + 100 * opts.n_eval:
        raise InputError(
            "--eval-seed",
            f"evaluation seeds from {opts.eval_seed} may meet the tuning draws "
            f"({opts.tune_seed} to about {tune_end}); keep them apart",
        )


def _models(
    opts: TuneOptions, model: LoadedModel, settings: list[Setting], device, say: Progress
) -> dict[str, LoadedModel]:
    """The memorising model and, where DP points are swept, DP-SGD runs and their non-DP control."""
    models = {"memorising": model}
    dp_keys = sorted({s.model for s in settings if s.model != "memorising"})
    if not dp_keys:  # nothing to train (and a model trained elsewhere records no data to train on)
        return models
    # The model's own seed: the same split, so the DP runs train on the same members.
    cfg = dict(
        data=model.config["data"],
        members=int(model.config["n_members"]),
        seed=int(model.config.get("seed", 0)),
        device=opts.device,
    )
    for k, key in enumerate(dp_keys):
        folder = Path(opts.out) / "models" / key
        say(f"train DP-SGD models (now {key})", k, len(dp_keys))
        if key == "dp-control":
            dp = DPConfig()
            # The control trains as the DP runs do (steps, batch size, learning rate, EMA), without clipping or noise.
            train = DiffusionTrainConfig(
                steps=dp.steps, batch_size=dp.expected_batch_size, lr=dp.lr, ema_decay=dp.ema_decay
            )
            train_diffusion(TrainDiffusionOptions(out=folder, train=train, **cfg))
        else:
            train_diffusion(
                TrainDiffusionOptions(out=folder, dp=DPConfig(epsilon=float(key.removeprefix("dp-eps"))), **cfg)
            )
        models[key] = load_model(folder)
    return models


def _score(models, s: Setting, guides: Guides, ref: Reference, first: int, n: int, opts: TuneOptions) -> dict | None:
    """The point's figures; None where rejection cannot keep n samples (its threshold rejects nearly all)."""
    t0 = time.perf_counter()
    try:
        d = draw_setting(models[s.model], s, guides, first, n, SamplerConfig(steps=opts.steps))
    except RejectionExhausted:
        return None
    seconds = time.perf_counter() - t0
    rng = numpy_generator(derive_seed(opts.seed, f"tune-{s.defence}-{s.label}-{first}"))
    return {
        **s.to_dict(),
        **evaluate_samples(d.images, ref, rng),
        "seeds": [int(min(d.seeds)), int(max(d.seeds))],
        "drawn": d.drawn,
        "fired_fraction": d.fired_fraction,
        "seconds": round(seconds, 3),
    }


def _reference_points(models, guides: Guides, ref: Reference, opts: TuneOptions, say: Progress) -> dict:
    """The reference model drawn unprotected on the tuning and the evaluation seeds (never infeasible: no rejection)."""
    s = reference_setting()
    say("reference model", 0, 2)
    tuning = _score(models, s, guides, ref, opts.tune_seed, opts.n_tune, opts)
    say("reference model", 1, 2)
    evaluation = _score(models, s, guides, ref, opts.eval_seed, opts.n_eval, opts)
    assert tuning is not None and evaluation is not None  # only rejection can run out of draws
    return {"tuning": tuning, "evaluation": evaluation}


def choose_for_evaluation(tuning: list[dict], fid_limit: float, excess_level: float, k: int) -> dict[str, list[int]]:
    """Per defence, the indices of its tuning points to evaluate: its frontier, spread to k, with its
    budget choice. DP runs and the control have no sampling-time setting: all of them go."""
    chosen: dict[str, list[int]] = {}
    for fam in dict.fromkeys(p["defence"] for p in tuning):
        idx = [i for i, p in enumerate(tuning) if p["defence"] == fam]
        if fam in (NONE, DP, DP_CONTROL):
            chosen[fam] = idx
            continue
        pts = [tuning[i] for i in idx]
        front = [idx[j] for j in pareto_front([p["fid"] for p in pts], [p["sample_only_auc"] for p in pts])]
        keep = spread(front, k)
        b = best_within_budget(pts, fid_limit, excess_level)
        if b is not None and idx[b] not in keep:
            keep = sorted([*spread(front, k - 1), idx[b]], key=lambda i: tuning[i]["fid"])
        chosen[fam] = keep
    return chosen


def tune(opts: TuneOptions, progress: Progress | None = None) -> TuneResult:
    _check(opts)
    say = progress or (lambda _w, _d, _t: None)
    t_start = time.perf_counter()
    device = resolve_device(opts.device)
    model = load_model(opts.model)
    require_pixel_unconditional(model, "cpaudit tune")
    data, split = model_members(model.folder, model.config, opts.membership)
    given = opts.membership.split or opts.membership.members
    require_model_shape(data, model.image_shape, given.source if isinstance(given, ImageSet) else given or data.source)
    reference = None
    if opts.reference is not None:  # its members leave the held-out set of every point
        reference, split = load_reference(opts.reference, data, split)
    members, holdout = data.take(split.member_idx), data.take(split.holdout_idx)
    ref = Reference.of(members, holdout, threshold=PIXEL_REPLICA_THRESHOLD)
    own = model.data_fingerprint is not None  # DP-SGD runs retrain on the model's data: cpaudit's own models only
    if not own and opts.families is not None and "dp" in opts.families:
        raise InputError(
            "--defences",
            f"dp retrains the model with DP-SGD, which cpaudit does for its own models; "
            f"{opts.model} was trained elsewhere: leave dp out",
        )
    dp_epsilons = opts.dp_epsilons if own else ()
    settings = sweep_settings(opts.classifier, dp_epsilons, opts.small)
    if opts.families is not None:
        unknown = sorted(set(opts.families) - set(FAMILIES))
        if unknown:
            raise InputError("--defences", f"unknown {unknown}; choose from {', '.join(FAMILIES)}")
        wanted = {FAMILIES[k] for k in opts.families}
        missing = sorted(wanted - {s.defence for s in settings})
        if missing:
            raise InputError("--defences", f"{missing} need a learned classifier (--classifier) or DP epsilons")
        settings = [
            s
            for s in settings
            if s.defence == NONE or s.defence in wanted or (s.defence == DP_CONTROL and DP in wanted)
        ]
    models = _models(opts, model, settings, device, say)
    if reference is not None:
        models[REFERENCE_MODEL_KEY] = reference.model
    guides = Guides(members, device, membership=(data, split))  # the members resolved above (the user's, where named)

    tuning, infeasible = [], []
    for k, s in enumerate(settings):
        say(f"tuning points (now {s.defence}, {s.label})", k, len(settings))
        p = _score(models, s, guides, ref, opts.tune_seed, opts.n_tune, opts)
        if p is None:
            infeasible.append(s.to_dict())
        else:
            tuning.append(p)
    settings = [s for s in settings if s.to_dict() not in infeasible]
    fid_limit = opts.fid_budget * tuning[0]["fid"]
    chosen = choose_for_evaluation(tuning, fid_limit, opts.excess_level, opts.points_per_defence)
    order = [i for fam in chosen.values() for i in fam]

    evaluation = []
    for k, i in enumerate(order):
        s = settings[i]
        say(f"evaluation points (now {s.defence}, {s.label})", k, len(order))
        p = _score(models, s, guides, ref, opts.eval_seed, opts.n_eval, opts)
        if p is None:
            infeasible.append({**s.to_dict(), "seeds": "evaluation"})
        else:
            evaluation.append({**p, "tuning_index": i})
    drawn_reference = None if reference is None else _reference_points(models, guides, ref, opts, say)
    seconds = time.perf_counter() - t_start
    record: dict[str, Any] = {
        "kind": "cpaudit-tune",
        "cpaudit_version": __version__,
        "threat_model": "samples",
        "settings": {
            "model": str(opts.model),
            "classifier": opts.classifier,
            "tune_seeds": [opts.tune_seed, opts.n_tune],
            "eval_seeds": [opts.eval_seed, opts.n_eval],
            "fid_budget": opts.fid_budget,
            "excess_level": opts.excess_level,
            "points_per_defence": opts.points_per_defence,
            "dp_epsilons": list(dp_epsilons),
            "small": opts.small,
            "seed": opts.seed,
            "steps": opts.steps,
            "device": describe(device),
            "n_members": len(members),
            "n_holdout": len(holdout),
            **({"members_from": opts.membership.to_dict()} if opts.membership.given else {}),
            "replica_threshold": ref.threshold,
            **({} if reference is None else {"reference": reference.info}),
        },
        "tuning": tuning,
        "evaluation": evaluation,
        "infeasible": infeasible,  # rejection thresholds that kept too few samples in the draws allowed
        "classifier_accuracy": _classifier_accuracy(opts.classifier),
        "seconds": round(seconds, 1),
        **({} if drawn_reference is None else {"reference": drawn_reference}),
    }
    record = summarise_tune(record)
    out = Path(opts.out)
    write_json(out / "tune.json", record)
    write_report(out, tune_document(record), tune_figures(record))
    return TuneResult(out, tuning, evaluation, record["defaults"], seconds)


def rerender_tune(path: Path, out: Path) -> Path:
    """Redo a sweep's choices and report from its tune.json (no sampling): `cpaudit report tune.json --out DIR`."""
    record = summarise_tune(read_tune(Path(path)))
    write_json(Path(out) / "tune.json", record)
    return write_report(Path(out), tune_document(record), tune_figures(record)).html


# What summarise_tune and the tune report read from every point of a sweep.
POINT_KEYS: dict[str, type | tuple[type, ...]] = {
    "defence": str,
    "fid": (int, float),
    "sample_only_auc": (int, float),
    "replica_excess_p": (int, float),
}


def read_tune(path: Path) -> dict:
    """A tune.json as `cpaudit tune` writes it, or one line of bad input naming the file."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"not a readable JSON file ({e})") from None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        raise InputError(path, "not a tune.json written by `cpaudit tune` (no settings)")
    st = record["settings"]
    if not all(isinstance(st.get(k), (int, float)) for k in ("fid_budget", "excess_level")):
        raise InputError(path, "settings.fid_budget and settings.excess_level must be numbers")
    for part in ("tuning", "evaluation"):
        points = record.get(part)
        if not isinstance(points, list) or not points:
            raise InputError(path, f"'{part}' must be a non-empty list of points")
        for i, p in enumerate(points):
            bad = [k for k, t in POINT_KEYS.items() if not isinstance(p, dict) or not isinstance(p.get(k), t)]
            if part == "evaluation" and not bad and not isinstance(p.get("tuning_index"), int):
                bad = ["tuning_index"]
            if bad:
                raise InputError(path, f"{part}[{i}] lacks {', '.join(bad)}")
    return record


BUDGET_WIDENING = (1.0, 1.5, 2.0, 3.0, 4.0)  # a default's FID budget, widened where nothing fits


def summarise_tune(record: dict) -> dict:
    """The choices and claims from a sweep's raw points (pure: `cpaudit report tune.json` redoes it).

    Budget choices and defaults use only the tuning points; the evaluation points say how they hold up.
    """
    st, tuning, evaluation = record["settings"], record["tuning"], record["evaluation"]
    fid_limit = st["fid_budget"] * tuning[0]["fid"]
    eval_limit = st["fid_budget"] * evaluation[0]["fid"]
    level = st["excess_level"]
    choice = {}
    for fam in dict.fromkeys(p["defence"] for p in tuning):
        idx = [i for i, p in enumerate(tuning) if p["defence"] == fam]
        b = best_within_budget([tuning[i] for i in idx], fid_limit, level)
        if b is not None and fam not in (NONE, DP, DP_CONTROL):
            choice[fam] = idx[b]
    for p in evaluation:  # each point's own figures against the goal, on seeds that chose nothing
        p["within_fid_budget"] = p["fid"] <= eval_limit
        p["replicas_not_above_base_rate"] = copy_excess_p(p) >= level
        p["budget_choice"] = choice.get(p["defence"]) == p["tuning_index"]
    defaults: dict[str, dict[str, Any]] = {}
    for kind, families in KIND_FAMILIES.items():
        idx = [i for i, p in enumerate(tuning) if p["defence"] in families]
        if not idx:
            continue
        # None within the budget: widen it step by step (x1.5, x2, x3, x4) and take the first that has one, so
        # the default still trades FID for privacy rather than only removing replicas at the least FID.
        b, widen = None, 1.0
        for widen in BUDGET_WIDENING:
            b = best_within_budget([tuning[i] for i in idx], widen * fid_limit, level)
            if b is not None:
                break
        if b is None:
            defaults[kind] = {"chosen": None, "why": "no setting left replicas at the held-out base rate"}
            continue
        i = idx[b]
        defaults[kind] = {
            "chosen": tuning[i]["protection"],
            "defence": tuning[i]["defence"],
            "tuning": tuning[i],
            "over_budget": widen > 1,
            "fid_budget_used": widen * st["fid_budget"],
            "tuning_index": i,
            "evaluation": next((p for p in evaluation if p["tuning_index"] == i), None),
        }
    record = with_reference_ratios(record)
    return {**record, "fid_limit": {"tuning": fid_limit, "evaluation": eval_limit}, "defaults": defaults}


def _classifier_accuracy(classifier: str | None) -> dict | None:
    """The learned classifier's member accuracy beside the Bayes limit, by t, as train-classifier measured it."""
    if classifier is None or classifier == "exact":
        return None
    try:
        return json.loads((Path(classifier) / "config.json").read_text()).get("accuracy")
    except (OSError, ValueError):
        return None
