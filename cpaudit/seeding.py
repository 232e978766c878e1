"""Seeds: every random draw comes from an explicit generator derived from a recorded seed."""

from __future__ import annotations

import numpy as np
import torch

from cpaudit.errors import ConfigError

MAX_SEED = 2**63 - 1


def torch_generator(seed: int) -> torch.Generator:
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be in [0, 2^63 - 1], got {seed}")
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def numpy_generator(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def derive_seed(seed: int, purpose: str) -> int:
    """A stable sub-seed for one purpose (labels, split, noise), so streams never overlap by accident."""
    ss = np.random.SeedSequence([seed, *purpose.encode()])
    return int(ss.generate_state(1, dtype=np.uint64)[0] & MAX_SEED)
