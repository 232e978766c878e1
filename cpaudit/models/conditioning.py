"""What a denoiser is conditioned on: nothing, class ids, or a text condition with classifier-free guidance."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TextCond:
    """Prompt embeddings for classifier-free guidance (Ho & Salimans 2022):
    eps = eps(x_t, t, uncond) + w (eps(x_t, t, prompt) - eps(x_t, t, uncond)), w = guidance_scale."""

    prompt_embeds: torch.Tensor  # (N, L, D)
    uncond_embeds: torch.Tensor  # (N, L, D): the negative prompt's, or the empty prompt's
    guidance_scale: float = 1.0

    def rows(self, index: slice | torch.Tensor) -> "TextCond":
        return TextCond(self.prompt_embeds[index], self.uncond_embeds[index], self.guidance_scale)

    def to(self, device: torch.device | str) -> "TextCond":
        return TextCond(self.prompt_embeds.to(device), self.uncond_embeds.to(device), self.guidance_scale)


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
