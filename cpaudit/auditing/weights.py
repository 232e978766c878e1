"""Reading a weights file of tensors, never an arbitrary unpickle, and naming it by its content."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import torch

from cpaudit.errors import InputError


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """safetensors, or a torch file loaded with weights_only=True."""
    if path.suffix == ".safetensors":
        from cpaudit.models.checkpoint import load_weights

        return load_weights(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a hostile, truncated or foreign file
        raise InputError(path, f"refused to load (only tensors are accepted: {type(e).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "does not hold a state dict of tensors")
    return state


@lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes (memoised per path, size and mtime): features are cached and recorded
    by what the weights are, not where they lie."""
    st = Path(path).stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns)
