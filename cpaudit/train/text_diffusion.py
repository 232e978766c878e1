"""Training the small latent text-to-image model of `train-diffusion --text`.

The autoencoder (an AutoencoderKL) is fitted first with the usual VAE loss, reconstruction MSE plus a small
KL weight (Rombach et al. 2022, Sec. 3, their KL-reg. autoencoder); the UNet then learns the simple loss
(Ho et al. 2020, eq. 14) on the members' latents z = scaling_factor * E(x), conditioned on their caption
embeddings, with the caption dropped (replaced by the unconditional input the sampler's guidance uses) a share
of the time so that classifier-free guidance has an unconditional model (Ho & Salimans 2022, Sec. 3.2). An
SDXL UNet also takes the pooled text embedding and the size/crop time ids (`added_cond_kwargs`, as diffusers'
examples/text_to_image/train_text_to_image_sdxl.py passes them); a dropped caption drops its pooled embedding too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from cpaudit.core.schedules import Schedule, q_sample
from cpaudit.models.conditioning import TextCond
from cpaudit.models.configured import ConfiguredModule
from cpaudit.models.diffusers_denoiser import DiffusersDenoiser

Progress = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class TextTrainConfig:
    vae_steps: int = 500  # reconstruction MSE stops falling near 400 steps on captioned-digits
    vae_lr: float = 1e-3
    vae_kl_weight: float = 1e-6
    steps: int = 1500  # UNet steps
    batch_size: int = 64
    lr: float = 1e-3
    caption_dropout: float = 0.1


def train_vae(
    vae: ConfiguredModule,
    images: torch.Tensor,
    cfg: TextTrainConfig,
    gen: torch.Generator,
    *,
    progress: Progress | None = None,
    device: torch.device | str = "cpu",
) -> ConfiguredModule:
    """Fit the autoencoder to `images` (N, C, H, W) in [-1, 1]; posterior samples use `gen`."""
    vae = vae.to(device).train().requires_grad_(True)
    images = images.to(device)
    opt = torch.optim.Adam(vae.parameters(), lr=cfg.vae_lr)
    for step in range(1, cfg.vae_steps + 1):
        x = images[torch.randint(len(images), (cfg.batch_size,), generator=gen).to(device)]
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen).to(device)
        recon = (vae.decode(z).sample - x).pow(2).mean()
        loss = recon + cfg.vae_kl_weight * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step, cfg.vae_steps, {"mse": float(recon.detach())})
    return vae.eval().requires_grad_(False)


@torch.no_grad()
def latent_scaling_factor(vae: ConfiguredModule, images: torch.Tensor) -> float:
    """1 / std of the posterior-mean latents of `images`: unit-variance latents, as Stable Diffusion's 0.18215
    was chosen (Rombach et al. 2022, Sec. G)."""
    dev = next(vae.parameters()).device
    return float(1.0 / vae.encode(images.to(dev)).latent_dist.mean.std())


def caption_dropout(cond: TextCond, drop: torch.Tensor) -> TextCond:
    """The prompt half of `cond` where `drop` is False, the unconditional half where it is True (embeddings
    and, for SDXL, pooled embeddings; the time ids are the same in both halves), guidance scale 1."""

    def pick(prompt: torch.Tensor, uncond: torch.Tensor) -> torch.Tensor:
        return torch.where(drop.view(-1, *[1] * (prompt.dim() - 1)), uncond, prompt)

    embeds = pick(cond.prompt_embeds, cond.uncond_embeds)
    pooled = None  # SDXL's pooled embeddings come in both halves, or in neither
    if cond.pooled_prompt_embeds is not None and cond.pooled_uncond_embeds is not None:
        pooled = pick(cond.pooled_prompt_embeds, cond.pooled_uncond_embeds)
    return TextCond(embeds, embeds, 1.0, pooled, pooled, cond.time_ids)


def train_text_unet(
    unet: ConfiguredModule,
    latents: torch.Tensor,
    cond: TextCond,
    schedule: Schedule,
    cfg: TextTrainConfig,
    gen: torch.Generator,
    *,
    progress: Progress | None = None,
    device: torch.device | str = "cpu",
) -> torch.nn.Module:
    """latents (M, c, h, w); cond: row i is member i's caption (the prompt half) and the unconditional input
    (the uncond half: the empty prompt's embedding, or SDXL's zeros under force_zeros_for_empty_prompt), as the
    prompt encoder's `condition` builds them for sampling, with SDXL's pooled embeddings and time ids."""
    unet = unet.to(device).train()
    net = DiffusersDenoiser(unet)  # the UNet called as the sampler calls it (added conditions for SDXL)
    latents, cond = latents.to(device), cond.to(device)
    abar = schedule.alphas_cumprod().float().to(device)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr)
    for step in range(1, cfg.steps + 1):
        idx = torch.randint(len(latents), (cfg.batch_size,), generator=gen).to(device)
        t = torch.randint(schedule.T, (cfg.batch_size,), generator=gen).to(device)
        eps = torch.randn((cfg.batch_size, *latents.shape[1:]), generator=gen).to(device)
        drop = (torch.rand(cfg.batch_size, generator=gen) < cfg.caption_dropout).to(device)
        pred = net(q_sample(latents[idx], abar[t], eps), t, caption_dropout(cond.rows(idx), drop))
        loss = (pred - eps).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step, cfg.steps, {"loss": float(loss.detach())})
    return unet.eval().requires_grad_(False)
