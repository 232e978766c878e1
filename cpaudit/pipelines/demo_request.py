"""Every option of `demo`, declared once (cpaudit/options.py): the CLI's flags, the Python API's keywords and
their help come from `DemoRequest`. `run_demo` runs the pixel demo (pipelines/demo.py) or, with `text`, the
text-to-image one (pipelines/demo_text.py), after refusing the options that belong to the other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpaudit.device import DEVICE_HELP
from cpaudit.errors import InputError
from cpaudit.options import as_path, option
from cpaudit.pipelines.demo import DemoOptions, DemoResult, Stage, demo
from cpaudit.pipelines.demo_text import TextDemoOptions, TextDemoResult, demo_text


@dataclass(frozen=True)
class DemoRequest:
    """What the user asks `demo` for, as the command line and the API take it."""

    out: Path = option(
        DemoOptions.out, parse=as_path, help="Folder for the comparison report and each run's audit."
    )  # with --text and this default: TextDemoOptions.out
    work: Path | None = option(None, parse=as_path, help="Folder for models and samples [default: OUT/runs].")
    quick: bool = option(False, help="Under 3 minutes: shorter training, exact-posterior CPSample, no DP model.")
    seed: int = option(0, min=0, max=2**62, help="")
    text: bool = option(
        False,
        help="The text-to-image experiment instead: a tiny Stable-Diffusion-architecture model memorising 64 "
        "captioned digits, prompted extraction under each sampling-time defence.",
    )
    model: Path | None = option(
        None, parse=as_path, help="With --text: reuse this trained pipeline folder instead of training one."
    )
    arch: str | None = option(
        None,
        help="With --text: the pipeline to train [default: sd]: sd (Stable Diffusion 1.x: a UNet, one CLIP text "
        "encoder; about 10 minutes), sdxl (SDXL: a UNet, two CLIP encoders, the pooled embedding and size/crop "
        "time ids), sd3 (Stable Diffusion 3: a rectified-flow MMDiT transformer, two CLIP encoders; 28 steps) or "
        "flux (FLUX.1: a rectified-flow transformer of double- and single-stream blocks, CLIP pooled and a T5 "
        "encoder; 28 steps). With --model: the folder's own.",
    )
    classifier: Path | None = option(
        None, parse=as_path, help="With --text: reuse this random-label classifier of --model instead of training one."
    )
    frontier: bool = option(
        False,
        help="With --text: also the newer defences (delayed and opposite guidance, anti-memorisation guidance, "
        "CPSample pushing from the member being copied).",
    )
    reference: Path | None = option(
        None,
        parse=as_path,
        help="With --text: a reference model (train-diffusion --reference-for MODEL): its samples, audited against "
        "the same members, are the privacy and quality a defence can aim at.",
    )
    device: str = option("auto", help=DEVICE_HELP)


def check_request(req: DemoRequest) -> None:
    """The text demo's options refused in the pixel demo and the other way round (one line naming the flag)."""
    if req.quick and req.text:
        raise InputError(
            "--quick",
            "applies to the pixel demo; --text takes about 10 minutes on 2 cores (--arch flux or sd3 about 5)",
        )
    if req.model is not None and not req.text:
        raise InputError("--model", "applies to --text")
    for flag, given in (
        ("--arch", req.arch is not None),
        ("--classifier", req.classifier is not None),
        ("--frontier", req.frontier),
        ("--reference", req.reference is not None),
    ):
        if given and not req.text:
            raise InputError(flag, "applies to --text")
    if req.classifier is not None and req.model is None:
        raise InputError("--classifier", "needs the --model it was trained for")


def run_demo(req: DemoRequest, stage: Stage | None = None) -> DemoResult | TextDemoResult:
    """Train, protect, sample and audit, then write one comparison report; `stage(name, step, total, metrics)`
    as the work goes."""
    check_request(req)
    if not req.text:
        return demo(DemoOptions(out=req.out, work=req.work, quick=req.quick, seed=req.seed, device=req.device), stage)
    out = TextDemoOptions.out if req.out == DemoOptions.out else req.out
    opts = TextDemoOptions(
        out=out,
        work=req.work,
        model=req.model,
        seed=req.seed,
        arch=req.arch,
        classifier=req.classifier,
        frontier=req.frontier,
        reference=req.reference,
        device=req.device,
    )
    return demo_text(opts, stage=stage)
