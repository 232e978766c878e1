"""`cpaudit demo` and `cpaudit tune`."""

from __future__ import annotations

from pathlib import Path

import typer

from cpaudit.cli.common import info, progress_bar, state, user_errors
from cpaudit.cli.options import Device, Quiet, number_list
from cpaudit.core.threat_models import THREAT_MODELS, strongest_attack
from cpaudit.pipelines.demo import DemoOptions, demo
from cpaudit.pipelines.tune import TuneOptions, tune


def demo_cmd(
    out: Path = typer.Option(Path("cpaudit-demo"), "--out", help="Folder for the comparison report and each run's audit."),
    work: Path = typer.Option(None, "--work", help="Folder for models and samples [default: OUT/runs]."),
    quick: bool = typer.Option(False, "--quick", help="Under 3 minutes: shorter training, exact-posterior CPSample, no DP model."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**62),
    device: str = Device,
    quiet: bool = Quiet,
) -> None:
    """Train, protect, sample and audit on the built-in digits, then write one comparison report.

    Example: cpaudit demo --quick
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        with progress_bar("demo") as advance:
            current = {"stage": ""}  # metrics of the previous stage are cleared when a new one starts

            def stage(name: str, step: int, total: int, metrics: dict | None) -> None:
                if name != current["stage"]:
                    current["stage"] = name
                    metrics = metrics or {}
                advance(step, total, metrics, description=name)

            result = demo(DemoOptions(out=out, work=work, quick=quick, seed=seed, device=device), stage=stage)
    for label, r in result.runs.items():
        aucs = "  ".join(f"{tm} {a['auc']:.3f}" if a else f"{tm} -" for tm in THREAT_MODELS
                         for a in [strongest_attack(r["attacks"], tm)[1]])
        rej = ((r["setup"].get("sample_run") or {}).get("rejection") or {}).get("extra_samples")
        info(f"{label:12s} replicas {r['nn']['replicas']:3d}/{r['nn']['n_samples']} ({r['nn']['replica_rate']:.1%})  "
             f"{r['quality']['features']} FID {r['quality']['fid']:6.2f}  membership AUC by threat model: {aucs}"
             + (f"  extra samples {rej}" if rej is not None else ""))
    info("time by stage: " + ", ".join(f"{name} {sec:.0f} s" for name, sec in result.stage_seconds.items()))
    info(f"done in {result.seconds:.0f} s -> {result.out / 'report.html'}")


def tune_cmd(
    model: Path = typer.Option(..., "--model"),
    classifier: str = typer.Option(..., "--classifier", help="Classifier folder or 'exact'."),
    data: str = typer.Option("digits", "--data"),
    split: Path = typer.Option(None, "--split", help="split.json [default: MODEL/split.json]."),
    out: Path = typer.Option(..., "--out"),
    alphas: str = typer.Option("0.05,0.2,0.4", "--alphas"),
    scales: str = typer.Option("10,30,100,300", "--scales"),
    rule: str = typer.Option("opposite-label", "--rule"),
    n: int = typer.Option(256, "--n", min=2),
    seed: int = typer.Option(0, "--seed", min=0, max=2**62),
    device: str = Device,
    quiet: bool = Quiet,
) -> None:
    """Sweep CPSample's alpha and scale, audit each point, and pick the least intrusive zero-replica setting.

    Example: cpaudit tune --model runs/model --classifier runs/classifier --out runs/tune
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        opts = TuneOptions(model=model, classifier=classifier, data=data, split=split or model / "split.json", out=out,
                           alphas=number_list(alphas, "--alphas", float), scales=number_list(scales, "--scales", float), rule=rule, n=n, seed=seed,
                           device=device)
        with progress_bar("tune") as advance:
            result = tune(opts, progress=lambda k, total: advance(k, total))
    if result.best is None:
        info("no setting in the grid removed every replica")
    else:
        b = result.best
        info(f"least intrusive zero-replica setting: --alpha {b['alpha']:g} --scale {b['scale']:g} (FID {b['fid']:.2f})")
    info(f"-> {result.out / 'report.html'}")
