"""CIFAR-10's python batches (data_batch_1..5, test_batch), read with a restricted unpickler.

The batches are pickles of {b'data': uint8 (10000, 3072), b'labels': [...], ...}. A pickle can run
arbitrary code on load, so we allow only the few numpy globals an ndarray needs and refuse the rest.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from cpaudit.data.imageset import ImageSet
from cpaudit.errors import InputError

BATCH_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        if module.startswith("numpy.core"):  # numpy 2 renamed numpy.core to numpy._core
            module = "numpy._core" + module[len("numpy.core") :]
        return super().find_class(module, name)


def _read_batch(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as f:
            batch = _SafeUnpickler(f, encoding="bytes").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
    ) as e:
        raise InputError(path, f"not a CIFAR-10 python batch ({type(e).__name__}: {e})") from None
    if not isinstance(batch, dict):
        raise InputError(path, "not a CIFAR-10 python batch (expected a dict)")
    data = batch.get(b"data", batch.get("data"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise InputError(path, "not a CIFAR-10 python batch ('data' must be uint8 of shape (N, 3072))")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channel-major rows -> (N, 32, 32, 3)


def load_cifar10(folder: Path) -> ImageSet:
    present = [folder / n for n in BATCH_NAMES if (folder / n).is_file()]
    if not present:
        raise InputError(folder, f"no CIFAR-10 batches found (expected {', '.join(BATCH_NAMES)})")
    arrays, ids = [], []
    for p in present:
        a = _read_batch(p)
        arrays.append(a)
        ids += [f"{p.name}/{i:05d}" for i in range(len(a))]
    return ImageSet(np.ascontiguousarray(np.concatenate(arrays)), ids, str(folder))


def is_cifar10_folder(folder: Path) -> bool:
    return any((folder / n).is_file() for n in BATCH_NAMES)
