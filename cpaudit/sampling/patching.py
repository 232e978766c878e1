"""A module's forward replaced for the duration of a call: how `--scheduler native` hands CPSample's guided
prediction back to a diffusers pipeline, whose callbacks can replace latents but not the network's output
(sampling/native.py wraps a UNet, sampling/native_flow.py a flow transformer)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch


@contextlib.contextmanager
def patched_forward(module: torch.nn.Module, forward: Callable[..., Any]) -> Iterator[None]:
    """module.forward replaced by `forward` for the duration (an instance attribute, removed after)."""
    module.forward = forward
    try:
        yield
    finally:
        del module.forward
