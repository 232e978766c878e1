"""`cpaudit demo --text`: the paper's Stable Diffusion experiment at laptop scale, offline.

Train the tiny text-to-image pipeline that memorises 64 captioned digits (pipelines/train_text.py) and its
random-label latent classifier; prompt it with every member caption and 64 held-out captions
(`sample --extraction`, 3 seeds each here), unprotected and under each sampling-time defence: CPSample with the learned
classifier and with the exact posterior, rejection of replicas (2 draws a prompt, then the prompt is
refused), prompt-embedding noise, random tokens and prompt-embedding optimisation, each at its default
(chosen by `cpaudit tune` on tuning seeds 2,000,000 on of a separate, longer training run:
benchmarks/results/text_defences/tune.json); audit each by prompted extraction
(threat model `samples`). The unprotected run is also audited with the model: the noise-norm detector and
the caption-conditioned attacks (threat models `sampler` and `weights`). A sampling-time defence changes the
samples, never the weights, so those figures are the same for every defence and are measured once.
Samples use seeds 5,000,000 on, apart from the tuning seeds.

`--arch` picks the pipeline trained (pipelines/train_text.py): sd (Stable Diffusion 1.x), sdxl, or the
rectified-flow transformers sd3 and flux, which are sampled as their pipelines sample them (SAMPLING) and
trained at train-diffusion's own flow defaults (600 or 500 steps: they memorise far faster than the UNets).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from cpaudit.auditing.engine.stages import POOLED_KEY
from cpaudit.data.imageio import save_samples_npz
from cpaudit.data.imageset import to_uint8
from cpaudit.data.members import data_and_split_of
from cpaudit.device import resolve_device
from cpaudit.errors import InputError
from cpaudit.io_utils import write_json
from cpaudit.models.load import load_model
from cpaudit.pipelines.audit import AuditOptions, audit
from cpaudit.pipelines.demo import Stage, StageClock, machine_description
from cpaudit.pipelines.report import report
from cpaudit.pipelines.sample import SampleOptions, extraction_prompts, sample
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.pipelines.train_text import (
    TrainTextOptions,
    default_train_config,
    text_architecture,
    train_text_diffusion,
)
from cpaudit.provenance import provenance
from cpaudit.sampling.amg import Amg
from cpaudit.sampling.cfg_schedule import CfgSchedule
from cpaudit.sampling.conditions import DEFAULT_GUIDANCE_SCALE, Conditions
from cpaudit.sampling.defences import Guides, Setting, draw_setting
from cpaudit.sampling.prompt_defences import PromptDefence
from cpaudit.sampling.protection import LATENT_CLASSIFIER_WIDTH, Protection
from cpaudit.sampling.sampler import SamplerConfig
from cpaudit.similarity.pixel import PIXEL_REPLICA_THRESHOLD
from cpaudit.train.classifier import ClassifierTrainConfig
from cpaudit.train.text_diffusion import TextTrainConfig
from cpaudit.version import __version__

# Draws a prompt before it is refused (sampling/rejection.py); 20 in benchmarks/text_memorisation.py, where
# 177 of 256 member-caption samples were refused anyway: a memorised caption replicates at nearly every seed,
# so more draws mostly cost time (each round is a full sampling run of the pending prompts).
REJECTION_DRAWS = 2
# Shorter training than `train-diffusion --text`'s defaults (500 autoencoder and 1,500 denoiser steps, 3,000
# classifier steps), to stay within 10 minutes on 2 cores: calibration.md measured 58 of 64 training captions
# reproduced after 1,200 denoiser steps. The prompt defences' defaults were tuned on a run at the full defaults,
# so the demo also checks that they carry over to a model they were not chosen on.
DEMO_TRAIN = TextTrainConfig(vae_steps=300, steps=1300)
DEMO_CLASSIFIER = ClassifierTrainConfig(steps=2000)
# (steps, guidance scale) by architecture. The UNets: DDIM 50 steps, SD's guidance 7.5, as the demo always ran.
# The flow transformers: their pipelines' 28 steps (StableDiffusion3Pipeline and FluxPipeline.__call__) at
# guidance 4, what the tiny models were measured with (64 of 64 training captions reproduced; on SD3 guidance 1,
# 3, 5 and 50 steps gave the same): SD3's guidance_scale; on the tiny FLUX model, which embeds no distilled
# guidance, FluxPipeline's true_cfg_scale against the empty prompt (models/flow_prompts.py FluxPromptEncoder).
REFERENCE = "reference model (trained on disjoint images)"
# The quality columns a row takes from the audit's pooled block (auditing/fidelity.py), with their intervals.
QUALITY_COLUMNS = ("precision", "precision_ci95", "recall", "recall_ci95", "authenticity", "authenticity_ci95")
SAMPLING = {
    "sd": (50, DEFAULT_GUIDANCE_SCALE),
    "sdxl": (50, DEFAULT_GUIDANCE_SCALE),
    "sd3": (28, 4.0),
    "flux": (28, 4.0),
}
PIPELINE_ARCH = {"StableDiffusionXLPipeline": "sdxl", "StableDiffusion3Pipeline": "sd3", "FluxPipeline": "flux"}


@dataclass(frozen=True)
class TextDemoOptions:
    out: Path = Path("cpaudit-demo-text")
    work: Path | None = None  # models and samples; default OUT/runs
    model: Path | None = None  # reuse a trained pipeline folder instead of training one
    seed: int = 0
    sample_seed: int = 5_000_000  # evaluation seeds, apart from the tuning seeds (2,000,000 on)
    per_caption: int = (
        3  # the audit's default is 4; 3 keeps the demo within 10 minutes (each sample is 2 UNet calls x 50 steps)
    )
    arch: str | None = None  # sd, sdxl, sd3 or flux; None: sd, or the --model's own
    classifier: Path | None = None  # reuse a trained random-label classifier of the model instead of training one
    # The frontier (issue 39): also the newer defences (FRONTIER_DEFENCES) and, where given, the reference model,
    # the same architecture trained the same way on disjoint images (train-diffusion --reference-for).
    frontier: bool = False
    reference: Path | None = None
    only: tuple[str, ...] | None = (
        None  # run only these defences' labels (the unprotected run always), e.g. to fit time
    )
    steps: int | None = None  # None: the architecture's (SAMPLING)
    guidance_scale: float | None = None  # None: the architecture's (SAMPLING)
    threshold: float = PIXEL_REPLICA_THRESHOLD  # for rejection as for the audit
    device: str = "auto"


@dataclass
class TextDemoResult:
    out: Path
    runs: dict[str, dict]  # label -> results.json
    table: list[dict]
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)


def defences(classifier: Path, frontier: bool = False) -> dict[str, dict]:
    """label -> how to sample it: a CPSample protection, a prompt defence, rejection, or (frontier) a guidance
    schedule or anti-memorisation guidance, each at its default."""
    base: dict[str, dict] = {
        "unprotected": {},
        "CPSample, learned classifier": {"protection": Protection(str(classifier))},
        "CPSample, exact posterior": {"protection": Protection("exact")},
        "rejection": {"rejection": True},
        "embedding noise": {"prompt_defence": PromptDefence("embedding-noise")},
        "random tokens": {"prompt_defence": PromptDefence("random-tokens")},
        "prompt optimisation": {"prompt_defence": PromptDefence("prompt-optimisation")},
    }
    return {**base, **frontier_defences(classifier)} if frontier else base


def frontier_defences(classifier: Path) -> dict[str, dict]:
    """The defences of 2024-2025 and CPSample's variants that push from the member being copied (issue 39), at
    their defaults (sampling/cfg_schedule.py, amg.py, protection.py)."""
    return {
        "delayed guidance": {"cfg_schedule": CfgSchedule("delayed")},
        "opposite guidance": {"cfg_schedule": CfgSchedule("opposite")},
        "anti-memorisation guidance": {"amg": Amg()},
        "CPSample, exact, away from the member": {"protection": Protection("exact", rule="away-from-member")},
    }


def model_arch(folder: Path) -> str:
    """A pipeline folder's architecture, from model_index.json's class: sdxl, sd3, flux, else sd."""
    index = Path(folder) / "model_index.json"
    if not index.is_file():
        return "sd"
    try:
        name = json.loads(index.read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError):
        return "sd"  # load_model reports what is wrong with the folder
    return PIPELINE_ARCH.get(name, "sd")


def resolve_options(opts: TextDemoOptions) -> TextDemoOptions:
    """The architecture (--arch, or --model's own: they must agree) and its sampling defaults filled in."""
    arch = opts.arch or "sd"
    if opts.model is not None:
        own = model_arch(Path(opts.model))
        if opts.arch is not None and opts.arch != own:
            raise InputError("--arch", f"{opts.arch!r} differs from --model's architecture {own!r} ({opts.model})")
        arch = own
    text_architecture(arch)  # refuses an unknown name in one line
    steps, guidance = SAMPLING[arch]
    return replace(
        opts,
        arch=arch,
        steps=opts.steps or steps,
        guidance_scale=guidance if opts.guidance_scale is None else opts.guidance_scale,
    )


def train_demo_model(opts: TextDemoOptions, model: Path, say: Stage) -> None:
    """The pipeline of opts.arch: the UNets at DEMO_TRAIN, the flow transformers at train-diffusion's defaults."""
    assert opts.arch is not None  # resolve_options filled it in
    train = DEMO_TRAIN if opts.arch in ("sd", "sdxl") else default_train_config(opts.arch)
    train_text_diffusion(
        TrainTextOptions(
            "captioned-digits",
            model,
            seed=opts.seed,
            train=train,
            arch=text_architecture(opts.arch),
            device=opts.device,
        ),
        progress=lambda part, s, n, m: say(f"train text-to-image {part}", s, n, m),
    )


def demo_text(opts: TextDemoOptions, stage: Stage | None = None) -> TextDemoResult:
    t0 = time.perf_counter()
    opts = resolve_options(opts)
    say = StageClock(stage)
    work = Path(opts.work) if opts.work is not None else Path(opts.out) / "runs"
    model = Path(opts.model) if opts.model is not None else work / "model"
    if opts.model is None:
        train_demo_model(opts, model, say)
    check_only(opts)
    classifier = Path(opts.classifier) if opts.classifier is not None else work / "classifier"
    if opts.classifier is None:
        train_demo_classifier(opts, model, classifier, say)
    prompts = extraction_prompts(model, per_caption=opts.per_caption, seed=opts.seed)
    runs = defences(classifier, opts.frontier)
    if opts.reference is not None:
        runs[REFERENCE] = {"model": Path(opts.reference)}
    if opts.only is not None:
        runs = {k: v for k, v in runs.items() if k == "unprotected" or k in opts.only}
    results, table = {}, []
    for label, how in runs.items():
        results[label], row = run_defence(opts, model, work, label, how, prompts, say)
        table.append(row)
    say("comparison report", 0, 1, None)
    add_ratios(table)
    report(
        [Path(opts.out) / Path(r["setup"]["samples"]).name / "results.json" for r in results.values()],
        Path(opts.out),
        labels=list(results),
    )
    say("", 0, 1, None)
    seconds = time.perf_counter() - t0
    white_box = {
        k: {f: a[f] for f in ("title", "threat_model", "auc", "auc_ci95", "chance_band95")}
        for k, a in results["unprotected"]["attacks"].items()
        if k not in ("prompted_extraction", "sample_only")
    }
    write_json(
        Path(opts.out) / "text_demo.json",
        {
            "table": table,
            "white_box": white_box,
            "arch": opts.arch,
            "seed": opts.seed,
            "sample_seed": opts.sample_seed,
            "per_caption": opts.per_caption,
            "steps": opts.steps,
            "guidance_scale": opts.guidance_scale,
            **({"reference": str(opts.reference)} if opts.reference is not None else {}),
            "total_seconds": round(seconds, 1),
            "stage_seconds": say.rounded(),
            "machine": machine_description(),
            "cpaudit_version": __version__,
        },
    )
    return TextDemoResult(Path(opts.out), results, table, seconds, say.seconds)


def check_only(opts: TextDemoOptions) -> None:
    """`only` names defences this run has (refused before any training)."""
    if opts.only is None:
        return
    known = [*defences(Path("classifier"), opts.frontier), *([REFERENCE] if opts.reference is not None else [])]
    unknown = sorted(set(opts.only) - set(known))
    if unknown:
        raise InputError("only", f"unknown defences {unknown}; these run: {', '.join(known)}")


def train_demo_classifier(opts: TextDemoOptions, model: Path, classifier: Path, say: Stage) -> None:
    train_classifier(
        TrainClassifierOptions(
            "captioned-digits",
            classifier,
            model=model,
            base_channels=LATENT_CLASSIFIER_WIDTH,
            seed=opts.seed,
            train=DEMO_CLASSIFIER,
            device=opts.device,
        ),
        progress=lambda s, n, m: say("train random-label latent classifier", s, n, m),
    )


def add_ratios(table: list[dict]) -> None:
    """Each row's pixel FID as a multiple of the unprotected one and, where the table has it, of the reference
    model's (whose samples are private for these members by construction: the quality a defence can aim at)."""
    none_fid = table[0]["pixel_fid"]
    ref = next((r["pixel_fid"] for r in table if r["defence"] == REFERENCE), None)
    for row in table:
        row["fid_ratio"] = row["pixel_fid"] / none_fid
        if ref is not None:
            row["fid_ratio_reference"] = row["pixel_fid"] / ref


def run_defence(
    opts: TextDemoOptions,
    model: Path,
    work: Path,
    label: str,
    how: dict,
    prompts: list[str],
    say: Stage,
) -> tuple[dict, dict]:
    """Sample the prompts under one defence (`defences`' entry; the reference's entry names its own model) into
    WORK/<label>, audit them into OUT/<label> against the model's members and held-out images (with the model
    for the unprotected run): its results.json and its table row."""
    opts = resolve_options(opts)
    folder = work / label.replace(", ", "-").replace(" ", "-").lower()
    say(f"sample {label}", 0, 1, None)
    seconds = sample_defence(opts, how.get("model", model), folder, prompts, how)
    say(f"audit {label}", 0, 1, None)
    white_box = label == "unprotected"  # the weights are the same under every sampling-time defence
    r = audit(
        AuditOptions(
            samples=folder,
            out=Path(opts.out) / folder.name,
            split=model / "split.json",
            model=model if white_box else None,
            seed=opts.seed,
            member_images="show",
            device=opts.device,
        )
    )
    return r.results, table_row(label, r.results, seconds)


def sample_defence(opts: TextDemoOptions, model: Path, out: Path, prompts: list[str], how: dict) -> float:
    """Sample the extraction prompts under one defence into `out`; its sampling seconds."""
    assert opts.steps is not None  # resolve_options filled it in
    t0 = time.perf_counter()
    cfg = SamplerConfig(steps=opts.steps)
    if how.get("rejection"):
        write_rejection_run(opts, model, out, prompts, cfg)
    else:
        sample(
            SampleOptions(
                model=model,
                out=out,
                n=len(prompts),
                seed=opts.sample_seed,
                sampler=cfg,
                write_png=False,
                protection=how.get("protection"),
                device=opts.device,
                conditions=Conditions(
                    tuple(prompts),
                    opts.guidance_scale,
                    prompt_defence=how.get("prompt_defence"),
                    cfg_schedule=how.get("cfg_schedule"),
                    amg=how.get("amg"),
                ),
            )
        )
    return time.perf_counter() - t0


def write_rejection_run(opts: TextDemoOptions, model: Path, out: Path, prompts: list[str], cfg: SamplerConfig) -> None:
    """Rejection of replicas per prompt (decoded images against the members, the audit's threshold): a replica
    is redrawn under the next unused seed, and a prompt is refused after REJECTION_DRAWS draws."""
    lm = load_model(model)
    data, split = data_and_split_of(model, lm.config)
    members = data.take(split.member_idx)
    setting = Setting("rejection", f"r >= {opts.threshold}, {REJECTION_DRAWS} draws", reject_at=opts.threshold)
    d = draw_setting(
        lm,
        setting,
        Guides(members, torch.device("cpu")),
        opts.sample_seed,
        len(prompts),
        cfg,
        conditions=Conditions(tuple(prompts), opts.guidance_scale),
        allow_refusal=True,
        max_rounds=REJECTION_DRAWS,
    )
    positions = d.positions
    assert positions is not None  # allow_refusal: each kept sample's prompt is recorded
    out.mkdir(parents=True, exist_ok=True)
    save_samples_npz(out / "samples.npz", to_uint8(d.images), np.asarray(d.seeds))
    write_json(
        out / "run.json",
        {
            "kind": "cpaudit-samples",
            "cpaudit_version": __version__,
            "provenance": provenance(resolve_device(opts.device)),
            "model": str(model),
            "n": len(d.seeds),
            "seed": opts.sample_seed,
            "image_shape": list(lm.image_shape),
            "conditioning": "text",
            "protection": None,
            "sampler": {"steps": cfg.steps, "method": cfg.method, "eta": cfg.eta},
            "conditions": {
                "guidance_scale": opts.guidance_scale,
                "negative_prompt": None,
                "prompt_defence": None,
                "prompt_of_seed": {str(s): prompts[p] for s, p in zip(d.seeds, positions)},
                "refused_prompts": [prompts[p] for p in d.refused or []],
            },
            "rejection": {
                "threshold": opts.threshold,
                "features": "pixel",
                "draws_per_prompt": REJECTION_DRAWS,
                "drawn": d.drawn,
                "refused": len(d.refused or []),
                "extra_cost": d.drawn / len(prompts) - 1,
            },
            "fired_fraction": 0.0,
            "nonfinite_seeds": [],
        },
    )


def table_row(label: str, results: dict, seconds: float) -> dict:
    """One defence's figures for the demo's table (README.md, tests/test_readme_figures.py), every one from the
    audit's results.json: the quality columns are its pooled 8x8 block (the tables' pixel FID)."""
    ext = results["prompted_extraction"]
    head = results["attacks"]["prompted_extraction"]
    quality = results["quality"][POOLED_KEY]
    return {
        "defence": label,
        "extraction_auc": head["auc"],
        "extraction_auc_ci95": head["auc_ci95"],
        "chance_band95": head["chance_band95"],
        "captions": ext["captions"],
        "refused": ext["refused"],
        "samples": ext["samples"],
        "pixel_fid": quality["fid"],
        **{k: quality[k] for k in QUALITY_COLUMNS},
        "quality_features": f"{quality['features']} ({quality['feature_dim']} dimensions)",
        "sampling_seconds": round(seconds, 2),
        "passed": results["policy"]["passed"],
    }
