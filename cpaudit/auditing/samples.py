"""Reading a samples folder written by `cpaudit sample` (or any folder with a samples.npz)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cpaudit.data.npz import load_npz
from cpaudit.errors import InputError
from cpaudit.io_utils import read_json


@dataclass
class SampleSet:
    images: torch.Tensor  # (N, C, H, W) in [-1, 1]
    run: dict | None  # run.json, when present
    folder: Path


def load_samples(folder: Path) -> SampleSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "samples folder not found")
    npz = folder / "samples.npz"
    if npz.is_file():
        images = load_npz(npz).images
    else:
        from cpaudit.data.folder import load_folder

        images = load_folder(folder).images
    run = None
    if (folder / "run.json").is_file():
        run = read_json(folder / "run.json")
        _check_run(run, folder / "run.json")
    return SampleSet(images, run, folder)




def _check_run(run: object, where: Path) -> None:
    """run.json is an object; its protection, where present, an object naming what the audit replays."""
    if not isinstance(run, dict):
        raise InputError(where, f"must be a JSON object (as `cpaudit sample` writes), got {type(run).__name__}")
    prot = run.get("protection")
    if prot is not None and not isinstance(prot, dict):
        raise InputError(where, f"'protection' must be an object or null, got {type(prot).__name__}")
    if prot and prot.get("classifier") is not None and not isinstance(prot["classifier"], str):
        raise InputError(where, "'protection.classifier' must be a folder path or 'exact'")
    if run.get("nonfinite_seeds") is not None and not isinstance(run["nonfinite_seeds"], list):
        raise InputError(where, "'nonfinite_seeds' must be a list")
