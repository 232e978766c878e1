"""Images <-> the space a denoiser works in: identity for pixel models, a VAE for latent ones.

Latent diffusion (Rombach et al. 2022, Sec. 3) trains the denoiser on z = scaling_factor * E(x); cpaudit
encodes with the posterior mean (no sampling noise: one image, one latent) and decodes D(z / scaling_factor),
as diffusers' StableDiffusionPipeline does (pipeline_stable_diffusion.py, `vae.decode(latents /
vae.config.scaling_factor)`).
"""

from __future__ import annotations

import torch

from cpaudit.models.configured import ConfiguredModule


class IdentityCodec:
    latent = False

    def space_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        c, h, w = image_shape
        return (c, h, w)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        return x0

    def to(self, device: torch.device | str) -> IdentityCodec:
        return self

    def describe(self) -> dict:
        return {"kind": "identity"}


class VaeCodec:
    """A diffusers AutoencoderKL; images in [-1, 1] (N, C, H, W), latents (N, c, H/f, W/f)."""

    latent = True

    def __init__(self, vae: ConfiguredModule, batch_size: int = 64) -> None:
        self.vae = vae.eval().requires_grad_(False)
        self.scaling_factor = float(vae.config.scaling_factor)
        self.shift_factor = float(getattr(vae.config, "shift_factor", None) or 0.0)
        self.batch_size = batch_size
        self.factor = 2 ** (len(vae.config.block_out_channels) - 1)

    def space_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        _, h, w = image_shape
        return (int(self.vae.config.latent_channels), h // self.factor, w // self.factor)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        dev = next(self.vae.parameters()).device
        parts = [
            self.vae.encode(images[i : i + self.batch_size].to(dev)).latent_dist.mean
            for i in range(0, len(images), self.batch_size)
        ]
        return (torch.cat(parts) - self.shift_factor) * self.scaling_factor

    @torch.no_grad()
    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        dev = next(self.vae.parameters()).device
        parts = [
            self.vae.decode(x0[i : i + self.batch_size].to(dev) / self.scaling_factor + self.shift_factor).sample
            for i in range(0, len(x0), self.batch_size)
        ]
        return torch.cat(parts)

    def to(self, device: torch.device | str) -> VaeCodec:
        self.vae.to(device)
        return self

    def describe(self) -> dict:
        return {"kind": "vae", "scaling_factor": self.scaling_factor, "downsampling": self.factor}
