"""eps(x_t, t, cond) over a diffusers UNet: UNet2DModel (unconditional or with class embeddings) or
UNet2DConditionModel (text), epsilon or v prediction, classifier-free guidance as one doubled batch."""

from __future__ import annotations

import torch

from cpaudit.core.steps import eps_from_v
from cpaudit.models.conditioning import Cond, TextCond

PREDICTION_TYPES = ("epsilon", "v_prediction")


class DiffusersDenoiser(torch.nn.Module):
    """Every sampler, guidance term and attack sees eps: a v-prediction output is converted with the
    model's own abar_t (core/steps.py eps_from_v), so guidance adds to the same quantity for both kinds."""

    def __init__(self, unet: torch.nn.Module, abar: torch.Tensor, prediction_type: str = "epsilon") -> None:
        super().__init__()
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
        self.unet = unet
        self.prediction_type = prediction_type
        self.register_buffer("abar", abar.float(), persistent=False)

    def _raw(self, x: torch.Tensor, t: torch.Tensor, cond: Cond) -> torch.Tensor:
        if isinstance(cond, TextCond):  # its prompt half; SDXL's added conditions as the pipeline passes them
            # (diffusers/pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py, `added_cond_kwargs`)
            added = {"text_embeds": cond.pooled_prompt_embeds, "time_ids": cond.time_ids} if cond.added else None
            return self.unet(x, t, encoder_hidden_states=cond.prompt_embeds, added_cond_kwargs=added).sample
        if isinstance(cond, torch.Tensor) and cond.dim() == 3:  # prompt embeddings
            return self.unet(x, t, encoder_hidden_states=cond).sample
        if isinstance(cond, torch.Tensor):
            return self.unet(x, t, class_labels=cond).sample
        return self.unet(x, t).sample

    def _eps(self, x: torch.Tensor, t: torch.Tensor, cond: Cond) -> torch.Tensor:
        out = self._raw(x, t, cond)
        if self.prediction_type == "v_prediction":
            out = eps_from_v(out, x, self.abar[t])
        return out

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        if not isinstance(cond, TextCond):
            return self._eps(x, t, cond)
        if cond.guidance_scale == 1.0:
            return self._eps(x, t, cond)
        # diffusers' order: the unconditional half first (pipeline_stable_diffusion.py, __call__), added conditions too.
        both = self._eps(torch.cat([x, x]), torch.cat([t, t]), cond.doubled())
        uncond, text = both.chunk(2)
        return uncond + cond.guidance_scale * (text - uncond)
