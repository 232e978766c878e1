"""Optional dependencies: import one, or say in one line which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from cpaudit.errors import CpauditError


class MissingExtra(CpauditError):
    """An optional dependency is not installed: bad environment, not a bug (exit 2)."""

    def __init__(self, package: str, extra: str, needed_for: str) -> None:
        self.where = package
        self.problem = f"is needed for {needed_for}: pip install 'cpaudit[{extra}]'"
        super().__init__(f"{package} {self.problem}")


# import name -> (package on PyPI, extra, what needs it)
EXTRAS: dict[str, tuple[str, str, str]] = {
    "sklearn": ("scikit-learn", "demo", "the bundled data sets 'digits' and 'captioned-digits'"),
    "opacus": ("opacus", "dp", "DP-SGD training and its privacy accounting"),
    "timm": ("timm", "timm", "--features timm:NAME"),
    "torchvision": ("torchvision", "fid", "pytorch-fid's state-dict Inception (--features inception:FILE.pth)"),
    "diffusers": ("diffusers", "diffusers", "diffusers model folders and text-to-image models"),
    "transformers": ("transformers", "diffusers", "Stable Diffusion's CLIP text encoder and tokenizer"),
    "peft": ("peft", "diffusers", "LoRA weights (--lora)"),
}


def require(module: str) -> ModuleType:
    """`importlib.import_module(module)`, or MissingExtra naming the extra that installs it."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if top not in EXTRAS or (e.name or "").split(".")[0] != top:
            raise  # a broken install of something else is a bug to report, not a missing extra
        raise MissingExtra(*EXTRAS[top]) from None
