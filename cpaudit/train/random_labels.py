"""CPSample's random labels: each member gets a binary label from a seed, half of each."""

from __future__ import annotations

import numpy as np
import torch

from cpaudit.seeding import derive_seed


def random_labels(n: int, seed: int) -> torch.Tensor:
    """Balanced random labels (floor(n/2) ones), a permutation drawn from `seed`. Shape (n,), int64."""
    labels = np.zeros(n, dtype=np.int64)
    labels[: n // 2] = 1
    return torch.from_numpy(np.random.default_rng(seed).permutation(labels))


def label_seed_for(seed: int, label_seed: int | None = None) -> int:
    """The labels' seed: given explicitly, or derived from the run's seed (as train-classifier does)."""
    return derive_seed(seed, "labels") if label_seed is None else label_seed
