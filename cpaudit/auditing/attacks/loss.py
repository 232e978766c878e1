"""The loss attack (Matsumoto et al., "Membership Inference Attacks against Diffusion Models", 2023).

Per image, L_t(x) = mean over draws of ||eps - eps_hat(alpha_t x + sigma_t eps, t)||^2 at a fixed t, on the
model's path (alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t) on a VP one); members tend to have lower loss,
so the score is -L_t. At a fixed t this is the model's own training loss up to a constant factor whatever it
was trained to predict (v - v_hat = (eps - eps_hat) / alpha_t on a VP path; a flow velocity's error is
(eps - eps_hat) / (1 - sigma_t)), so it ranks images as that loss does. One variant per t in --mia-t; the
headline chooses t and sign without looking at the images it is evaluated on (core/crossfit.py).
On the protected denoiser eps_hat is CPSample's protected prediction, so the attack sees what is deployed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from cpaudit.auditing.attacks.base import AttackContext, AttackScores, AttackTarget, Denoiser
from cpaudit.core.paths import GaussianPath, noise_to
from cpaudit.distributed import gather_rows, world
from cpaudit.models.conditioning import Cond, cond_rows, cond_to
from cpaudit.sampling.protection import LogitFn, Protection
from cpaudit.seeding import MAX_SEED, derive_seed, torch_generator


def image_noise(base_seed: int, index: torch.Tensor | range, draws: int, shape: tuple[int, ...]) -> torch.Tensor:
    """(draws, B, *shape) noise for images `index`: image i draws from its own generator, seeded base + i,
    so its noise does not depend on the batch, the shard or how many other images are scored."""
    return torch.stack(
        [torch.randn((draws, *shape), generator=torch_generator((base_seed + int(i)) % MAX_SEED)) for i in index], dim=1
    )


@torch.no_grad()
def reconstruction_losses(
    pair_model: Callable,
    images: torch.Tensor,
    path: GaussianPath,
    t: int,
    draws: int,
    base_seed: int,
    *,
    batch_size: int = 256,
    protection: Protection | None = None,
    logit_fn: LogitFn | None = None,
    rows: slice | None = None,
    device: torch.device | str = "cpu",
    cond: Cond = None,
) -> np.ndarray:
    """Mean squared noise-prediction error per image over `draws` noise draws. Shape (N,), or one entry per
    row of `rows` (a process's shard). Noise is drawn per batch on the CPU (see image_noise), so memory is
    draws x batch_size images, and the result does not depend on batch_size, shard or device. A conditional
    model takes `cond` (rows aligned with `images`) as its third argument."""
    index = range(images.shape[0])[rows] if rows is not None else range(images.shape[0])
    alpha, sigma = path.at(t)
    losses = torch.zeros(len(index), dtype=torch.float64)
    for start in range(0, len(index), batch_size):
        idx = index[start : start + batch_size]
        x0 = images[idx.start : idx.stop].to(device)
        model = (
            pair_model
            if cond is None
            else _bind(pair_model, cond_to(cond_rows(cond, slice(idx.start, idx.stop)), device))
        )
        denoiser = Denoiser(model, path, torch.device(device), protection, logit_fn)
        noise = image_noise(base_seed, idx, draws, tuple(images.shape[1:]))
        for d in range(draws):
            eps = noise[d].to(device)
            eps_hat = denoiser.eps(noise_to(x0, eps, alpha, sigma), t)
            losses[start : start + x0.shape[0]] += (eps - eps_hat).pow(2).flatten(1).mean(1).double().cpu()
    return (losses / draws).numpy()


def _bind(pair_model: Callable, cond: Cond) -> Callable:
    return lambda x, t: pair_model(x, t, cond)


class LossAttack:
    name = "loss"
    title = "loss attack (Matsumoto et al. 2023)"
    target: AttackTarget = "denoiser"

    def scores(self, ctx: AttackContext, denoiser: Denoiser | None) -> AttackScores:
        assert denoiser is not None and ctx.members is not None and ctx.holdout is not None
        w = world()
        conds = denoiser.conds
        model = denoiser.pair_model if conds is None else denoiser.cond_model
        assert model is not None  # a denoiser with conditions carries the model that reads them
        pos, neg = [], []
        for t in ctx.mia_t:
            ctx.step(f"loss attack t={t}" + (" (protected)" if denoiser.protected else "") + denoiser.title)
            row = []
            for role, x in (("members", ctx.members), ("holdout", ctx.holdout)):
                # Plain and protected attacks draw the same noise, so their difference is the protection's.
                seed = derive_seed(ctx.seed, f"mia-{t}-{role}")
                # Under torchrun each rank scores a block of the images with the noise one process draws for them.
                loss = reconstruction_losses(
                    model,
                    x,
                    denoiser.path,
                    t,
                    ctx.mia_draws,
                    seed,
                    protection=denoiser.protection,
                    logit_fn=denoiser.logit_fn,
                    rows=w.shard(len(x)),
                    device=denoiser.device,
                    cond=None if conds is None else conds[role],
                )
                row.append(-gather_rows(torch.from_numpy(loss), w).numpy())
            pos.append(row[0])
            neg.append(row[1])
        return AttackScores(
            [f"t={t}" for t in ctx.mia_t],
            np.stack(pos),
            np.stack(neg),
            queries_per_image=len(ctx.mia_t) * ctx.mia_draws,
            extra={"mia_t": list(ctx.mia_t)},
        )
