"""The static type of a diffusers or transformers model loaded by class name (`getattr(diffusers, name)`): a
torch Module with a `config` whose fields are read by name (diffusers' FrozenDict, transformers'
PretrainedConfig), and the `dtype` / `device` properties both libraries' base classes define.

torch types an unknown Module attribute as `Tensor | Module` (Module.__getattr__), so `unet.config.sample_size`
would not type-check on a plain Module, and diffusers' classes are Any to mypy (pyproject.toml: its top-level
names type as torch-less placeholders, so it is not followed); here any other attribute is typed Any. At run time ConfiguredModule is torch.nn.Module itself: isinstance
and annotations behave as before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:

    class ConfiguredModule(torch.nn.Module):
        config: Any
        dtype: torch.dtype
        device: torch.device

        def __getattr__(self, name: str) -> Any:
            """Every other attribute (submodules such as `add_embedding`, methods such as `encode`) is the
            library class's own, unknown here: Any, not torch's `Tensor | Module`."""
            ...

else:
    ConfiguredModule = torch.nn.Module
