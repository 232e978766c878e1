"""Training state (weights, EMA, Adam moments, generator, step) flattened into safetensors for --resume."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from cpaudit.errors import InputError
from cpaudit.models.checkpoint import load_state_into, load_weights, save_weights


def save_training_state(
    path: Path, *, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator, step: int
) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    opt_state = opt.state_dict()
    for pid, st in opt_state["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    tensors["generator"] = gen.get_state()
    meta = {"step": str(step), "param_groups": json.dumps(opt_state["param_groups"])}
    save_weights(path, tensors, metadata=meta)


def load_training_state(
    path: Path, *, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator
) -> int:
    """Restore everything saved by save_training_state; returns the step reached."""
    from safetensors import safe_open

    tensors = load_weights(path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    try:
        step = int(meta["step"])
        groups = json.loads(meta["param_groups"])
    except (KeyError, ValueError) as e:
        raise InputError(path, f"training state lacks its metadata ({e})") from None
    load_state_into(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    load_state_into(ema, {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}, path)
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": groups})
    gen.set_state(tensors["generator"])
    return step
