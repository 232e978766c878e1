"""Reading a samples folder written by `cpaudit sample` (or any folder with a samples.npz)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cpaudit.data.npz import load_npz
from cpaudit.errors import InputError
from cpaudit.io_utils import read_json


@dataclass
class SampleSet:
    images: torch.Tensor  # (N, C, H, W) in [-1, 1]
    run: dict | None  # run.json, when present
    folder: Path
    # Each sample's prompt (text-to-image): run.json's prompt_of_seed by samples.npz's seeds, or the
    # captions of a folder's metadata.jsonl. None where the samples carry none.
    prompts: tuple[str, ...] | None = None


def load_samples(folder: Path) -> SampleSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "samples folder not found")
    npz = folder / "samples.npz"
    run = None
    if (folder / "run.json").is_file():
        run = read_json(folder / "run.json")
        _check_run(run, folder / "run.json")
    if npz.is_file():
        images = load_npz(npz).images
        return SampleSet(images, run, folder, _prompts_by_seed(run, npz, len(images)))
    from cpaudit.data.folder import load_folder

    data = load_folder(folder)
    return SampleSet(data.images, run, folder, None if data.captions is None else tuple(data.captions))


def _prompts_by_seed(run: dict | None, npz: Path, n: int) -> tuple[str, ...] | None:
    """Each row's prompt: samples.npz's seeds looked up in run.json's conditions.prompt_of_seed."""
    by_seed = ((run or {}).get("conditions") or {}).get("prompt_of_seed")
    if not by_seed:
        return None
    with np.load(npz, allow_pickle=False) as f:
        seeds = f["seeds"] if "seeds" in f.files else None
    if seeds is None or len(seeds) != n:
        raise InputError(npz, "has no 'seeds' array matching its images, which run.json's prompt_of_seed needs")
    missing = [int(s) for s in seeds if str(int(s)) not in by_seed]
    if missing:
        raise InputError(npz.parent / "run.json", f"prompt_of_seed names no prompt for seed {missing[0]}")
    return tuple(str(by_seed[str(int(s))]) for s in seeds)


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
