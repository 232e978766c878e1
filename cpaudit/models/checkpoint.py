"""Checkpoints: safetensors weights plus a JSON config. Nothing is ever unpickled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cpaudit.errors import InputError
from cpaudit.io_utils import atomic_path, write_json


def save_weights(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise InputError(path, f"not a readable safetensors file ({e})") from None


def read_config(path: Path, required: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """Read config.json and check each required top-level key has the expected JSON type."""
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        cfg = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise InputError(path, "must hold a JSON object")
    for key, kind in required.items():
        if key not in cfg:
            raise InputError(path, f"missing field {key!r}")
        if not isinstance(cfg[key], kind) or isinstance(cfg[key], bool) and kind in (int, float, (int, float)):
            raise InputError(path, f"field {key!r} has the wrong type ({type(cfg[key]).__name__})")
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> None:
    write_json(path, cfg)


def load_state_into(module: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """load_state_dict with a one-line InputError when the weights do not fit the architecture."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0] if str(e) else "mismatch"
        raise InputError(source, f"weights do not match the architecture in config.json ({first})") from None


def read_safetensors(folder: Path, stem: str) -> dict[str, torch.Tensor]:
    """`stem.safetensors`, or the shards `stem.safetensors.index.json` maps (how diffusers and transformers save
    large models: FLUX.1's transformer, T5-XXL); pickled `.bin` weights refused, never opened."""
    single, index_path = folder / f"{stem}.safetensors", folder / f"{stem}.safetensors.index.json"
    if single.is_file():
        return load_weights(single)
    if index_path.is_file():
        weight_map = read_config(index_path, {"weight_map": dict})["weight_map"]
        state: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            if Path(shard).name != shard:
                raise InputError(index_path, f"shard {shard!r} is not a file name in this folder")
            state.update(load_weights(folder / shard))
        return state
    if any(folder.glob("*.bin")):
        raise InputError(
            single,
            "no such file; pickled .bin weights are never loaded: save the model with "
            "safe_serialization=True (safetensors)",
        )
    raise InputError(single, "no such file")
