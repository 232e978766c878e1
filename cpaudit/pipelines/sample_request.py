"""Every option of `sample`, declared once (cpaudit/options.py): the CLI's flags, the Python API's keywords and
their help come from `SampleRequest`. `sample_options` turns a request into the SampleOptions that
pipelines/sample.py draws with: prompts (text, a file, or the captions an extraction audit prompts with),
class labels, a prompt defence, CPSample's settings and which images are members. The CLI and `cpaudit.sample`
both call it, so a notebook samples a text-to-image or class-conditional model as the command line does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpaudit.data.captions import read_prompts_file
from cpaudit.data.imageset import ImageSet
from cpaudit.data.members import MEMBERSHIP_HELP, MemberSource
from cpaudit.device import DEVICE_HELP
from cpaudit.errors import ConfigError, InputError
from cpaudit.options import as_path, int_tuple, option, size_hw
from cpaudit.pipelines.sample import SampleOptions, extraction_prompts
from cpaudit.sampling.amg import DEFAULT_AMG, Amg
from cpaudit.sampling.cfg_schedule import CFG_MODES, DEFAULT_EARLY_SCALE, DEFAULT_UNTIL, CfgSchedule
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.prompt_defences import DEFAULTS, PromptDefence
from cpaudit.sampling.protection import (
    FLOW_KIND_DEFAULTS,
    GUIDE_WHEN,
    KIND_DEFAULTS,
    LATENT_KIND_DEFAULTS,
    Protection,
    guide_when_value,
)
from cpaudit.sampling.repulsion import Repulsion
from cpaudit.sampling.sampler import SamplerConfig

DEFAULT_N = 256  # samples drawn where neither --n nor a list of prompts says how many


def kind_defaults(name: str) -> str:
    """The classifier kinds' defaults of one setting for --help, per model kind where they differ (sampling/
    protection.py's KIND_DEFAULTS, LATENT_ and FLOW_KIND_DEFAULTS say how each was chosen)."""
    where = {"learned": "a classifier folder", "exact": "exact"}

    def one(table: dict) -> str:
        values = {k: table[k][name] for k in table}
        return ", ".join(
            f"{v:g} for {where[k]}" if isinstance(v, float) else f"{v} for {where[k]}" for k, v in values.items()
        )

    tables = {"pixel models": KIND_DEFAULTS, "latent models": LATENT_KIND_DEFAULTS, "SD3/FLUX": FLOW_KIND_DEFAULTS}
    texts = {kind: one(table) for kind, table in tables.items()}
    if len(set(texts.values())) == 1:
        return texts["pixel models"]
    return "; ".join(f"{kind}: {text}" for kind, text in texts.items())


def _prompts_value(value: Any) -> Path | tuple[str, ...]:
    """--prompts FILE, or (the API) the prompts themselves."""
    if isinstance(value, (str, Path)):
        return Path(value)
    if isinstance(value, Sequence) and all(isinstance(p, str) for p in value):
        return tuple(value)
    raise ValueError("expected a prompts file's path or a list of prompts")


def _class_labels(value: Any) -> tuple[int, ...]:
    return int_tuple([value] if isinstance(value, int) else value)


def _help_example(*lines: str) -> str:
    return "\n\n".join(f"Example: {line}" for line in lines)


SAMPLE_DOC = "Draw samples from a model, optionally protected by CPSample.\n\n" + _help_example(
    "cpaudit sample --model runs/model --out runs/protected --protect --classifier runs/classifier",
    "cpaudit sample --model runs/sd --prompts captions.txt --guidance-scale 7.5 --out runs/prompted",
    "cpaudit sample --model sd-finetune --extraction --split split.json --protect --out runs/protected",
)


@dataclass(frozen=True)
class SampleRequest:
    """What the user asks `sample` for, as the command line and the API take it (flat, unresolved)."""

    model: Path = option(
        help="Model folder: written by train-diffusion, or a diffusers pipeline or UNet2DModel folder.", parse=as_path
    )
    out: Path = option(help="Folder for {seed:06d}.png, samples.npz and run.json.", parse=as_path)
    n: int | None = option(
        None,
        flags=("--n", "--num-samples"),
        min=1,
        max=10_000_000,
        help=f"Number of samples; sample i uses seed + i [default: one per line of --prompts, else {DEFAULT_N}].",
    )
    steps: int = option(50, min=1, help="Sampling steps.")
    seed: int = option(0, min=0, max=2**62, help="First sample's seed.")
    method: str = option("ddim", help="ddim or ddpm.")
    eta: float = option(0.0, min=0.0, max=1.0, help="DDIM stochasticity (0 = deterministic).")
    batch_size: int = option(256, min=1, max=65536, help="Samples per batch (does not change the images).")
    protect: bool = option(False, help="Apply CPSample guidance.")
    classifier: str = option("exact", help="Classifier folder, or 'exact' for the exact posterior.")
    alpha: float | None = option(
        None, min=0.0, max=0.5, help=f"Guide where p < alpha or p > 1 - alpha [default: {kind_defaults('alpha')}]."
    )
    scale: float | None = option(None, min=0.0, max=1e9, help=f"Guidance scale s [default: {kind_defaults('scale')}].")
    rule: str | None = option(
        None,
        help="opposite-label, toward-half or away-from-member (exact posterior only: pushes off the most probable "
        f"member) [default: {kind_defaults('rule')}].",
    )
    space: str | None = option(
        None,
        help="What the classifier reads: x_t, or x0 (the denoiser's "
        f"predicted clean image) [default: {kind_defaults('space')}].",
    )
    t_min: int = option(0, min=0, help="Guide only at t >= this.")
    t_max: int | None = option(
        None,
        min=0,
        help="Guide only at t <= this [default: every t]. The learned classifier never fired above t 714 on the "
        "demo model, so 750 there costs less and changes no sample (benchmarks/results/cpsample_cuts.json).",
    )
    check_every: int = option(
        1,
        min=1,
        max=1000,
        help="Run CPSample's confidence check every K-th step; rows found confident are guided at the steps between "
        "(cheaper, but it changes the samples: see benchmarks/RESULTS.md).",
    )
    repel_threshold: float | None = option(
        None,
        min=-1.0,
        max=1.0,
        help="Push each sample's predicted x0 away from its nearest member where their correlation reaches this "
        "(nearest-member repulsion; after CPSample with --protect). Needs the members [default: off].",
    )
    repel_scale: float = option(30.0, min=0.0, max=1e9, help="--repel-threshold: the push's scale.")
    guide_when: str = option(
        "confident",
        choices=GUIDE_WHEN,
        parse=guide_when_value,
        old=("--guide",),
        help="confident (where p < alpha or p > 1 - alpha) or every-step.",
    )
    label_seed: int | None = option(None, min=0, help="Labels for --classifier exact.")
    prompt: str | None = option(None, help="Text-to-image models: the prompt of every sample.")
    prompts: Path | tuple[str, ...] | None = option(
        None,
        cli_type=Path | None,
        parse=_prompts_value,
        help="Text-to-image models: a file of prompts, one per line, or a "
        "metadata.jsonl; sample i takes prompt i (cycling).",
    )
    extraction: bool = option(
        False,
        help="Text-to-image models: prompt with every member's caption "
        "and as many held-out captions (from --split, else the model folder's split.json), "
        "--per-caption seeds each: the samples a prompted-extraction audit reads.",
    )
    per_caption: int = option(4, min=1, max=10_000, help="With --extraction: samples per caption.")
    # Which images the model was trained on (the exact posterior's members, --extraction's captions):
    # data/members.py, whose MEMBERSHIP_HELP every command shows.
    split: Path | None = option(None, parse=as_path, help=MEMBERSHIP_HELP["split"])
    data: str | None = option(None, parse=str, help=MEMBERSHIP_HELP["data"])
    members: str | Path | ImageSet | None = option(
        None, cli_type=str | None, metavar="DIR|FILE", help=MEMBERSHIP_HELP["members"]
    )
    holdout: str | Path | ImageSet | None = option(
        None, cli_type=str | None, metavar="DIR|FILE", help=MEMBERSHIP_HELP["holdout"]
    )
    resize: tuple[int, int] | None = option(
        None, cli_type=str | None, metavar="HxW", parse=size_hw, help=MEMBERSHIP_HELP["resize"]
    )
    prompt_defence: str | None = option(
        None,
        help="Text-to-image models: alter each prompt instead of "
        "guiding: embedding-noise, random-tokens or prompt-optimisation (sampling/prompt_defences.py).",
    )
    sigma: float | None = option(
        None,
        min=0.0,
        max=1e6,
        help=f"embedding-noise: the noise's standard deviation [default: {DEFAULTS['embedding-noise']['sigma']:g}].",
    )
    tokens: int | None = option(
        None, min=1, max=64, help=f"random-tokens: words inserted [default: {DEFAULTS['random-tokens']['tokens']}]."
    )
    target_norm: float | None = option(
        None,
        min=0.0,
        max=1e6,
        help="prompt-optimisation: the first "
        f"step's noise norm to reach [default: {DEFAULTS['prompt-optimisation']['target_norm']:g}].",
    )
    guidance_scale: float | None = option(
        None,
        min=1.0,
        max=1000.0,
        show_default=False,
        help="How far the prompt pulls (text-to-image models): classifier-free guidance on "
        "SD, SDXL and SD3 (default 7.5; SD3 7.0), FLUX.1-dev's distilled guidance "
        "(default 3.5), true classifier-free guidance against the negative or empty "
        "prompt on a FLUX without a guidance embedding (default 1: none, as schnell).",
    )
    negative_prompt: str | None = option(None, help="The unconditional half's prompt [default: empty].")
    cfg_schedule: str = option(
        "constant",
        choices=("constant", *CFG_MODES),
        help="Text-to-image models: constant guidance, or delayed (no guidance early) or opposite (negative "
        "guidance early) classifier-free guidance (Jain et al. 2025; sampling/cfg_schedule.py).",
    )
    cfg_until: float | None = option(
        None,
        min=0.0,
        max=1.0,
        help="delayed/opposite: fraction of the diffusion time, from the noisiest step, at the early scale "
        f"[default: {DEFAULT_UNTIL['delayed']:g} delayed, {DEFAULT_UNTIL['opposite']:g} opposite].",
    )
    cfg_early_scale: float | None = option(
        None,
        min=-100.0,
        max=1.0,
        help="delayed (0 to 1) / opposite (< 0): the guidance scale of the early steps "
        f"[default: {DEFAULT_EARLY_SCALE['delayed']:g} delayed, {DEFAULT_EARLY_SCALE['opposite']:g} opposite].",
    )
    amg: bool = option(
        False,
        help="Text-to-image models: anti-memorisation guidance (Chen et al. 2024; sampling/amg.py), which needs the "
        "members and their captions.",
    )
    amg_threshold: float = option(
        DEFAULT_AMG["threshold"],
        min=-1.0,
        max=1.0,
        help="--amg: guide where x0's nearest member correlates above this.",
    )
    amg_spe: float = option(DEFAULT_AMG["spe"], min=0.0, max=1e6, help="--amg: despecification scale c1.")
    amg_dup: float = option(
        DEFAULT_AMG["dup"],
        min=0.0,
        max=1e6,
        show_default=False,
        help="--amg: caption deduplication scale c2 [default: 1/0.3, the authors'].",
    )
    amg_sim: float = option(DEFAULT_AMG["sim"], min=0.0, max=1e9, help="--amg: dissimilarity guidance scale c3.")
    class_label: tuple[int, ...] | None = option(
        None,
        cli_type=list[int] | None,
        min=0,
        parse=_class_labels,
        help="Class-conditional models: the class "
        "(repeat for several; sample i takes class i, cycling) [default: every class in turn].",
    )
    scheduler: str = option(
        "cpaudit",
        help="cpaudit (its own seeded DDIM/DDPM sampler) or native (a "
        "pipeline folder's own scheduler through diffusers, guidance entering through the UNet's output).",
    )
    lora: Path | None = option(
        None, parse=as_path, help="A LoRA .safetensors to apply to a Stable Diffusion pipeline folder."
    )
    device: str = option("auto", help=DEVICE_HELP)


def sample_options(req: SampleRequest) -> SampleOptions:
    """The request resolved: what to condition each sample on, how many, the protection, the members."""
    membership = MemberSource(req.data, req.split, req.members, req.holdout, req.resize)
    prompts = request_prompts(req, membership)
    listed = req.prompts is not None or req.extraction  # a list of prompts says how many samples by default
    n = req.n or (len(prompts) if listed and prompts is not None else DEFAULT_N)
    conditions = Conditions(
        None if prompts is None else tuple(prompts),
        req.guidance_scale,
        req.negative_prompt,
        req.class_label or None,
        request_prompt_defence(req),
        request_cfg_schedule(req),
        request_amg(req),
    )
    return SampleOptions(
        model=req.model,
        out=req.out,
        n=n,
        seed=req.seed,
        batch_size=req.batch_size,
        sampler=SamplerConfig(steps=req.steps, method=req.method, eta=req.eta),  # type: ignore[arg-type]
        protection=request_protection(req),
        repulsion=request_repulsion(req),
        label_seed=req.label_seed,
        membership=membership,
        device=req.device,
        conditions=conditions,
        lora=req.lora,
        scheduler=req.scheduler,
    )


def request_prompts(req: SampleRequest, membership: MemberSource) -> list[str] | None:
    """One of --prompt (every sample's), --prompts (a file, or the API's list) and --extraction (the member and
    held-out captions, --per-caption seeds each); None for a model that takes no prompt."""
    if (req.prompt is not None) + (req.prompts is not None) + req.extraction > 1:
        raise InputError("--prompt", "give one of --prompt, --prompts and --extraction")
    if req.prompt is not None:
        return [req.prompt]
    if isinstance(req.prompts, Path):
        return read_prompts_file(req.prompts)
    if req.prompts is not None:
        if not req.prompts:
            raise InputError("--prompts", "holds no prompts")
        return list(req.prompts)
    if req.extraction:
        return extraction_prompts(req.model, membership, req.per_caption, req.seed)
    return None


def request_prompt_defence(req: SampleRequest) -> PromptDefence | None:
    """--prompt-defence with its settings at their defaults where unset; settings without a defence refused."""
    if req.prompt_defence is not None:
        kind = req.prompt_defence
        return PromptDefence(kind, sigma=req.sigma, tokens=req.tokens, target_norm=req.target_norm).resolved()  # type: ignore[arg-type]
    if any(v is not None for v in (req.sigma, req.tokens, req.target_norm)):
        raise InputError("--prompt-defence", "--sigma, --tokens and --target-norm set a --prompt-defence; give one")
    return None


def request_protection(req: SampleRequest) -> Protection | None:
    """CPSample's settings with --protect (those unset take the classifier kind's and model kind's defaults)."""
    if not req.protect:
        return None
    return Protection(
        req.classifier,
        req.alpha,
        req.scale,
        req.rule,  # type: ignore[arg-type]
        req.guide_when,  # type: ignore[arg-type]
        t_min=req.t_min,
        t_max=req.t_max,
        space=req.space,  # type: ignore[arg-type]
        check_every=req.check_every,
    )


def request_repulsion(req: SampleRequest) -> Repulsion | None:
    """--repel-threshold with its scale; a scale without a threshold is refused."""
    if req.repel_threshold is None:
        if req.repel_scale != SampleRequest.repel_scale:
            raise InputError("--repel-scale", "sets --repel-threshold's push; give --repel-threshold too")
        return None
    return Repulsion(req.repel_threshold, req.repel_scale)


def request_cfg_schedule(req: SampleRequest) -> CfgSchedule | None:
    """--cfg-schedule with its settings at the mode's defaults where unset; settings with constant refused."""
    if req.cfg_schedule == "constant":
        if req.cfg_until is not None or req.cfg_early_scale is not None:
            raise InputError("--cfg-schedule", "--cfg-until and --cfg-early-scale set delayed or opposite guidance")
        return None
    try:
        return CfgSchedule(req.cfg_schedule, req.cfg_until, req.cfg_early_scale).resolved()  # type: ignore[arg-type]
    except ConfigError as e:
        raise InputError("--cfg-early-scale", str(e)) from None


def request_amg(req: SampleRequest) -> Amg | None:
    """--amg's settings; the scales without --amg refused."""
    settings = {"threshold": req.amg_threshold, "spe": req.amg_spe, "dup": req.amg_dup, "sim": req.amg_sim}
    if not req.amg:
        if settings != DEFAULT_AMG:
            raise InputError("--amg", "--amg-threshold, --amg-spe, --amg-dup and --amg-sim set --amg; give it")
        return None
    return Amg(**settings)
