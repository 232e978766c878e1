"""The velocity at (x_t, t, cond) of a flow-matching transformer: SD3's SD3Transformer2DModel or FLUX.1's
FluxTransformer2DModel, called as their pipelines call them. Everything outside sees unpacked latents
(N, C, h, w); FLUX's 2x2 packing into (N, h/2 * w/2, 4C) tokens happens here and nowhere else.

x_t = (1 - sigma) x0 + sigma eps and the network predicts v = eps - x0 (Esser et al. 2024, eq. 1-2;
diffusers' FlowMatchEulerDiscreteScheduler.step: prev = x + (sigma_next - sigma) v). The time input t is
cpaudit's flow time 1000 sigma (core/flow.py), the value the pipelines' `timesteps` hold."""

from __future__ import annotations

import torch

from cpaudit.core.flow import FlowFamily
from cpaudit.core.paths import PredictionType
from cpaudit.models.conditioning import Cond, TextCond, guided_output
from cpaudit.models.configured import ConfiguredModule


def pack_latents(x: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) -> (N, h/2 * w/2, 4C): FluxPipeline._pack_latents (diffusers/pipelines/flux/pipeline_flux.py)."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(n, (h // 2) * (w // 2), c * 4)


def unpack_latents(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, h/2 * w/2, 4C) -> (N, C, h, w): FluxPipeline._unpack_latents, with the latent size given directly."""
    n, _, channels = x.shape
    x = x.view(n, h // 2, w // 2, channels // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(n, channels // 4, h, w)


def latent_image_ids(h2: int, w2: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(h2 * w2, 3) position ids (0, row, column) of the packed tokens: FluxPipeline._prepare_latent_image_ids."""
    ids = torch.zeros(h2, w2, 3)
    ids[..., 1] = ids[..., 1] + torch.arange(h2)[:, None]
    ids[..., 2] = ids[..., 2] + torch.arange(w2)[None, :]
    return ids.reshape(h2 * w2, 3).to(device=device, dtype=dtype)


class FlowDenoiser(torch.nn.Module):
    """The transformer's velocity, guidance combined as the pipelines combine it (linear in the outputs, so the
    prediction pair of the combination is the combination of the pairs)."""

    prediction_type: PredictionType = "flow"

    def __init__(self, transformer: ConfiguredModule, family: FlowFamily) -> None:
        super().__init__()
        if family not in ("sd3", "flux"):
            raise ValueError(f"family must be 'sd3' or 'flux', got {family!r}")
        self.transformer = transformer
        self.family = family

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        """x: (N, C, h, w) unpacked latents; t: (N,) 1000 sigma (float64 from cpaudit's paths); cond: a TextCond.
        The latents go in the transformer's dtype; the time as each pipeline passes it: SD3 the scheduler's
        float32 `timesteps`, FLUX `t.to(latents.dtype)` (exact: 1000 sigma of a float32 sigma rounds as the
        scheduler's float32 product does). Guidance is combined in the transformer's dtype, as the pipelines do."""
        cond = self._text(cond)
        if cond.hook is not None:  # guidance on the separate halves (sampling/amg.py)
            return cond.hook(self, x, t, cond.unhooked())
        x_in, t_in = self._inputs(x, t)
        if cond.cfg_schedule is None and not cond.guided:  # the pipelines' `do_classifier_free_guidance` off
            out = self._branch(x_in, t_in, cond)
        else:
            out = guided_output(
                cond,
                t,
                lambda: self._branch(x_in, t_in, cond),
                lambda: self._branch(x_in, t_in, cond.uncond_only()),
                lambda: self._halves(x_in, t_in, cond),
            )
        return out.to(x.dtype)

    def halves(self, x: torch.Tensor, t: torch.Tensor, cond: TextCond) -> tuple[torch.Tensor, torch.Tensor]:
        """(unconditional, prompt) velocities as each pipeline computes them, in x's dtype."""
        u, c = self._halves(*self._inputs(x, t), self._text(cond))
        return u.to(x.dtype), c.to(x.dtype)

    def _inputs(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = self.transformer.dtype
        return x.to(dtype), t.to(torch.float32) if self.family == "sd3" else t.to(dtype)

    def _text(self, cond: Cond) -> TextCond:
        if not isinstance(cond, TextCond):
            raise TypeError(f"a {self.family.upper()} transformer is text-conditioned: cond must be a TextCond")
        return cond

    def _branch(self, x: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        """One half, on inputs already in the transformer's dtype: the prompt embeddings of `cond` alone."""
        if self.family == "sd3":
            return self._sd3_call(x, t, cond.prompt_embeds, cond.pooled_prompt_embeds)
        return self._flux(x, t, cond)

    def _halves(self, x: torch.Tensor, t: torch.Tensor, cond: TextCond) -> tuple[torch.Tensor, torch.Tensor]:
        """SD3: one doubled batch, the unconditional half first; FLUX: two calls (pipeline_flux.py's true CFG)."""
        if self.family == "sd3":
            return self._sd3_halves(x, t, cond)
        return self._flux(x, t, cond.uncond_only()), self._flux(x, t, cond)

    def _sd3_call(
        self, x: torch.Tensor, t: torch.Tensor, embeds: torch.Tensor, pooled: torch.Tensor | None
    ) -> torch.Tensor:
        return self.transformer(
            hidden_states=x, timestep=t, encoder_hidden_states=embeds, pooled_projections=pooled, return_dict=False
        )[0]

    def _sd3_halves(self, x: torch.Tensor, t: torch.Tensor, cond: TextCond) -> tuple[torch.Tensor, torch.Tensor]:
        """StableDiffusion3Pipeline.__call__ (pipeline_stable_diffusion_3.py): classifier-free guidance's halves as one
        doubled batch, the unconditional half first; the pipeline combines them as `noise_pred_uncond +
        guidance_scale (noise_pred_text - noise_pred_uncond)` (guided_output)."""
        both = cond.doubled()
        uncond, text = self._sd3_call(
            torch.cat([x, x]), torch.cat([t, t]), both.prompt_embeds, both.pooled_prompt_embeds
        ).chunk(2)
        return uncond, text

    def _flux_call(
        self,
        x: torch.Tensor,
        timestep: torch.Tensor,
        embeds: torch.Tensor,
        pooled: torch.Tensor | None,
        guidance: torch.Tensor | None,
    ) -> torch.Tensor:
        """One FluxTransformer2DModel call on the packed latents; the velocity unpacked."""
        _, _, h, w = x.shape
        img_ids = latent_image_ids(h // 2, w // 2, x.device, embeds.dtype)
        txt_ids = torch.zeros(embeds.shape[1], 3, device=x.device, dtype=embeds.dtype)
        out = self.transformer(
            hidden_states=pack_latents(x),
            timestep=timestep,
            guidance=guidance,
            pooled_projections=pooled,
            encoder_hidden_states=embeds,
            txt_ids=txt_ids,
            img_ids=img_ids,
            return_dict=False,
        )[0]
        return unpack_latents(out, h, w)

    def _flux(self, x: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        """One FLUX call on the prompt embeddings of `cond`, as FluxPipeline.__call__ (pipeline_flux.py) makes it:
        `timestep / 1000` and the distilled `guidance` tensor when the transformer embeds it (`guidance_embeds`,
        FLUX.1-dev). True classifier-free guidance is two such calls, `neg_noise_pred + true_cfg_scale
        (noise_pred - neg_noise_pred)` (halves and guided_output)."""
        timestep = t / 1000
        guidance = None
        if self.transformer.config.guidance_embeds:
            if cond.guidance is None:
                raise ValueError(
                    "this FLUX transformer embeds a guidance scale (guidance_embeds): cond.guidance must be set"
                )
            guidance = torch.full((x.shape[0],), cond.guidance, device=x.device, dtype=torch.float32)
        return self._flux_call(x, timestep, cond.prompt_embeds, cond.pooled_prompt_embeds, guidance)
