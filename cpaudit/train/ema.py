"""Exponential moving average of weights, the usual trick for sampling from a diffusion model."""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

import torch
from torch import nn

ModelT = TypeVar("ModelT", bound=nn.Module)


class EMA(Generic[ModelT]):
    """The averaged copy has the trained model's own class (a UNet's EMA is a UNet)."""

    def __init__(self, model: ModelT, decay: float) -> None:
        self.decay = decay
        self.model: ModelT = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1 - self.decay)
