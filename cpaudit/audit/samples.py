"""Reading a samples folder written by `cpaudit sample` (or any folder with a samples.npz)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from cpaudit.data.npz import load_npz
from cpaudit.errors import InputError


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
        try:
            run = json.loads((folder / "run.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(folder / "run.json", f"not valid JSON ({e})") from None
    return SampleSet(images, run, folder)


