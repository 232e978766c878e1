"""`cpaudit demo`: the whole story on the built-in digits, offline.

Train a memorising model on 64 members, CPSample's random-label classifier and (default run) a DP-SGD
model; sample unprotected, with CPSample, with the rejection baseline and from the DP model; audit each
with the gate "no replicas"; write one comparison report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cpaudit.audit.policy import Policy
from cpaudit.pipelines.audit import AuditOptions, audit
from cpaudit.pipelines.rejection import RejectionOptions, rejection_sample
from cpaudit.pipelines.report import report
from cpaudit.pipelines.sample import SampleOptions, sample
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, train_diffusion
from cpaudit.sampling.protection import Protection
from cpaudit.train.classifier import ClassifierTrainConfig
from cpaudit.train.diffusion import DiffusionTrainConfig
from cpaudit.train.dp import DPConfig

Stage = Callable[[str, int, int, dict[str, float] | None], None]  # (stage, step, total, metrics)


@dataclass(frozen=True)
class DemoOptions:
    out: Path = Path("reports/demo")
    work: Path | None = None  # models and samples; default OUT/runs
    quick: bool = False  # under 3 minutes: shorter training, exact-posterior CPSample, no DP model
    seed: int = 0
    n: int = 256
    device: str = "auto"  # see device.py


@dataclass
class DemoResult:
    out: Path
    runs: dict[str, dict]  # label -> results.json
    seconds: float


def demo(opts: DemoOptions, stage: Stage | None = None) -> DemoResult:
    t0 = time.perf_counter()
    say = stage or (lambda *a: None)
    work = Path(opts.work) if opts.work is not None else Path(opts.out) / "runs"
    model = work / "model"
    steps = 2500 if opts.quick else 4000
    train_diffusion(TrainDiffusionOptions(device=opts.device, data="digits", out=model, members=64, seed=opts.seed,
                                          train=DiffusionTrainConfig(steps=steps)),
                    progress=lambda s, n, m: say("train memorising model", s, n, m))
    if opts.quick:
        classifier = "exact"
        protection = Protection("exact", alpha=0.4, scale=3.0)  # the exact posterior's gradient is sharp: small scale
    else:
        clf_dir = work / "classifier"
        train_classifier(TrainClassifierOptions(device=opts.device, data="digits", out=clf_dir, model=model, seed=opts.seed,
                                                train=ClassifierTrainConfig()),
                         progress=lambda s, n, m: say("train random-label classifier", s, n, m))
        classifier = str(clf_dir)
        protection = Protection(classifier)

    runs: dict[str, Path] = {}
    say("sample unprotected", 0, 1, None)
    sample(SampleOptions(device=opts.device, model=model, out=work / "unprotected", n=opts.n, seed=opts.seed, write_png=False))
    runs["unprotected"] = work / "unprotected"
    say("sample with CPSample", 0, 1, None)
    sample(SampleOptions(device=opts.device, model=model, out=work / "cpsample", n=opts.n, seed=opts.seed,
                         protection=protection, write_png=False))
    runs["CPSample"] = work / "cpsample"
    say("rejection baseline", 0, 1, None)
    rejection_sample(RejectionOptions(device=opts.device, model=model, out=work / "rejection", n=opts.n, seed=opts.seed))
    runs["rejection"] = work / "rejection"
    dp_model = None
    if not opts.quick:
        dp_model = work / "dp-model"
        train_diffusion(TrainDiffusionOptions(device=opts.device, data="digits", out=dp_model, members=64, seed=opts.seed,
                                              dp=DPConfig(epsilon=10.0, delta=1e-3)),
                        progress=lambda s, n, m: say("train DP-SGD model (epsilon 10)", s, n, m))
        sample(SampleOptions(device=opts.device, model=dp_model, out=work / "dp", n=opts.n, seed=opts.seed, write_png=False))
        runs["DP-SGD"] = work / "dp"

    results: dict[str, dict] = {}
    mia_t = (50, 100, 200, 350) if not opts.quick else (100, 350)
    for label, samples in runs.items():
        say(f"audit {label}", 0, 1, None)
        m = dp_model if label == "DP-SGD" else model
        r = audit(AuditOptions(device=opts.device, samples=samples, data="digits", split=m / "split.json",
                               out=Path(opts.out) / label.lower(), model=m,
                               classifier=classifier if label == "CPSample" else None, mia_t=mia_t,
                               mia_draws=4 if opts.quick else 8, permutations=1000, seed=opts.seed,
                               policy=Policy(max_replica_rate=0.0)))
        results[label] = r.results
    say("comparison report", 0, 1, None)
    report([Path(opts.out) / label.lower() / "results.json" for label in results], Path(opts.out), labels=list(results))
    return DemoResult(Path(opts.out), results, time.perf_counter() - t0)
