"""`cpaudit demo` and `cpaudit tune`."""

from __future__ import annotations

from pathlib import Path

import typer

from cpaudit.cli.common import info, progress_bar, state, user_errors
from cpaudit.cli.options import DataOpt, Device, HoldoutOpt, MemberImagesOpt, Quiet, ResizeOpt, SplitOpt, number_list
from cpaudit.core.threat_models import THREAT_MODELS
from cpaudit.data.load import parse_resize
from cpaudit.data.members import MemberSource
from cpaudit.errors import InputError
from cpaudit.models.load import model_conditioning
from cpaudit.pipelines.demo import DemoOptions, demo
from cpaudit.pipelines.demo_text import TextDemoOptions, TextDemoResult, demo_text
from cpaudit.pipelines.tune import TuneOptions, tune
from cpaudit.pipelines.tune_grid import FAMILIES
from cpaudit.pipelines.tune_text import TEXT_FAMILIES, TextTuneOptions, tune_text, tune_text_markdown


def demo_cmd(
    out: Path = typer.Option(
        Path("cpaudit-demo"), "--out", help="Folder for the comparison report and each run's audit."
    ),
    work: Path = typer.Option(None, "--work", help="Folder for models and samples [default: OUT/runs]."),
    quick: bool = typer.Option(
        False, "--quick", help="Under 3 minutes: shorter training, exact-posterior CPSample, no DP model."
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=2**62),
    text: bool = typer.Option(
        False,
        "--text",
        help="The text-to-image experiment instead: a tiny Stable-Diffusion-architecture "
        "model memorising 64 captioned digits, prompted extraction under each sampling-time defence.",
    ),
    model: Path = typer.Option(
        None, "--model", help="With --text: reuse this trained pipeline folder instead of training one."
    ),
    arch: str | None = typer.Option(
        None,
        "--arch",
        help="With --text: the pipeline to train [default: sd]: sd (Stable "
        "Diffusion 1.x: a UNet, one CLIP text encoder; about 10 minutes), sdxl (SDXL: a UNet, two "
        "CLIP encoders, the pooled embedding and size/crop time ids), sd3 (Stable Diffusion 3: a "
        "rectified-flow MMDiT transformer, two CLIP encoders; 28 steps) or flux (FLUX.1: a "
        "rectified-flow transformer of double- and single-stream blocks, CLIP pooled and a T5 "
        "encoder; 28 steps). With --model: the folder's own.",
    ),
    device: str = Device,
    quiet: bool = Quiet,
) -> None:
    """Train, protect, sample and audit on the built-in digits, then write one comparison report.

    Example: cpaudit demo --quick

    Example: cpaudit demo --text --out cpaudit-demo-text

    Example: cpaudit demo --text --arch flux --out cpaudit-demo-flux
    """
    state.quiet = state.quiet or quiet
    if text and out == Path("cpaudit-demo"):
        out = Path("cpaudit-demo-text")
    with user_errors():
        if quick and text:
            raise InputError(
                "--quick",
                "applies to the pixel demo; --text takes about 10 minutes on 2 cores (--arch flux or sd3 about 5)",
            )
        if model is not None and not text:
            raise InputError("--model", "applies to --text")
        if arch is not None and not text:
            raise InputError("--arch", "applies to --text")
        with progress_bar("demo") as advance:
            current = {"stage": ""}  # metrics of the previous stage are cleared when a new one starts

            def stage(name: str, step: int, total: int, metrics: dict | None) -> None:
                if name != current["stage"]:
                    current["stage"] = name
                    metrics = metrics or {}
                advance(step, total, metrics, description=name)

            if text:
                text_result = demo_text(
                    TextDemoOptions(out=out, work=work, model=model, seed=seed, arch=arch, device=device), stage=stage
                )
            else:
                result = demo(DemoOptions(out=out, work=work, quick=quick, seed=seed, device=device), stage=stage)
    if text:
        print_text_demo(text_result)
        return
    for label, r in result.runs.items():
        aucs = "  ".join(
            f"{tm} {h['auc']:.3f}" if h else f"{tm} -"
            for tm in THREAT_MODELS
            for h in [r["threat_models"][tm]["strongest"]]
        )
        rej = ((r["setup"].get("sample_run") or {}).get("rejection") or {}).get("extra_samples")
        info(
            f"{label:12s} replicas {r['nn']['replicas']:3d}/{r['nn']['n_samples']} ({r['nn']['replica_rate']:.1%})  "
            f"{r['quality']['features']} FID {r['quality']['fid']:6.2f}  membership AUC by threat model: {aucs}"
            + (f"  extra samples {rej}" if rej is not None else "")
        )
    info("time by stage: " + ", ".join(f"{name} {sec:.0f} s" for name, sec in result.stage_seconds.items()))
    for label, r in result.runs.items():
        info(f"{label:12s} {r['verdict']}")
    info(f"done in {result.seconds:.0f} s -> {result.out / 'report.html'} (timings: {result.out / 'timings.json'})")


def print_text_demo(result: TextDemoResult) -> None:
    for row in result.table:
        c = row["captions"]
        info(
            f"{row['defence']:30s} extraction AUC {row['extraction_auc']:.3f}  member captions extracted "
            f"{c['member_captions_extracted']}/{c['n_member_captions']} vs held-out {c['holdout_captions_extracted']}/"
            f"{c['n_holdout_captions']} (Fisher p {c['fisher_p']:.2g})  pixel FID ratio {row['fid_ratio']:.2f}"
        )
    info("time by stage: " + ", ".join(f"{name} {sec:.0f} s" for name, sec in result.stage_seconds.items()))
    info(f"done in {result.seconds:.0f} s -> {result.out / 'report.html'} (figures: {result.out / 'text_demo.json'})")


def tune_cmd(
    model: Path = typer.Option(
        ..., "--model", help="The model to protect: its members (a cpaudit model's, or --split's) are compared."
    ),
    classifier: str = typer.Option(
        None,
        "--classifier",
        help="Learned random-label classifier folder; without it only "
        "the exact posterior, rejection, repulsion and DP-SGD are swept.",
    ),
    out: Path = typer.Option(..., "--out"),
    defences: str = typer.Option(
        None,
        "--defences",
        help="Comma-separated defences to sweep [default: all]: "
        f"{', '.join(FAMILIES)}; for a text-to-image model {', '.join(TEXT_FAMILIES)}.",
    ),
    n_tune: int = typer.Option(
        1024, "--n-tune", help="Samples per tuning point (as many as evaluation: FID is biased by 1/N)."
    ),
    n_eval: int = typer.Option(1024, "--n-eval", help="Samples per evaluation point."),
    tune_seed: int = typer.Option(2_000_000, "--tune-seed", min=0, max=2**62),
    eval_seed: int = typer.Option(1_000_000, "--eval-seed", min=0, max=2**62),
    fid_budget: float = typer.Option(
        2.0, "--fid-budget", help="Chosen settings keep FID within this multiple of unprotected."
    ),
    dp_epsilons: str = typer.Option("1,10,100", "--dp-epsilons", help="DP-SGD runs to train and sample ('' for none)."),
    points: int = typer.Option(4, "--points-per-defence"),
    small: bool = typer.Option(False, "--small", help="Two settings a defence: a quick look, not a frontier."),
    steps: int = typer.Option(50, "--steps", help="DDIM steps per sample."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**62),
    split: Path | None = SplitOpt,
    data: str | None = DataOpt,
    members: str | None = MemberImagesOpt,
    holdout: str | None = HoldoutOpt,
    resize: str | None = ResizeOpt,
    device: str = Device,
    quiet: bool = Quiet,
) -> None:
    """Put every defence on one privacy/quality frontier: sweep on tuning seeds, evaluate on others.

    Example: cpaudit tune --model runs/model --classifier runs/classifier --out reports/tune
    Example: cpaudit tune --model sd-finetune --split split.json --out reports/tune
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        membership = MemberSource(data, split, members, holdout, parse_resize(resize))
        if model_conditioning(model) == "text":
            _tune_text(model, classifier, out, defences, tune_seed, eval_seed, small, steps, device, membership)
            return
        opts = TuneOptions(
            model=model,
            classifier=classifier,
            out=out,
            n_tune=n_tune,
            n_eval=n_eval,
            tune_seed=tune_seed,
            eval_seed=eval_seed,
            fid_budget=fid_budget,
            dp_epsilons=number_list(dp_epsilons, "--dp-epsilons", float) if dp_epsilons else (),
            families=tuple(x.strip() for x in defences.split(",")) if defences else None,
            points_per_defence=points,
            small=small,
            steps=steps,
            seed=seed,
            device=device,
            membership=membership,
        )
        with progress_bar("tune") as advance:
            result = tune(opts, progress=lambda what, k, total: advance(k, total, description=what))
    for kind, d in result.defaults.items():
        c = d["chosen"]
        if c is None:
            info(f"{kind}: {d['why']}")
            continue
        e = d["evaluation"]
        info(
            f"{kind} classifier, chosen on tuning seeds: --alpha {c['alpha']:g} --scale {c['scale']:g} ({c['rule']}, {c['space']}); "
            + (
                ""
                if e is None
                else f"evaluation seeds: sample-only AUC {e['sample_only_auc']:.3f}, FID {e['fid']:.2f}, "
                f"replicas {e['replicas']}/{e['n_samples']}"
            )
        )
    info(f"done in {result.seconds:.0f} s -> {result.out / 'report.html'}")


def _tune_text(
    model: Path,
    classifier: str | None,
    out: Path,
    defences: str | None,
    tune_seed: int,
    eval_seed: int,
    small: bool,
    steps: int,
    device: str,
    membership: MemberSource,
) -> None:
    """A text-to-image pipeline: its sampling-time defences tuned by prompted extraction (pipelines/tune_text.py)."""
    opts = TextTuneOptions(
        model=model,
        out=out,
        classifier=classifier,
        tune_seed=tune_seed,
        eval_seed=eval_seed if eval_seed != 1_000_000 else TextTuneOptions.eval_seed,
        families=tuple(x.strip() for x in defences.split(",")) if defences else None,
        small=small,
        steps=steps,
        device=device,
        membership=membership,
    )
    with progress_bar("tune") as advance:
        record = tune_text(opts, progress=lambda what, k, total: advance(k, total, description=what))
    info(tune_text_markdown(record))
    info(f"-> {Path(out) / 'tune.json'}, {Path(out) / 'report.md'}")
