"""What each sample is conditioned on: a prompt (text-to-image) or a class (class-conditional), one per
seed, and how a sampling loop turns a run of samples into the denoiser's `cond`."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from cpaudit.errors import InputError
from cpaudit.models.conditioning import Cond, TextCond
from cpaudit.sampling.amg import Amg, AmgGuidance
from cpaudit.sampling.cfg_schedule import CfgSchedule
from cpaudit.sampling.prompt_defences import PromptDefence

DEFAULT_GUIDANCE_SCALE = 7.5  # diffusers' StableDiffusionPipeline default


@dataclass(frozen=True)
class Conditions:
    """Sample i takes prompts[i % len(prompts)] or class_labels[i % len(class_labels)]."""

    prompts: tuple[str, ...] | None = None
    guidance_scale: float | None = DEFAULT_GUIDANCE_SCALE  # None: the model's default (resolve_conditions)
    negative_prompt: str | None = None
    class_labels: tuple[int, ...] | None = None
    prompt_defence: PromptDefence | None = None  # text-to-image: a defence that alters the prompt (prompt_defences.py)
    cfg_schedule: CfgSchedule | None = None  # text-to-image: delayed / opposite guidance (cfg_schedule.py)
    amg: Amg | None = None  # text-to-image: anti-memorisation guidance's settings (amg.py)
    # AMG's hook with the members loaded (amg.amg_for_model), which the caller binds once a run: with_amg_hook.
    amg_hook: AmgGuidance | None = None

    def prompt_of(self, i: int) -> str | None:
        return None if self.prompts is None else self.prompts[i % len(self.prompts)]

    def prompts_of(self, rows: list[int] | range) -> list[str]:
        """The prompts of samples `rows` (positions in the run), of a text-conditioned run."""
        if self.prompts is None:
            raise ValueError("these conditions hold no prompts")
        return [self.prompts[i % len(self.prompts)] for i in rows]

    @property
    def resolved_guidance_scale(self) -> float:
        """guidance_scale once resolve_conditions has put the model's default in place of None."""
        if self.guidance_scale is None:
            raise ValueError("guidance_scale is unresolved: resolve_conditions puts the model's default in place")
        return self.guidance_scale

    def class_of(self, i: int) -> int | None:
        return None if self.class_labels is None else self.class_labels[i % len(self.class_labels)]

    def cond(self, model, rows: list[int] | range, seeds: list[int] | None = None) -> Cond:
        """The condition of samples `rows` (positions in the run) drawn from `seeds`, on the model's device."""
        if self.prompts is not None:
            return self._guided(model, self._text_cond(model, rows, seeds))
        if self.class_labels is not None:
            dev = next(model.model.parameters()).device
            return torch.tensor([self.class_of(i) for i in rows], dtype=torch.long, device=dev)
        return None

    def _text_cond(self, model, rows: list[int] | range, seeds: list[int] | None) -> TextCond:
        prompts = self.prompts_of(rows)
        if self.prompt_defence is not None:
            if seeds is None:
                raise ValueError("a prompt defence draws from each sample's seed")
            return self.prompt_defence.condition(
                model, prompts, list(seeds), self.resolved_guidance_scale, self.negative_prompt
            )
        return model.prompts.condition(prompts, self.resolved_guidance_scale, self.negative_prompt)

    def _guided(self, model, cond: TextCond) -> TextCond:
        """The text condition with its per-step guidance scale and AMG's hook, where asked for."""
        if self.cfg_schedule is not None:
            cond = replace(cond, cfg_schedule=self.cfg_schedule.on_grid(model.schedule.T))
        if self.amg is not None:
            if self.amg_hook is None:
                raise ValueError("AMG needs its members: bind amg_hook (amg.amg_for_model) before drawing")
            cond = replace(cond, hook=self.amg_hook)
        return cond

    def record(self, seeds: list[int]) -> dict | None:
        """For run.json: each sample's prompt or class, by seed."""
        if self.prompts is not None:
            return {
                "guidance_scale": self.guidance_scale,
                "negative_prompt": self.negative_prompt,
                "prompt_defence": None if self.prompt_defence is None else self.prompt_defence.resolved().to_dict(),
                "prompt_of_seed": {str(s): self.prompt_of(i) for i, s in enumerate(seeds)},
                **self._guidance_record(),
            }
        if self.class_labels is not None:
            return {"class_of_seed": {str(s): self.class_of(i) for i, s in enumerate(seeds)}}
        return None

    def _guidance_record(self) -> dict:
        """Delayed / opposite guidance and AMG where used (absent otherwise, so a plain run's record is unchanged)."""
        out: dict = {}
        if self.cfg_schedule is not None:
            out["cfg_schedule"] = self.cfg_schedule.to_dict()
        if self.amg is not None:
            fired = None if self.amg_hook is None else self.amg_hook.fired
            out["amg"] = {**self.amg.to_dict(), "fired_sample_steps": fired}
        return out


def resolve_conditions(model, c: Conditions) -> Conditions:
    """Check `c` against the model; a class-conditional model with no class given cycles over its classes."""
    for flag, given in (
        ("--prompt-defence", c.prompt_defence),
        ("--cfg-schedule", c.cfg_schedule),
        ("--amg", c.amg),
    ):
        if given is not None and model.conditioning != "text":
            raise InputError(flag, f"{model.folder} is not a text-to-image model")
    if model.conditioning == "text":
        if c.prompts is None:
            raise InputError("--prompt", "a text-to-image model needs --prompt TEXT or --prompts FILE")
        scale = c.guidance_scale
        if scale is None:  # the model's own default (SD3 7.0, FLUX.1-dev 3.5, ...), else diffusers' SD default
            scale = float(model.config.get("default_guidance_scale", DEFAULT_GUIDANCE_SCALE))
            c = replace(c, guidance_scale=scale)
        if not scale >= 1.0 or scale != scale:
            raise InputError("--guidance-scale", f"must be >= 1, got {scale}")
        return c
    if c.prompts is not None or c.negative_prompt is not None:
        raise InputError(
            "--prompt", f"{model.folder} is not a text-to-image model (it is conditioned on: {model.conditioning})"
        )
    if model.conditioning == "class":
        labels = c.class_labels or tuple(range(model.num_classes))
        bad = [k for k in labels if not 0 <= k < model.num_classes]
        if bad:
            raise InputError("--class-label", f"must be in [0, {model.num_classes - 1}], got {bad[0]}")
        return Conditions(class_labels=labels)
    if c.class_labels is not None:
        raise InputError("--class-label", f"{model.folder} is not a class-conditional model")
    return c
