"""cpaudit: privacy audits and CPSample protection for image diffusion models.

In a notebook: `report = cpaudit.audit(samples, members=train_images, holdout=held_out_images)`, then
`report.passed`, `report.attacks` (a DataFrame), `report.replicas()`, `report.to_json()`.

The names below load on first use (PEP 562), so `import cpaudit.core.stats` or `cpaudit --help` does not
import torch, faiss, matplotlib and every pipeline.
"""

from __future__ import annotations

import importlib

from cpaudit.errors import CpauditError, InputError
from cpaudit.version import __version__

# name -> the module that defines it
_LAZY = {
    "audit": "cpaudit.api",
    "fid": "cpaudit.api",
    "protect": "cpaudit.api",
    "sample": "cpaudit.api",
    "train_classifier": "cpaudit.api",
    "train_diffusion": "cpaudit.api",
    "AuditReport": "cpaudit.results",
    "FidReport": "cpaudit.results",
    "Protection": "cpaudit.sampling.protection",
}

__all__ = [
    "AuditReport",
    "CpauditError",
    "FidReport",
    "InputError",
    "Protection",
    "__version__",
    "audit",
    "fid",
    "protect",
    "sample",
    "train_classifier",
    "train_diffusion",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once loaded, an ordinary attribute
        return value
    raise AttributeError(f"module 'cpaudit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
