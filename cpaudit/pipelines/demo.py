"""`cpaudit demo`: the whole story on the built-in digits, offline.

Train a memorising model on 64 members, CPSample's random-label classifier and (default run) a DP-SGD
model with its non-DP control at the same steps, batch size and learning rate; sample unprotected, with
CPSample, with the rejection baseline and from both DP-run models; audit each under the default gates (no
replicas above the held-out base rate, no attack above its chance band); write one comparison report, by
threat model, and timings.json (the time of each stage, and the machine).

Samples use seeds 1000 on: CPSample's defaults were chosen on seeds 2,000,000 on (reports/tune), and a figure is not reported
on the seeds that chose it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cpaudit.io_utils import write_json
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
from cpaudit.version import __version__

# The demo runs one setting per defence; the frontier of every defence is a longer run, committed.
FRONTIER_NOTE = (
    "Every defence on one privacy/quality frontier (CPSample and its variants, rejection, nearest-member "
    "repulsion, DP-SGD), chosen on tuning seeds and measured on 1,024 evaluation samples a point: "
    "reports/tune/report.md in the cpaudit repository, made by `cpaudit tune --model reports/demo/runs/model "
    "--classifier reports/demo/runs/classifier --out reports/tune`."
)

Stage = Callable[[str, int, int, dict[str, float] | None], None]  # (stage, step, total, metrics)


@dataclass(frozen=True)
class DemoOptions:
    out: Path = Path("cpaudit-demo")  # a new folder: the committed reports/demo is made with --out reports/demo
    work: Path | None = None  # models and samples; default OUT/runs
    quick: bool = False  # under 3 minutes: shorter training, exact-posterior CPSample, no DP model
    seed: int = 0  # training, split, labels and audit
    sample_seed: int = (
        1000  # first sample's seed: apart from the seeds the protection defaults were tuned on (2,000,000 on)
    )
    n: int = 256
    device: str = "auto"  # see device.py


@dataclass
class DemoResult:
    out: Path
    runs: dict[str, dict]  # label -> results.json
    seconds: float
    stage_seconds: dict[str, float]  # wall time of each stage, in order


class StageClock:
    """A Stage that forwards progress and times each stage from its first report to the next stage's."""

    def __init__(self, forward: Stage | None) -> None:
        self.forward = forward
        self.seconds: dict[str, float] = {}
        self.name, self.t = "", time.perf_counter()

    def __call__(self, name: str, step: int, total: int, metrics: dict[str, float] | None) -> None:
        now = time.perf_counter()
        if name != self.name:
            if self.name:
                self.seconds[self.name] = self.seconds.get(self.name, 0.0) + now - self.t
            self.name, self.t = name, now
        if self.forward is not None and name:
            self.forward(name, step, total, metrics)

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.seconds.items()}


def demo(opts: DemoOptions, stage: Stage | None = None) -> DemoResult:
    t0 = time.perf_counter()
    say = StageClock(stage)
    work = Path(opts.work) if opts.work is not None else Path(opts.out) / "runs"
    model = work / "model"
    steps = 2500 if opts.quick else 4000
    train_diffusion(
        TrainDiffusionOptions(
            device=opts.device,
            data="digits",
            out=model,
            members=64,
            seed=opts.seed,
            train=DiffusionTrainConfig(steps=steps),
        ),
        progress=lambda s, n, m: say("train memorising model", s, n, m),
    )
    if opts.quick:
        classifier = "exact"
        protection = Protection("exact")  # the exact posterior's own defaults (protection.KIND_DEFAULTS)
    else:
        clf_dir = work / "classifier"
        train_classifier(
            TrainClassifierOptions(
                device=opts.device,
                data="digits",
                out=clf_dir,
                model=model,
                seed=opts.seed,
                train=ClassifierTrainConfig(),
            ),
            progress=lambda s, n, m: say("train random-label classifier", s, n, m),
        )
        classifier = str(clf_dir)
        protection = Protection(classifier)

    runs: dict[str, Path] = {}
    say("sample unprotected", 0, 1, None)
    sample(
        SampleOptions(
            device=opts.device, model=model, out=work / "unprotected", n=opts.n, seed=opts.sample_seed, write_png=False
        )
    )
    runs["unprotected"] = work / "unprotected"
    say("sample with CPSample", 0, 1, None)
    sample(
        SampleOptions(
            device=opts.device,
            model=model,
            out=work / "cpsample",
            n=opts.n,
            seed=opts.sample_seed,
            protection=protection,
            write_png=False,
        )
    )
    runs["CPSample"] = work / "cpsample"
    say("rejection baseline", 0, 1, None)
    rejection_sample(
        RejectionOptions(device=opts.device, model=model, out=work / "rejection", n=opts.n, seed=opts.sample_seed)
    )
    runs["rejection"] = work / "rejection"
    models = {label: model for label in runs}
    if not opts.quick:
        dp = DPConfig(epsilon=10.0, delta=1e-3)
        # The control trains as the DP run does (steps, batch size, learning rate, EMA) without clipping or
        # noise, so the DP row's loss of quality and of leakage is DP's, not that of a shorter training.
        control = DiffusionTrainConfig(
            steps=dp.steps, batch_size=dp.expected_batch_size, lr=dp.lr, ema_decay=dp.ema_decay
        )
        for label, folder, kw in (("DP-SGD", "dp", {"dp": dp}), ("DP control", "dp-control", {"train": control})):
            m = work / f"{folder}-model"
            train_diffusion(
                TrainDiffusionOptions(device=opts.device, data="digits", out=m, members=64, seed=opts.seed, **kw),
                progress=partial(say, f"train {label} model"),
            )
            sample(
                SampleOptions(
                    device=opts.device, model=m, out=work / folder, n=opts.n, seed=opts.sample_seed, write_png=False
                )
            )
            runs[label], models[label] = work / folder, m

    results = audit_runs(opts, runs, models, classifier, say)
    say("", 0, 1, None)  # closes the last stage
    seconds = time.perf_counter() - t0
    write_json(
        Path(opts.out) / "timings.json",
        {
            "quick": opts.quick,
            "total_seconds": round(seconds, 1),
            "stage_seconds": say.rounded(),
            "machine": machine_description(),
            "cpaudit_version": __version__,
        },
    )
    return DemoResult(Path(opts.out), results, seconds, say.seconds)


def audit_runs(
    opts: DemoOptions, runs: dict[str, Path], models: dict[str, Path], classifier: str, say: Stage
) -> dict[str, dict]:
    """Audit each run (label -> samples folder) under the default gates into OUT/<label>, then the comparison report."""
    results: dict[str, dict] = {}
    mia_t = (50, 100, 200, 350) if not opts.quick else (100, 350)
    for label, samples in runs.items():
        say(f"audit {label}", 0, 1, None)
        m = models[label]
        r = audit(
            AuditOptions(
                device=opts.device,
                samples=samples,
                data="digits",
                split=m / "split.json",
                out=Path(opts.out) / _folder(label),
                model=m,
                classifier=classifier if label == "CPSample" else None,
                mia_t=mia_t,
                mia_draws=4 if opts.quick else 8,
                permutations=1000,
                seed=opts.seed,
            )
        )  # the default gates
        results[label] = r.results
    say("comparison report", 0, 1, None)
    report(
        [Path(opts.out) / _folder(label) / "results.json" for label in results],
        Path(opts.out),
        labels=list(results),
        notes=[FRONTIER_NOTE],
    )
    return results


# The full demo's runs: label -> (samples folder, model folder) under its work folder.
DEMO_RUNS = {
    "unprotected": ("unprotected", "model"),
    "CPSample": ("cpsample", "model"),
    "rejection": ("rejection", "model"),
    "DP-SGD": ("dp", "dp-model"),
    "DP control": ("dp-control", "dp-control-model"),
}


def reaudit_demo(opts: DemoOptions, stage: Stage | None = None) -> dict[str, dict]:
    """Audit a full demo's committed runs again (models, classifier and samples as they are in its work folder) and
    rewrite its reports: what a change to the audit does to the committed demo, without training anything.
    `python -m cpaudit.pipelines.demo --reaudit --out reports/demo` from the repository root."""
    work = Path(opts.work) if opts.work is not None else Path(opts.out) / "runs"
    runs = {label: work / folder for label, (folder, _) in DEMO_RUNS.items()}
    models = {label: work / model for label, (_, model) in DEMO_RUNS.items()}
    return audit_runs(opts, runs, models, str(work / "classifier"), StageClock(stage))


def machine_description() -> dict:
    """What the timings were measured on: cores, vector instructions, torch."""
    import os
    import platform

    import torch

    flags = ""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "avx512": "avx512f" in flags,
        "torch": torch.__version__,
    }


def _folder(label: str) -> str:
    return label.lower().replace(" ", "-")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Re-audit a full demo's committed runs and rewrite its reports.")
    ap.add_argument("--reaudit", action="store_true", required=True)
    ap.add_argument("--out", type=Path, default=Path("reports/demo"))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    reaudit_demo(DemoOptions(out=args.out, device=args.device))
