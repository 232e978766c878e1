"""Which device computes: `--device auto|cpu|cuda|cuda:N`.

Random draws always come from CPU generators (one per sample, see seeding.py) and are moved to the device,
so a seed names the same noise everywhere; results on a GPU differ from the CPU's only by floating-point
rounding. Under torchrun, `cuda` means this process's own GPU, cuda:LOCAL_RANK.
"""

from __future__ import annotations

import os

import torch

from cpaudit.errors import InputError

DEVICE_HELP = "auto (a GPU when CUDA has one, else the CPU), cpu, cuda or cuda:N."


def local_rank() -> int:
    """torchrun's LOCAL_RANK: this process's index on its machine (0 outside torchrun)."""
    try:
        return int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        return 0


def resolve_device(spec: str = "auto") -> torch.device:
    """Parse a --device value into a torch.device this machine has; InputError otherwise."""
    text = spec.strip().lower()
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        text = "cuda"
    if text != "cuda" and not text.startswith("cuda:"):
        raise InputError("--device", f"expected auto, cpu, cuda or cuda:N, got {spec!r}")
    if not torch.cuda.is_available():
        raise InputError("--device", f"{spec!r} asks for a GPU but CUDA is not available here (use --device cpu)")
    count = torch.cuda.device_count()
    if text == "cuda":
        index = local_rank()
        if index >= count:
            raise InputError(
                "--device",
                f"this process is LOCAL_RANK {index} but the machine has {count} GPU(s): "
                "start at most one process per GPU (torchrun --nproc-per-node)",
            )
        return torch.device("cuda", index)
    try:
        index = int(text.split(":", 1)[1])
    except ValueError:
        raise InputError("--device", f"expected cuda:N with an integer N, got {spec!r}") from None
    if not 0 <= index < count:
        raise InputError(
            "--device", f"{spec!r} does not exist: the machine has {count} GPU(s), cuda:0 to cuda:{count - 1}"
        )
    return torch.device("cuda", index)


def describe(device: torch.device) -> str:
    """What a run.json records: 'cpu (N threads)' or 'cuda:0 (NVIDIA H100 80GB HBM3)'."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
