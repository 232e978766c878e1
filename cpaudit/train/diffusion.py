"""Denoiser training with the simple loss L = E ||eps - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t)||^2
(Ho et al. 2020, eq. 14), Adam and an EMA of the weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from cpaudit.core.schedules import Schedule, q_sample
from cpaudit.train.ema import EMA, ModelT
from cpaudit.train.state import load_training_state, save_training_state

Progress = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class DiffusionTrainConfig:
    steps: int = 4000
    batch_size: int = 64
    lr: float = 1e-3  # memorises 64 digits in ~3,000 steps at base width 32 (docs/install.md)
    ema_decay: float = 0.999
    checkpoint_every: int = 500


def diffusion_loss(
    model: torch.nn.Module,
    x0: torch.Tensor,
    t: torch.Tensor,
    eps: torch.Tensor,
    abar: torch.Tensor,
    cond: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-example simple loss, shape (N,); `cond` the class ids of a class-conditional model."""
    x_t = q_sample(x0, abar[t], eps)
    pred = model(x_t, t) if cond is None else model(x_t, t, cond)
    return (pred - eps).pow(2).flatten(1).mean(1)


def train_denoiser(
    model: ModelT,
    members: torch.Tensor,
    schedule: Schedule,
    cfg: DiffusionTrainConfig,
    gen: torch.Generator,
    *,
    state_path: Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    device: torch.device | str = "cpu",
    labels: torch.Tensor | None = None,
) -> tuple[ModelT, int]:
    """Train on `members` (M, C, H, W) on `device`; returns (EMA model, steps done). `labels` (M,): class ids
    for a class-conditional model, fed to model(x_t, t, y). The model is cpaudit's UNet, or any denoiser module
    of that call (a DiffusersDenoiser around a diffusers UNet2DModel); the EMA model has its class.

    Every draw (batch indices, t, eps) comes from the CPU generator `gen`, whose state is checkpointed with
    the weights, so a resumed run continues exactly where an uninterrupted one would be.
    """
    model = model.to(device)
    members = members.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    ema = EMA(model, cfg.ema_decay)
    abar = schedule.alphas_cumprod().float().to(device)
    step = 0
    if resume and state_path is not None and state_path.is_file():
        step = load_training_state(state_path, model=model, ema=ema.model, opt=opt, gen=gen)
    model.train()
    m = members.shape[0]
    while step < cfg.steps:
        idx = torch.randint(m, (cfg.batch_size,), generator=gen)
        t = torch.randint(schedule.T, (cfg.batch_size,), generator=gen)
        eps = torch.randn((cfg.batch_size, *members.shape[1:]), generator=gen)
        idx, t, eps = idx.to(device), t.to(device), eps.to(device)
        y = None if labels is None else labels.to(device)[idx]
        loss = diffusion_loss(model, members[idx], t, eps, abar, y).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update(model)
        step += 1
        if state_path is not None and (step % cfg.checkpoint_every == 0 or step == cfg.steps):
            save_training_state(state_path, model=model, ema=ema.model, opt=opt, gen=gen, step=step)
        if progress is not None:
            progress(step, cfg.steps, {"loss": float(loss.detach())})
    return ema.model, step
