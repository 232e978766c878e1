"""What a denoiser is conditioned on: nothing, class ids, or a text condition with classifier-free guidance."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import torch


class GuidanceSchedule(Protocol):
    """A per-step classifier-free guidance scale (sampling/cfg_schedule.py's CfgSchedule)."""

    def scale_at(self, t: torch.Tensor, scale: float) -> float | torch.Tensor: ...

    def to_dict(self) -> dict: ...


# (denoiser, x_t, t, cond) -> the network output: guidance that needs the two halves of classifier-free guidance
# separately and further calls of the network (sampling/amg.py's anti-memorisation guidance). The denoiser gives
# `halves(x, t, cond)` and is called with other conditions as usual; `cond` is the batch's, without the hook.
GuidanceHook = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, "TextCond"], torch.Tensor]


@dataclass(frozen=True)
class TextCond:
    """Prompt embeddings for classifier-free guidance (Ho & Salimans 2022):
    eps = eps(x_t, t, uncond) + w (eps(x_t, t, prompt) - eps(x_t, t, uncond)), w = guidance_scale.

    SDXL's UNet also takes added conditions (diffusers/pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py,
    `added_cond_kwargs`): the pooled embedding of text encoder 2 for each half and the six size/crop time ids,
    which are the same for both halves (the pipeline's `negative_add_time_ids = add_time_ids` default).
    They are None for SD 1.x/2.x.

    The flow transformers (models/flow_denoiser.py) take a pooled embedding too: SD3's two CLIP projections
    concatenated, FLUX's CLIP pooler output (`pooled_projections`), in the same pooled fields. FLUX.1-dev is
    guidance-distilled: `guidance` is the scale its transformer embeds (pipeline_flux.py, `guidance`), the same
    for both halves; None where the transformer takes none (SD3, FLUX.1-schnell). On FLUX, `guidance_scale` is
    the pipeline's `true_cfg_scale` (1 unless a negative prompt asks for true classifier-free guidance)."""

    prompt_embeds: torch.Tensor  # (N, L, D)
    uncond_embeds: torch.Tensor  # (N, L, D): the negative prompt's, or the empty prompt's (zeros: SDXL's force_zeros)
    guidance_scale: float = 1.0
    pooled_prompt_embeds: torch.Tensor | None = None  # (N, P) SDXL
    pooled_uncond_embeds: torch.Tensor | None = None  # (N, P) SDXL
    time_ids: torch.Tensor | None = None  # (N, 6) SDXL: original size, crop top-left, target size
    guidance: float | None = None  # FLUX.1-dev's distilled guidance scale (the transformer's `guidance` input)
    # The guidance scale per step (delayed / opposite guidance, sampling/cfg_schedule.py); None: guidance_scale.
    cfg_schedule: GuidanceSchedule | None = None
    hook: GuidanceHook | None = None  # guidance on the separate halves (sampling/amg.py); None: none

    @property
    def added(self) -> bool:
        """Whether the UNet takes added conditions (SDXL)."""
        return self.pooled_prompt_embeds is not None

    @property
    def guided(self) -> bool:
        """Whether the denoiser combines a second, unconditional branch (guidance_scale > 1), as the pipelines'
        `do_classifier_free_guidance` (FLUX: `do_true_cfg`) decides."""
        return self.guidance_scale > 1.0

    def scale_at(self, t: torch.Tensor) -> float | torch.Tensor:
        """The guidance scale w at the rows' network times t: guidance_scale, or the schedule's w(t) (a float
        where the rows share one, else a column to broadcast)."""
        if self.cfg_schedule is None:
            return self.guidance_scale
        return self.cfg_schedule.scale_at(t, self.guidance_scale)

    def unhooked(self) -> TextCond:
        """The same condition without its hook (what the hook itself calls the denoiser with)."""
        return replace(self, hook=None)

    def _map(self, f) -> TextCond:
        opt = lambda v: None if v is None else f(v)  # noqa: E731
        return TextCond(
            f(self.prompt_embeds),
            f(self.uncond_embeds),
            self.guidance_scale,
            opt(self.pooled_prompt_embeds),
            opt(self.pooled_uncond_embeds),
            opt(self.time_ids),
            self.guidance,
            self.cfg_schedule,
            self.hook,
        )

    def rows(self, index: slice | torch.Tensor) -> TextCond:
        return self._map(lambda v: v[index])

    def to(self, device: torch.device | str) -> TextCond:
        return self._map(lambda v: v.to(device))

    def with_prompt_embeds(self, prompt_embeds: torch.Tensor) -> TextCond:
        """The same condition with other prompt embeddings (a prompt defence's), added conditions kept."""
        return replace(self, prompt_embeds=prompt_embeds)

    def prompt_only(self) -> TextCond:
        """The prompt half alone: eps(x_t, t, prompt), guidance scale 1 at every step, no hook."""
        return replace(self, guidance_scale=1.0, cfg_schedule=None, hook=None)

    def uncond_only(self) -> TextCond:
        """The unconditional half alone: eps(x_t, t, uncond), guidance scale 1."""
        return TextCond(
            self.uncond_embeds,
            self.uncond_embeds,
            1.0,
            self.pooled_uncond_embeds,
            self.pooled_uncond_embeds,
            self.time_ids,
            self.guidance,
        )

    def doubled(self) -> TextCond:
        """Both halves as one batch of guidance scale 1, in diffusers' order: unconditional first
        (pipeline_stable_diffusion.py and pipeline_stable_diffusion_xl.py, `torch.cat([negative_..., ...])`)."""
        cat = lambda u, c: None if c is None else torch.cat([u, c])  # noqa: E731
        pooled = cat(self.pooled_uncond_embeds, self.pooled_prompt_embeds)
        both = torch.cat([self.uncond_embeds, self.prompt_embeds])
        return TextCond(both, both, 1.0, pooled, pooled, cat(self.time_ids, self.time_ids), self.guidance)


Cond = TextCond | torch.Tensor | None  # None: unconditional; a (N,) long tensor: class ids


def cond_rows(cond: Cond, index: slice | torch.Tensor) -> Cond:
    """The condition of some rows of a batch (the rows a guidance step works on)."""
    if cond is None:
        return None
    if isinstance(cond, TextCond):
        return cond.rows(index)
    return cond[index]


def cond_to(cond: Cond, device: torch.device | str) -> Cond:
    return None if cond is None else cond.to(device)


def guided_output(
    cond: TextCond,
    t: torch.Tensor,
    prompt: Callable[[], torch.Tensor],
    uncond: Callable[[], torch.Tensor],
    halves: Callable[[], tuple[torch.Tensor, torch.Tensor]],
) -> torch.Tensor:
    """Classifier-free guidance u + w (c - u) at w = cond.scale_at(t), calling only what that needs: the prompt
    half alone at w = 1 (the pipelines' `do_classifier_free_guidance` off), the unconditional half alone at w = 0
    (delayed guidance's early steps), both halves (`halves()` -> (u, c)) otherwise. At a constant w this is the
    combination the pipelines form, bit for bit."""
    w = cond.scale_at(t)
    if isinstance(w, float) and w == 1.0:
        return prompt()
    if isinstance(w, float) and w == 0.0:
        return uncond()
    u, c = halves()
    if isinstance(w, torch.Tensor):
        w = w.to(u.device, u.dtype).reshape(-1, *([1] * (u.dim() - 1)))
    return u + w * (c - u)
