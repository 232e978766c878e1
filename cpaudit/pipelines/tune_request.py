"""Every option of `tune`, declared once (cpaudit/options.py): the CLI's flags, the Python API's keywords and
their help come from `TuneRequest`. `run_tune` sweeps a pixel model's defences (pipelines/tune.py) or a
text-to-image pipeline's (pipelines/tune_text.py), as the model folder says, so the CLI and a notebook tune alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpaudit.data.imageset import ImageSet
from cpaudit.data.members import MEMBERSHIP_HELP, MemberSource
from cpaudit.device import DEVICE_HELP
from cpaudit.errors import InputError
from cpaudit.models.load import model_conditioning
from cpaudit.options import as_path, option, size_hw
from cpaudit.pipelines.tune import TuneOptions, TuneResult, tune
from cpaudit.pipelines.tune_grid import FAMILIES
from cpaudit.pipelines.tune_text import TEXT_FAMILIES, TextTuneOptions, tune_text

Progress = Callable[[str, int, int], None]  # (what, points done, points in this stage)


def _names(value: Any) -> tuple[str, ...]:
    """'exact, learned' (the command line) or ['exact', 'learned'] (the API) -> ('exact', 'learned')."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(x).strip() for x in items)


def _epsilons(value: Any) -> tuple[float, ...]:
    """'1,10,100' or [1, 10, 100] -> (1.0, 10.0, 100.0); '' for none."""
    if value == "":
        return ()
    return tuple(float(x) for x in (value.split(",") if isinstance(value, str) else value))


def _source(value: object) -> str | ImageSet:
    return value if isinstance(value, ImageSet) else str(value)


@dataclass(frozen=True, kw_only=True)  # in the command line's order: --out after --classifier
class TuneRequest:
    """What the user asks `tune` for, as the command line and the API take it (flat, unresolved)."""

    model: Path = option(
        parse=as_path,
        help="The model to protect: its members (a cpaudit model's, or --split's) are compared.",
    )
    classifier: str | None = option(
        None,
        help="Learned random-label classifier folder; without it only the exact posterior, rejection, repulsion and "
        "DP-SGD are swept.",
    )
    out: Path = option(parse=as_path, help="")
    defences: tuple[str, ...] | None = option(
        None,
        cli_type=str | None,
        parse=_names,
        help=f"Comma-separated defences to sweep [default: all]: {', '.join(FAMILIES)}; for a text-to-image model "
        f"{', '.join(TEXT_FAMILIES)}.",
    )
    n_tune: int = option(1024, help="Samples per tuning point (as many as evaluation: FID is biased by 1/N).")
    n_eval: int = option(1024, help="Samples per evaluation point.")
    tune_seed: int = option(2_000_000, min=0, max=2**62, help="")
    eval_seed: int | None = option(
        None,
        min=0,
        max=2**62,
        help=f"First evaluation seed [default: {TuneOptions.eval_seed}; {TextTuneOptions.eval_seed} for a "
        "text-to-image model].",
    )
    fid_budget: float = option(2.0, help="Chosen settings keep FID within this multiple of unprotected.")
    dp_epsilons: tuple[float, ...] = option(
        (1.0, 10.0, 100.0),
        cli_type=str,
        parse=_epsilons,
        shown=lambda v: ",".join(f"{e:g}" for e in v),
        help="DP-SGD runs to train and sample ('' for none).",
    )
    points_per_defence: int = option(4, help="")
    reference: Path | None = option(
        None,
        parse=as_path,
        help="A reference model (train-diffusion --reference-for MODEL): drawn unprotected beside every defence; "
        "FID is also read as a multiple of its FID, and its members leave the held-out set.",
    )
    small: bool = option(False, help="Two settings a defence: a quick look, not a frontier.")
    steps: int = option(50, help="DDIM steps per sample.")
    seed: int = option(0, min=0, max=2**62, help="")
    # Which images the model was trained on (data/members.py, whose MEMBERSHIP_HELP every command shows).
    split: Path | None = option(None, parse=as_path, help=MEMBERSHIP_HELP["split"])
    data: str | None = option(None, parse=str, help=MEMBERSHIP_HELP["data"])
    members: str | ImageSet | None = option(
        None, cli_type=str | None, metavar="DIR|FILE", parse=_source, help=MEMBERSHIP_HELP["members"]
    )
    holdout: str | ImageSet | None = option(
        None, cli_type=str | None, metavar="DIR|FILE", parse=_source, help=MEMBERSHIP_HELP["holdout"]
    )
    resize: tuple[int, int] | None = option(
        None, cli_type=str | None, metavar="HxW", parse=size_hw, help=MEMBERSHIP_HELP["resize"]
    )
    device: str = option("auto", help=DEVICE_HELP)


def run_tune(req: TuneRequest, progress: Progress | None = None) -> TuneResult | dict:
    """Sweep the model's defences: a TuneResult for a pixel model, tune.json's record for a text-to-image one."""
    membership = MemberSource(req.data, req.split, req.members, req.holdout, req.resize)
    if model_conditioning(req.model) == "text":
        if req.reference is not None:
            raise InputError("--reference", "applies to a pixel model; a text-to-image sweep does not draw one yet")
        return tune_text(_text_options(req, membership), progress=progress)
    opts = TuneOptions(
        model=req.model,
        classifier=req.classifier,
        out=req.out,
        n_tune=req.n_tune,
        n_eval=req.n_eval,
        tune_seed=req.tune_seed,
        eval_seed=TuneOptions.eval_seed if req.eval_seed is None else req.eval_seed,
        fid_budget=req.fid_budget,
        dp_epsilons=req.dp_epsilons,
        families=req.defences,
        points_per_defence=req.points_per_defence,
        small=req.small,
        steps=req.steps,
        seed=req.seed,
        device=req.device,
        membership=membership,
        reference=req.reference,
    )
    return tune(opts, progress=progress)


def _text_options(req: TuneRequest, membership: MemberSource) -> TextTuneOptions:
    """A text-to-image pipeline: its sampling-time defences tuned by prompted extraction (pipelines/tune_text.py)."""
    return TextTuneOptions(
        model=req.model,
        out=req.out,
        classifier=req.classifier,
        tune_seed=req.tune_seed,
        eval_seed=TextTuneOptions.eval_seed if req.eval_seed is None else req.eval_seed,
        families=req.defences,
        small=req.small,
        steps=req.steps,
        device=req.device,
        membership=membership,
    )
