"""The model boundary: a network's output at (x_t, t[, cond]) as the prediction pair (x0_hat, eps_hat) on the
model's own Gaussian path (core/paths.py). Everything above it (samplers, CPSample, repulsion, every attack,
the detector) sees only pairs; a new output type is one branch in core/paths.prediction_pair."""

from __future__ import annotations

from collections.abc import Callable

import torch

from cpaudit.core.paths import GaussianPath, Pred, PredictionType, prediction_pair
from cpaudit.models.conditioning import Cond

PairFn = Callable[[torch.Tensor, torch.Tensor], Pred]  # (x_t, t) -> (x0_hat, eps_hat), t: (N,) network time inputs
# (GaussianPath.time_input: the grid index on a VP path, 1000 sigma on a flow)


def path_coefficients(path: GaussianPath, t: torch.Tensor) -> tuple[torch.Tensor | float, torch.Tensor | float]:
    """(alpha_t, sigma_t) at the network time inputs t (GaussianPath.coefficients)."""
    return path.coefficients(t)


class PairModel:
    """net(x_t, t[, cond]) -> output, with its prediction type and path: called, the pair."""

    def __init__(
        self, net: Callable[..., torch.Tensor], path: GaussianPath, prediction: PredictionType = "epsilon"
    ) -> None:
        self.net = net
        self.path = path
        self.prediction = prediction

    def __call__(self, x: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> Pred:
        out = self.net(x, t) if cond is None else self.net(x, t, cond)
        return prediction_pair(out, x, *path_coefficients(self.path, t), self.prediction)

    def bind(self, cond: Cond) -> PairFn:
        """The 2-argument pair function with `cond` bound (rows in the order of the batch)."""
        return lambda x, t: self(x, t, cond)
