"""`cpaudit sample`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from cpaudit.cli.common import info, print_json, progress_bar, state, user_errors
from cpaudit.cli.options import DataOpt, Device, HoldoutOpt, MemberImagesOpt, Quiet, ResizeOpt, SplitOpt
from cpaudit.data.captions import read_prompts_file
from cpaudit.data.load import parse_resize
from cpaudit.data.members import MemberSource
from cpaudit.errors import InputError
from cpaudit.pipelines.sample import SampleOptions, extraction_prompts, sample
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.prompt_defences import DEFAULTS, PromptDefence
from cpaudit.sampling.protection import FLOW_KIND_DEFAULTS, KIND_DEFAULTS, LATENT_KIND_DEFAULTS, Protection
from cpaudit.sampling.sampler import SamplerConfig


def _kind_defaults(name: str) -> str:
    """The classifier kinds' defaults of one setting for --help, per model kind where they differ (sampling/
    protection.py's KIND_DEFAULTS, LATENT_ and FLOW_KIND_DEFAULTS say how each was chosen)."""
    where = {"learned": "a classifier folder", "exact": "exact"}

    def one(table: dict) -> str:
        return ", ".join(
            f"{table[k][name]:g} for {where[k]}"
            if isinstance(table[k][name], float)
            else f"{table[k][name]} for {where[k]}"
            for k in table
        )

    tables = {"pixel models": KIND_DEFAULTS, "latent models": LATENT_KIND_DEFAULTS, "SD3/FLUX": FLOW_KIND_DEFAULTS}
    texts = {kind: one(table) for kind, table in tables.items()}
    if len(set(texts.values())) == 1:
        return texts["pixel models"]
    return "; ".join(f"{kind}: {text}" for kind, text in texts.items())


def samples_progress(advance: Callable[..., None], n: int, batch_size: int, steps: int) -> Callable[[], None]:
    """on_step for `sample`: the count a person expects, samples finished of n, with the batch and step under way
    (the sampler reports one call per step of a batch)."""
    calls = [0]

    def on_step() -> None:
        calls[0] += 1
        batch, step = divmod(calls[0] - 1, steps)
        advance(step=min(n, (calls[0] // steps) * batch_size), total_=n, metrics={"batch": batch + 1, "step": step + 1})

    return on_step


def sample_cmd(
    model: Path = typer.Option(
        ..., "--model", help="Model folder: written by train-diffusion, or a diffusers pipeline or UNet2DModel folder."
    ),
    out: Path = typer.Option(..., "--out", help="Folder for {seed:06d}.png, samples.npz and run.json."),
    n: int | None = typer.Option(
        None,
        "--n",
        "--num-samples",
        min=1,
        max=10_000_000,
        help="Number of samples; sample i uses seed + i [default: one per line of --prompts, else 256].",
    ),
    steps: int = typer.Option(50, "--steps", min=1, help="Sampling steps."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**62, help="First sample's seed."),
    method: str = typer.Option("ddim", "--method", help="ddim or ddpm."),
    eta: float = typer.Option(0.0, "--eta", min=0.0, max=1.0, help="DDIM stochasticity (0 = deterministic)."),
    batch_size: int = typer.Option(
        256, "--batch-size", min=1, max=65536, help="Samples per batch (does not change the images)."
    ),
    protect: bool = typer.Option(False, "--protect", help="Apply CPSample guidance."),
    classifier: str = typer.Option(
        "exact", "--classifier", help="Classifier folder, or 'exact' for the exact posterior."
    ),
    alpha: float | None = typer.Option(
        None,
        "--alpha",
        min=0.0,
        max=0.5,
        help=f"Guide where p < alpha or p > 1 - alpha [default: {_kind_defaults('alpha')}].",
    ),
    scale: float | None = typer.Option(
        None, "--scale", min=0.0, max=1e9, help=f"Guidance scale s [default: {_kind_defaults('scale')}]."
    ),
    rule: str | None = typer.Option(
        None, "--rule", help=f"opposite-label or toward-half [default: {_kind_defaults('rule')}]."
    ),
    space: str | None = typer.Option(
        None,
        "--space",
        help="What the classifier reads: x_t, or x0 (the denoiser's "
        f"predicted clean image) [default: {_kind_defaults('space')}].",
    ),
    t_min: int = typer.Option(0, "--t-min", min=0, help="Guide only at t >= this."),
    t_max: int | None = typer.Option(None, "--t-max", min=0, help="Guide only at t <= this [default: every t]."),
    guide: str = typer.Option("when-confident", "--guide", help="when-confident or every-step."),
    label_seed: int | None = typer.Option(None, "--label-seed", min=0, help="Labels for --classifier exact."),
    prompt: str | None = typer.Option(None, "--prompt", help="Text-to-image models: the prompt of every sample."),
    prompts: Path | None = typer.Option(
        None,
        "--prompts",
        help="Text-to-image models: a file of prompts, one per line, or a "
        "metadata.jsonl; sample i takes prompt i (cycling).",
    ),
    extraction: bool = typer.Option(
        False,
        "--extraction",
        help="Text-to-image models: prompt with every member's caption "
        "and as many held-out captions (from --split, else the model folder's split.json), "
        "--per-caption seeds each: the samples a prompted-extraction audit reads.",
    ),
    per_caption: int = typer.Option(
        4, "--per-caption", min=1, max=10_000, help="With --extraction: samples per caption."
    ),
    split: Path | None = SplitOpt,  # the exact posterior's members and --extraction's captions
    data: str | None = DataOpt,
    members: str | None = MemberImagesOpt,
    holdout: str | None = HoldoutOpt,
    resize: str | None = ResizeOpt,
    prompt_defence: str | None = typer.Option(
        None,
        "--prompt-defence",
        help="Text-to-image models: alter each prompt instead of "
        "guiding: embedding-noise, random-tokens or prompt-optimisation (sampling/prompt_defences.py).",
    ),
    sigma: float | None = typer.Option(
        None,
        "--sigma",
        min=0.0,
        max=1e6,
        help=f"embedding-noise: the noise's standard deviation [default: {DEFAULTS['embedding-noise']['sigma']:g}].",
    ),
    tokens: int | None = typer.Option(
        None,
        "--tokens",
        min=1,
        max=64,
        help=f"random-tokens: words inserted [default: {DEFAULTS['random-tokens']['tokens']}].",
    ),
    target_norm: float | None = typer.Option(
        None,
        "--target-norm",
        min=0.0,
        max=1e6,
        help="prompt-optimisation: the first "
        f"step's noise norm to reach [default: {DEFAULTS['prompt-optimisation']['target_norm']:g}].",
    ),
    guidance_scale: float = typer.Option(
        None,
        "--guidance-scale",
        min=1.0,
        max=1000.0,
        show_default=False,
        help="How far the prompt pulls (text-to-image models): classifier-free guidance on "
        "SD, SDXL and SD3 (default 7.5; SD3 7.0), FLUX.1-dev's distilled guidance "
        "(default 3.5), true classifier-free guidance against the negative or empty "
        "prompt on a FLUX without a guidance embedding (default 1: none, as schnell).",
    ),
    negative_prompt: str | None = typer.Option(
        None, "--negative-prompt", help="The unconditional half's prompt [default: empty]."
    ),
    class_label: list[int] | None = typer.Option(
        None,
        "--class-label",
        min=0,
        help="Class-conditional models: the class "
        "(repeat for several; sample i takes class i, cycling) [default: every class in turn].",
    ),
    scheduler: str = typer.Option(
        "cpaudit",
        "--scheduler",
        help="cpaudit (its own seeded DDIM/DDPM sampler) or native (a "
        "pipeline folder's own scheduler through diffusers, guidance entering through the UNet's output).",
    ),
    lora: Path | None = typer.Option(
        None, "--lora", help="A LoRA .safetensors to apply to a Stable Diffusion pipeline folder."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print run.json to stdout."),
    device: str = Device,
    quiet: bool = Quiet,
) -> None:
    """Draw samples from a model, optionally protected by CPSample.

    Example: cpaudit sample --model runs/model --out runs/protected --protect --classifier runs/classifier

    Example: cpaudit sample --model runs/sd --prompts captions.txt --guidance-scale 7.5 --out runs/prompted

    Example: cpaudit sample --model sd-finetune --extraction --split split.json --protect --out runs/protected
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        prompt_list = read_prompts_file(prompts) if prompts is not None else None
        if sum(x is not None for x in (prompt, prompts)) + extraction > 1:
            raise InputError("--prompt", "give one of --prompt, --prompts and --extraction")
        if prompt is not None:
            prompt_list = [prompt]
        membership = MemberSource(data, split, members, holdout, parse_resize(resize))
        if extraction:
            prompt_list = extraction_prompts(model, membership, per_caption, seed)
        n = n or (len(prompt_list) if prompts is not None or extraction else 256)
        defence = None
        if prompt_defence is not None:
            defence = PromptDefence(prompt_defence, sigma=sigma, tokens=tokens, target_norm=target_norm).resolved()  # type: ignore[arg-type]
        elif any(v is not None for v in (sigma, tokens, target_norm)):
            raise InputError("--prompt-defence", "--sigma, --tokens and --target-norm set a --prompt-defence; give one")
        conditions = Conditions(
            None if prompt_list is None else tuple(prompt_list),
            guidance_scale,
            negative_prompt,
            None if not class_label else tuple(class_label),
            defence,
        )
        protection = (
            Protection(classifier, alpha, scale, rule, guide, t_min=t_min, t_max=t_max, space=space)  # type: ignore[arg-type]
            if protect
            else None
        )
        opts = SampleOptions(
            model=model,
            out=out,
            n=n,
            seed=seed,
            batch_size=batch_size,
            sampler=SamplerConfig(steps=steps, method=method, eta=eta),  # type: ignore[arg-type]
            protection=protection,
            label_seed=label_seed,
            membership=membership,
            device=device,
            conditions=conditions,
            lora=lora,
            scheduler=scheduler,
        )
        with progress_bar("sample", n) as advance:
            result = sample(opts, on_step=samples_progress(advance, n, batch_size, steps))
    if json_out:
        print_json(result.run)
    info(f"{len(result.seeds)} samples in {result.seconds:.1f} s -> {result.out}")
    if protection is not None:
        info(
            f"guidance fired on {result.fired_fraction:.1%} of sample-steps "
            f"({result.run['samples_with_guidance']} of {n} samples at least once)"
        )
    if result.nonfinite_seeds:
        info(
            f"warning: {len(result.nonfinite_seeds)} samples diverged (NaN/inf) and were not written: seeds "
            f"{result.nonfinite_seeds[:10]}{' ...' if len(result.nonfinite_seeds) > 10 else ''}"
        )
