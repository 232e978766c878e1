"""The network output at (x_t, t, cond) of a diffusers UNet: UNet2DModel (unconditional or with class
embeddings) or UNet2DConditionModel (text), classifier-free guidance as one doubled batch. The output is what
the network predicts (eps, v or x0); models/denoise.py turns it into the prediction pair on the model's path."""

from __future__ import annotations

import torch

from cpaudit.core.paths import is_prediction_type
from cpaudit.models.conditioning import Cond, TextCond, guided_output
from cpaudit.models.configured import ConfiguredModule

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")  # diffusers' names for the VP schedulers' outputs


class DiffusersDenoiser(torch.nn.Module):
    """The raw network output, classifier-free guidance combined on it as diffusers' pipelines do (it is
    linear, so the pair of the combined output is the combination of the pairs)."""

    def __init__(self, unet: ConfiguredModule, prediction_type: str = "epsilon") -> None:
        super().__init__()
        if not is_prediction_type(prediction_type) or prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
        self.unet = unet
        self.prediction_type = prediction_type

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
        return self._raw(x, t, cond)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Cond = None) -> torch.Tensor:
        if not isinstance(cond, TextCond):
            return self._eps(x, t, cond)
        if cond.hook is not None:  # guidance on the separate halves (sampling/amg.py)
            return cond.hook(self, x, t, cond.unhooked())
        return guided_output(
            cond,
            t,
            lambda: self._eps(x, t, cond),
            lambda: self._eps(x, t, cond.uncond_only()),
            lambda: self.halves(x, t, cond),
        )

    def halves(self, x: torch.Tensor, t: torch.Tensor, cond: TextCond) -> tuple[torch.Tensor, torch.Tensor]:
        """(unconditional, prompt) outputs as one doubled batch in diffusers' order, the unconditional half first
        (pipeline_stable_diffusion.py, __call__), added conditions too."""
        both = self._eps(torch.cat([x, x]), torch.cat([t, t]), cond.doubled())
        uncond, text = both.chunk(2)
        return uncond, text
