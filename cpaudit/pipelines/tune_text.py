"""`cpaudit tune --model PIPELINE` for a text-to-image model: each sampling-time defence's setting chosen on
tuning seeds by prompted extraction (threat model samples) and pixel FID, then claimed on evaluation seeds.

1. Prompt with every member caption and as many held-out captions, `per_caption` seeds each (`sample
   --extraction`), unprotected and at each point of each defence's grid, on the tuning seeds. As in the audit,
   the caption is the unit (auditing/extraction.py, caption_units): a repeated caption is one unit with all its
   images, one on both sides is neither and is left out.
2. Per defence, the rule: among points whose training captions are extracted no more often than held-out
   captions (the base rate: the model never saw their images), the lowest pixel FID; where none reaches it,
   the point with the fewest extracted training captions (the report says so).
3. Draw the chosen points again on the evaluation seeds, which chose nothing, and report those figures.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cpaudit.auditing.extraction import (
    CaptionUnits,
    caption_scores,
    caption_units,
    replica_excess,
    sample_groups,
)
from cpaudit.auditing.quality import frechet_distance, pooled_pixels
from cpaudit.auditing.samples import load_samples
from cpaudit.data.members import MemberSource, model_members
from cpaudit.errors import InputError
from cpaudit.io_utils import write_json
from cpaudit.models.load import load_model
from cpaudit.pipelines.sample import SampleOptions, extraction_prompts, sample
from cpaudit.report.tune_text_md import tune_text_markdown
from cpaudit.sampling.amg import Amg
from cpaudit.sampling.cfg_schedule import CfgSchedule
from cpaudit.sampling.conditions import DEFAULT_GUIDANCE_SCALE, Conditions
from cpaudit.sampling.prompt_defences import PromptDefence
from cpaudit.sampling.protection import Protection, defaults_table
from cpaudit.sampling.sampler import SamplerConfig
from cpaudit.similarity.pixel import PIXEL_REPLICA_THRESHOLD, pixel_embedding
from cpaudit.version import __version__

THRESHOLD = PIXEL_REPLICA_THRESHOLD
RULE = (
    "among points whose training captions are extracted no more often than held-out captions, the lowest pixel FID; "
    "where none reaches it, the point with the fewest extracted training captions"
)
Progress = Callable[[str, int, int], None]


# `--defences` keys (as the pixel tune's FAMILIES: the names themselves hold commas) -> the grid's names.
TEXT_FAMILIES = {
    "embedding-noise": "embedding noise",
    "random-tokens": "random tokens",
    "prompt-optimisation": "prompt optimisation",
    "exact": "CPSample, exact posterior",
    "learned": "CPSample, learned classifier",
    "delayed-cfg": "delayed guidance",
    "opposite-cfg": "opposite guidance",
    "amg": "anti-memorisation guidance",
}


def guidance_grid() -> dict[str, list[dict]]:
    """Delayed and opposite guidance around the authors' transition times (sampling/cfg_schedule.py: t 500 with
    w = 0 early, t 650 with w = -2), delayed also at w = 1 early (their dynamic method's early scale); AMG around
    its defaults (sampling/amg.py), its dissimilarity scale over a decade and a lower threshold."""
    # A first round (benchmarks/results/text_guidance_tune) swept opposite at (0.2, -2), (0.35, -2), (0.35, -1),
    # (0.5, -2) and AMG at (0.9, 100), (0.9, 30), (0.9, 300), (0.8, 100): none reached the base rate on the tuning
    # seeds, the strongest of each came closest (3 and 2 of 64 captions extracted), so the second round
    # (text_guidance_tune2) goes past them.
    delayed = [(0.3, 0.0), (0.5, 0.0), (0.7, 0.0), (0.5, 1.0)]
    opposite = [(0.35, -2.0), (0.5, -2.0), (0.7, -2.0), (0.5, -4.0)]
    amg = [(0.8, 100.0), (0.8, 300.0), (0.7, 100.0), (0.7, 300.0)]
    return {
        "delayed guidance": [
            {"label": f"until {u:g}, early {w:g}", "cfg_schedule": CfgSchedule("delayed", u, w)} for u, w in delayed
        ],
        "opposite guidance": [
            {"label": f"until {u:g}, early {w:g}", "cfg_schedule": CfgSchedule("opposite", u, w)} for u, w in opposite
        ],
        "anti-memorisation guidance": [
            {"label": f"threshold {lam:g}, sim {c3:g}", "amg": Amg(threshold=lam, sim=c3)} for lam, c3 in amg
        ],
    }


def text_grid(classifier: str | None, small: bool = False, flow: bool = False) -> dict[str, list[dict]]:
    """defence -> its points, each {"label", "protection", "prompt_defence", "cfg_schedule" or "amg"}; CPSample's
    scales around the latent (or, on SD3 / FLUX, the flow) defaults."""
    table = defaults_table(latent=True, flow=flow)
    exact, learned = table["exact"]["scale"], table["learned"]["scale"]
    grid = {
        "embedding noise": [
            {"label": f"sigma {s:g}", "prompt_defence": PromptDefence("embedding-noise", sigma=s)}
            for s in (0.25, 0.5, 1.0, 2.0)
        ],
        "random tokens": [
            {"label": f"{k} token{'s' if k > 1 else ''}", "prompt_defence": PromptDefence("random-tokens", tokens=k)}
            for k in (1, 2, 4, 8, 16)
        ],
        "prompt optimisation": [
            {
                "label": f"target {t:g}, lr {lr:g}",
                "prompt_defence": PromptDefence("prompt-optimisation", target_norm=t, lr=lr, iters=10),
            }
            for t in (0.3, 0.1)
            for lr in (0.05, 0.2)
        ],
        "CPSample, exact posterior": [
            {"label": f"scale {s:g}", "protection": Protection("exact", scale=s)}
            for s in (exact / 3, exact, exact * 3, exact * 10)
        ],
    }
    if classifier is not None:
        grid["CPSample, learned classifier"] = [
            {"label": f"scale {s:g}", "protection": Protection(classifier, scale=s)}
            for s in (learned / 3, learned, learned * 3, learned * 10)
        ]
    grid.update(guidance_grid())
    return {k: v[:: max(1, len(v) // 2)][:2] for k, v in grid.items()} if small else grid


@dataclass(frozen=True)
class TextTuneOptions:
    model: Path
    out: Path
    classifier: str | None = None
    tune_seed: int = 2_000_000
    eval_seed: int = 6_000_000  # apart from the tuning seeds and from demo --text's (5,000,000 on)
    per_caption: int = 4
    steps: int = 50
    guidance_scale: float | None = None  # None: the model's own default (SD 7.5, the tiny SD3 / FLUX folders' 4, ...)
    families: tuple[str, ...] | None = None
    small: bool = False
    device: str = "auto"
    # Which images the model was trained on, where the user says (--split, or --members/--holdout); default: the
    # split.json a cpaudit pipeline folder holds. A model trained elsewhere needs it.
    membership: MemberSource = field(default_factory=MemberSource)


@dataclass
class Extraction:
    """What a tuning or evaluation point is judged on."""

    model: Path
    prompts: list[str]
    units: dict[str, CaptionUnits]  # role -> its captions (a caption on both sides is neither) and their images
    own: dict[str, np.ndarray]  # role -> the own images' pixel embeddings (rows: the units' image positions)
    reference: np.ndarray  # pooled held-out pixels, FID's reference

    @classmethod
    def of(cls, model: Path, per_caption: int, membership: MemberSource | None = None) -> Extraction:
        prompts = extraction_prompts(model, membership, per_caption=per_caption)  # refuses data without captions
        data, split = model_members(model, load_model(model).config, membership)
        captions = data.captions
        assert captions is not None  # extraction_prompts refused data without captions
        # The caption is the unit, as in the audit (auditing/extraction.py, caption_units).
        m_units, h_units, _ = caption_units(
            [captions[i] for i in split.member_idx], [captions[i] for i in split.holdout_idx]
        )
        own = {
            role: pixel_embedding(data.take(np.asarray(rows)))
            for role, rows in (("member", split.member_idx), ("holdout", split.holdout_idx))
        }
        return cls(
            model, prompts, {"member": m_units, "holdout": h_units}, own, pooled_pixels(data.take(split.holdout_idx))
        )

    def measure(self, point: dict, first_seed: int, opts: TextTuneOptions) -> dict:
        """Sample the point on seeds first_seed on; captions extracted per role, and pixel FID."""
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            sample(
                SampleOptions(
                    model=self.model,
                    out=Path(tmp),
                    n=len(self.prompts),
                    seed=first_seed,
                    write_png=False,
                    sampler=SamplerConfig(steps=opts.steps),
                    protection=point.get("protection"),
                    membership=opts.membership,
                    device=opts.device,
                    conditions=Conditions(
                        tuple(self.prompts),
                        opts.guidance_scale,
                        prompt_defence=point.get("prompt_defence"),
                        cfg_schedule=point.get("cfg_schedule"),
                        amg=point.get("amg"),
                    ),
                )
            )
            seconds = time.perf_counter() - t0
            s = load_samples(Path(tmp))
        prompts = s.prompts
        assert prompts is not None  # sampled with prompts, which samples.npz's run.json records
        emb, asked = pixel_embedding(s.images), set(prompts)
        replicas = {}
        for role in ("member", "holdout"):
            units = self.units[role].keep(asked)
            scores = caption_scores(
                emb, sample_groups(prompts, units.captions), self.own[role], THRESHOLD, own_rows=units.images
            )
            replicas[role] = scores.replicas
        return {
            "label": point["label"],
            "seconds": round(seconds, 2),
            "first_seed": first_seed,
            "pixel_fid": frechet_distance(pooled_pixels(s.images), self.reference),
            **replica_excess(replicas["member"], replicas["holdout"]),
        }


def choose(rows: list[dict]) -> tuple[int, bool]:
    """(index of the chosen point, whether it reached the base rate)."""
    ok = [i for i, r in enumerate(rows) if r["member_captions_extracted"] <= r["holdout_captions_extracted"]]
    if ok:
        return min(ok, key=lambda i: rows[i]["pixel_fid"]), True
    return min(range(len(rows)), key=lambda i: (rows[i]["member_captions_extracted"], rows[i]["pixel_fid"])), False


def tune_text(opts: TextTuneOptions, progress: Progress | None = None) -> dict:
    say = progress or (lambda _w, _d, _t: None)
    config = load_model(Path(opts.model)).config
    flow = config.get("prediction_type") == "flow"
    grid = text_grid(opts.classifier, opts.small, flow)
    if opts.families is not None:
        unknown = sorted(set(opts.families) - set(TEXT_FAMILIES))
        if unknown:
            raise InputError(
                "--defences", f"unknown {unknown}; a text-to-image model's defences: {', '.join(TEXT_FAMILIES)}"
            )
        wanted = {TEXT_FAMILIES[k] for k in opts.families}
        if "CPSample, learned classifier" in wanted and opts.classifier is None:
            raise InputError(
                "--defences", "learned needs a classifier: give --classifier DIR (cpaudit train-classifier --model)"
            )
        grid = {k: v for k, v in grid.items() if k in wanted}
    ex = Extraction.of(Path(opts.model), opts.per_caption, opts.membership)
    if opts.guidance_scale is None:
        opts = replace(opts, guidance_scale=float(config.get("default_guidance_scale", DEFAULT_GUIDANCE_SCALE)))
    say("tuning seeds: unprotected", 0, 1)
    record: dict = {
        "kind": "cpaudit-tune-text",
        "cpaudit_version": __version__,
        "threat_model": "samples",
        "model": str(opts.model),
        **({"members_from": opts.membership.to_dict()} if opts.membership.given else {}),
        "tune_seed": opts.tune_seed,
        "eval_seed": opts.eval_seed,
        "per_caption": opts.per_caption,
        "steps": opts.steps,
        "guidance_scale": opts.guidance_scale,
        "threshold": THRESHOLD,
        "rule": RULE,
        "unprotected": {
            "tuning": ex.measure({"label": "-"}, opts.tune_seed, opts),
            "evaluation": ex.measure({"label": "-"}, opts.eval_seed, opts),
        },
        "defences": {},
    }
    for name, points in grid.items():
        rows = []
        for k, point in enumerate(points):
            say(f"tuning seeds: {name}, {point['label']}", k, len(points))
            rows.append(ex.measure(point, opts.tune_seed, opts))
        i, reached = choose(rows)
        say(f"evaluation seeds: {name}, {points[i]['label']}", 0, 1)
        record["defences"][name] = {
            "tuning": rows,
            "chosen": points[i]["label"],
            "reached_base_rate_on_tuning_seeds": reached,
            "setting": _setting(points[i], flow),
            "evaluation": ex.measure(points[i], opts.eval_seed, opts),
        }
    Path(opts.out).mkdir(parents=True, exist_ok=True)
    write_json(Path(opts.out) / "tune.json", record)
    (Path(opts.out) / "report.md").write_text(
        f"# Text-to-image defences, tuned and evaluated\n\n{tune_text_markdown(record)}\n"
    )
    return record


def _setting(point: dict, flow: bool) -> dict:
    if "prompt_defence" in point:
        return {"prompt_defence": point["prompt_defence"].resolved().to_dict()}
    if "cfg_schedule" in point:
        return {"cfg_schedule": point["cfg_schedule"].to_dict()}
    if "amg" in point:
        return {"amg": point["amg"].to_dict()}
    return {"protection": point["protection"].in_space(latent=True, flow=flow).to_dict()}
