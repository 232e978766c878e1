"""The rectified-flow objective of `train-diffusion --text --arch sd3|flux`, as diffusers' DreamBooth scripts for
SD3 and FLUX train (examples/dreambooth/train_dreambooth_sd3.py, train_dreambooth_flux.py) without output
preconditioning (their `precondition_outputs` off) and with uniform loss weights (their 'logit_normal'
weighting scheme; Esser et al. 2024, Sec. 3.1, eq. 19):

    x_t = (1 - sigma) x0 + sigma eps,    target v = eps - x0,    loss = || v_theta(x_t, 1000 sigma, c) - v ||^2

sigma is drawn by logit-normal timestep sampling (Esser et al. 2024, eq. 19: u = sigmoid(n), n ~ N(m, s^2))
mapped onto the scheduler's training grid as the scripts do: `u = compute_density_for_timestep_sampling(
"logit_normal", ...)` (diffusers/training_utils.py), `indices = (u * num_train_timesteps).long()`,
`timesteps = scheduler.timesteps[indices]` with the grid descending (index 0 the noisiest), and sigma the
scheduler sigma at that timestep (`get_sigmas`). With a static shift the grid is already shifted
(core/flow.py FlowSchedule.training_sigmas).

The pure functions take a torch.Generator (no global RNG); `train_flow_transformer` is the loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from cpaudit.train.text_diffusion import TextTrainConfig

Progress = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class FlowTrainConfig(TextTrainConfig):
    """TextTrainConfig's fields (the autoencoder's, batch, caption dropout) with the flow transformer's
    defaults: ../shared/calibration.md's ('A tiny flow-matching text model'; AdamW, weight decay 1e-4, gradient
    clip 1, 100 autoencoder steps) at twice its learning rate and more steps (FLOW_STEPS), so that the members
    are reproduced under the replica rule of the text tests (sample-to-own-image r above the held-out
    images' 1 - 1/n quantile of nearest-member r, about 0.98 on captioned-digits), not only r >= 0.95. Measured
    on 64 captioned digits (seed 0, one core; every run had r >= 0.95 on all 64 from 1,000 steps at 2e-3 or 600
    at 4e-3): SD3 600 steps at 2e-3 gave 2 of 64, 1,000 steps 54, 1,200 steps 63; at 4e-3 600 steps 39, 800
    steps 57 and 64 (two generator streams), 1,000 steps 64. FLUX 500 steps at 2e-3 gave 53 of 64; at 4e-3
    600 steps 63, 700 steps 63, 800 steps 64."""

    vae_steps: int = 100
    steps: int = 800
    lr: float = 4e-3
    weight_decay: float = 1e-4
    max_grad_norm: float = 1.0
    logit_mean: float = 0.0
    logit_std: float = 1.0


FLOW_STEPS = {
    "sd3": 1000,
    "flux": 700,
}  # transformer steps at which 64 captioned digits are memorised (FlowTrainConfig)


def flow_train_config(family: str, **given) -> FlowTrainConfig:
    """FlowTrainConfig at `family`'s step count, with the options given (None: the default)."""
    kwargs = {"steps": FLOW_STEPS[family], **{k: v for k, v in given.items() if v is not None}}
    return FlowTrainConfig(**kwargs)


def logit_normal(n: int, generator: torch.Generator, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """u = sigmoid(N(mean, std^2)), (n,) float32 in (0, 1): compute_density_for_timestep_sampling('logit_normal')."""
    return torch.sigmoid(torch.normal(mean, std, size=(n,), generator=generator))


def sigma_indices(u: torch.Tensor, T: int) -> torch.Tensor:
    """`(u * T).long()`: indices into the descending grid (u near 1: the noisiest sigmas). A u rounded to 1.0
    in float32 (n > 16.6, never at std 1 in practice) would index past the end: clamped to T - 1."""
    return (u * T).long().clamp(max=T - 1)


def sample_sigmas(
    n: int, grid_descending: torch.Tensor, generator: torch.Generator, mean: float = 0.0, std: float = 1.0
) -> torch.Tensor:
    """(n,) sigmas: logit-normal u mapped onto the scheduler's grid, descending as scheduler.sigmas is after
    __init__ (sigma_max first)."""
    return grid_descending[sigma_indices(logit_normal(n, generator, mean, std), len(grid_descending))]


def flow_pair(x0: torch.Tensor, eps: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, target): x_t = (1 - sigma) x0 + sigma eps and the velocity eps - x0; sigma (N,) broadcast per row."""
    s = sigma.to(x0.dtype).view(-1, *[1] * (x0.dim() - 1))
    return (1 - s) * x0 + s * eps, eps - x0


def flow_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample, averaged over the batch (the scripts' weighting 1)."""
    return (pred.float() - target.float()).pow(2).reshape(len(target), -1).mean(1).mean()


@dataclass(frozen=True)
class FlowCond:
    """What the transformer is conditioned on, as the pipeline's `encode_prompt` returns it, for each member
    caption (row i) and for the empty prompt (one row: classifier-free guidance's negative prompt '')."""

    embeds: torch.Tensor  # (M, L, D)
    pooled: torch.Tensor  # (M, P)
    empty_embeds: torch.Tensor  # (1, L, D)
    empty_pooled: torch.Tensor  # (1, P)

    def rows(self, idx: torch.Tensor, drop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows idx, each replaced by the empty prompt's where `drop` (caption dropout)."""
        d = drop.view(-1, 1)
        return (
            torch.where(d[:, :, None], self.empty_embeds, self.embeds[idx]),
            torch.where(d, self.empty_pooled, self.pooled[idx]),
        )

    def to(self, device: torch.device | str) -> FlowCond:
        return FlowCond(*(t.to(device) for t in (self.embeds, self.pooled, self.empty_embeds, self.empty_pooled)))


# A velocity network: (x_t (B, C, H, W), sigma (B,), embeds, pooled) -> predicted velocity (B, C, H, W).
Velocity = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def train_flow_transformer(
    model: torch.nn.Module,
    velocity: Velocity,
    latents: torch.Tensor,
    cond: FlowCond,
    grid_descending: torch.Tensor,
    cfg: FlowTrainConfig,
    gen: torch.Generator,
    *,
    progress: Progress | None = None,
    device: torch.device | str = "cpu",
) -> torch.nn.Module:
    """AdamW on the flow loss over the members' latents (M, C, H, W): each step draws a batch of members,
    noise, sigmas and caption drops from `gen` (on the CPU, then moved: one stream on any device)."""
    model = model.to(device).train()
    latents, cond, grid = latents.to(device), cond.to(device), grid_descending.to(torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(len(latents), (cfg.batch_size,), generator=gen)
        eps = torch.randn((cfg.batch_size, *latents.shape[1:]), generator=gen).to(device)
        sigma = sample_sigmas(cfg.batch_size, grid, gen, cfg.logit_mean, cfg.logit_std).to(device)
        drop = (torch.rand(cfg.batch_size, generator=gen) < cfg.caption_dropout).to(device)
        x_t, target = flow_pair(latents[idx.to(device)], eps, sigma)
        loss = flow_loss(velocity(x_t, sigma, *cond.rows(idx.to(device), drop)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        opt.step()
        if progress is not None:
            progress(step, cfg.steps, {"loss": float(loss.detach())})
    return model.eval().requires_grad_(False)
