"""Membership inference by reconstruction loss (Matsumoto et al. 2023).

Per image, L(x) = mean over draws of ||eps - eps_hat(sqrt(abar_t) x + sqrt(1 - abar_t) eps, t)||^2 at a
fixed t; members tend to have lower loss. Score = -L, so a higher score means "member".
With a Protection, eps_hat is CPSample's protected prediction, so the audit attacks what is deployed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from cpaudit.core.schedules import q_sample
from cpaudit.core.stats import mean_loss_z_test, roc_auc, roc_curve, tpr_at_fpr
from cpaudit.sampling.protection import LogitFn, Protection, protect_eps


@torch.no_grad()
def reconstruction_losses(
    eps_model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    abar: torch.Tensor,
    t: int,
    draws: int,
    gen: torch.Generator,
    *,
    batch_size: int = 256,
    protection: Protection | None = None,
    logit_fn: LogitFn | None = None,
    rows: slice | None = None,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Mean squared noise-prediction error per image, averaged over `draws` noise draws. Shape (N,).

    All noise is drawn up front in image order, on the CPU, so the result does not depend on batch_size
    or device. With `rows` (a process's shard) only those images are scored, with the noise the full run
    gives them; the result then has one entry per row of the shard. Batches are scored on `device`, where
    eps_model's weights are.
    """
    eps_all = torch.randn((draws, *images.shape), generator=gen)
    if rows is not None:
        images, eps_all = images[rows], eps_all[:, rows]
    n = images.shape[0]
    a_t = float(abar[t])
    abar = abar.to(device)
    losses = torch.zeros(n, dtype=torch.float64)
    guard = protection is not None and not protection.inactive
    for d in range(draws):
        for start in range(0, n, batch_size):
            x0 = images[start : start + batch_size].to(device)
            eps = eps_all[d, start : start + batch_size].to(device)
            tt = torch.full((x0.shape[0],), t, dtype=torch.long, device=device)
            x_t = q_sample(x0, abar[tt], eps)
            eps_hat = eps_model(x_t, tt)
            if guard:
                eps_hat, _ = protect_eps(eps_hat, x_t, tt, a_t, logit_fn, protection)  # type: ignore[arg-type]
            losses[start : start + x0.shape[0]] += (eps - eps_hat).pow(2).flatten(1).mean(1).double().cpu()
    return (losses / draws).numpy()


@dataclass
class MIAResult:
    t: int
    auc: float
    tpr_at_1pct_fpr: float
    tpr_at_01pct_fpr: float
    balanced_accuracy: float
    z: float
    p_value: float
    loss_members: np.ndarray
    loss_holdout: np.ndarray

    @property
    def attacker_auc(self) -> float:
        """An attacker can flip the sign of the score, so an AUC below 1/2 leaks as much as 1 - AUC."""
        return max(self.auc, 1 - self.auc)

    def summary(self) -> dict:
        return {
            "t": self.t,
            "auc": self.auc,
            "attacker_auc": self.attacker_auc,
            "tpr_at_1pct_fpr": self.tpr_at_1pct_fpr,
            "tpr_at_0.1pct_fpr": self.tpr_at_01pct_fpr,
            "balanced_accuracy": self.balanced_accuracy,
            "z": self.z,
            "p_value": self.p_value,
            "n_members": int(len(self.loss_members)),
            "n_holdout": int(len(self.loss_holdout)),
        }


def mia_statistics(t: int, loss_members: np.ndarray, loss_holdout: np.ndarray) -> MIAResult:
    pos, neg = -loss_members, -loss_holdout
    fpr, tpr = roc_curve(pos, neg)
    z, p = mean_loss_z_test(loss_members, loss_holdout)
    return MIAResult(
        t=t,
        auc=roc_auc(pos, neg),
        tpr_at_1pct_fpr=tpr_at_fpr(pos, neg, 0.01),
        tpr_at_01pct_fpr=tpr_at_fpr(pos, neg, 0.001),
        balanced_accuracy=float(np.max((tpr + 1 - fpr) / 2)),
        z=z,
        p_value=p,
        loss_members=loss_members,
        loss_holdout=loss_holdout,
    )
