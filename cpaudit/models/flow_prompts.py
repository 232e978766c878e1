"""Prompts -> the flow transformers' text inputs, as diffusers' pipelines compute them:

- SD3PromptEncoder: StableDiffusion3Pipeline.encode_prompt
  (diffusers/pipelines/stable_diffusion_3/pipeline_stable_diffusion_3.py, `_get_clip_prompt_embeds`,
  `_get_t5_prompt_embeds`): two CLIPTextModelWithProjection and an optional T5EncoderModel;
- FluxPromptEncoder: FluxPipeline.encode_prompt (diffusers/pipelines/flux/pipeline_flux.py): a CLIPTextModel's
  pooled output and a T5EncoderModel's last hidden state.

`tokenizer` and `text_encoder` are the first CLIP encoder's, as PromptEncoder's are (prompt defences read the
tokenizer's vocabulary); `embed` returns the transformer's `encoder_hidden_states`."""

from __future__ import annotations

import torch

from cpaudit.models.conditioning import TextCond
from cpaudit.models.prompts import PromptEncoder

SD3_MAX_SEQUENCE_LENGTH = 256  # StableDiffusion3Pipeline.__call__'s max_sequence_length default
FLUX_MAX_SEQUENCE_LENGTH = 512  # FluxPipeline.__call__'s max_sequence_length default


def pad_to(tokenizer, prompts: list[str], max_length: int) -> torch.Tensor:
    """Token ids padded and truncated to max_length, as the pipelines tokenize (`padding="max_length"`)."""
    return tokenizer(
        prompts, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt"
    ).input_ids


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


class FlowPromptEncoder(PromptEncoder):
    """What both flow encoders share: batching, and the condition built from `embed_pooled`."""

    def embed_pooled(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """((N, L, D) encoder_hidden_states, (N, P) pooled_projections), in batches."""
        parts = [self._embed_pooled(prompts[i : i + self.batch_size]) for i in range(0, len(prompts), self.batch_size)]
        return torch.cat([e for e, _ in parts]), torch.cat([p for _, p in parts])

    def _embed_pooled(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def embed(self, prompts: list[str]) -> torch.Tensor:
        """(N, L, D): the transformer's encoder_hidden_states."""
        return self.embed_pooled(prompts)[0]

    def token_ids(self, prompts: list[str]) -> torch.Tensor:
        return pad_to(self.tokenizer, prompts, self.tokenizer.model_max_length)

    def _halves(self, prompts: list[str], negative_prompt: str | None):
        """The prompts' (embeds, pooled) and the negative prompt's (the empty prompt's when None), one row per prompt."""
        embeds, pooled = self.embed_pooled(prompts)
        neg, neg_pooled = self.embed_pooled([negative_prompt or ""])
        n = len(prompts)
        return embeds, pooled, neg.expand(n, -1, -1), neg_pooled.expand(n, -1)


class SD3PromptEncoder(FlowPromptEncoder):
    """StableDiffusion3Pipeline.encode_prompt (clip_skip None, prompt_2 = prompt_3 = prompt): each CLIP tokenizer
    pads to the first tokenizer's model_max_length (`tokenizer_max_length`); the penultimate hidden states of
    text_encoder and text_encoder_2 are concatenated on the last axis, zero-padded to T5's width, and followed on
    the sequence axis by T5's last hidden state over `max_sequence_length` tokens, or by zeros of
    (N, max_sequence_length, joint_attention_dim) when the folder has no text_encoder_3 (`_get_t5_prompt_embeds`).
    The pooled embedding is the two projected outputs (`text_embeds`) concatenated. The unconditional half is the
    negative prompt's, or the empty prompt's: SD3 never forces zeros."""

    def __init__(
        self,
        tokenizer,
        tokenizer_2,
        text_encoder,
        text_encoder_2,
        tokenizer_3=None,
        text_encoder_3=None,
        joint_attention_dim: int = 4096,
        max_sequence_length: int = SD3_MAX_SEQUENCE_LENGTH,
        batch_size: int = 256,
    ) -> None:
        super().__init__(tokenizer, text_encoder, batch_size)
        self.tokenizer_2 = tokenizer_2
        self.text_encoder_2 = text_encoder_2.eval().requires_grad_(False)
        self.tokenizer_3 = tokenizer_3
        self.text_encoder_3 = None if text_encoder_3 is None else text_encoder_3.eval().requires_grad_(False)
        self.joint_attention_dim = int(joint_attention_dim)
        self.max_sequence_length = int(max_sequence_length)

    def _clip(self, tokenizer, encoder, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """`_get_clip_prompt_embeds`: (hidden_states[-2], text_embeds)."""
        ids = pad_to(tokenizer, prompts, self.tokenizer.model_max_length).to(_device(encoder))
        out = encoder(ids, output_hidden_states=True)
        return out.hidden_states[-2].to(self.text_encoder.dtype), out[0]

    def _t5(self, prompts: list[str]) -> torch.Tensor:
        """`_get_t5_prompt_embeds`: T5's last hidden state, or zeros in the first CLIP encoder's dtype without T5."""
        if self.text_encoder_3 is None:
            return torch.zeros(
                (len(prompts), self.max_sequence_length, self.joint_attention_dim),
                device=_device(self.text_encoder),
                dtype=self.text_encoder.dtype,
            )
        ids = pad_to(self.tokenizer_3, prompts, self.max_sequence_length).to(_device(self.text_encoder_3))
        return self.text_encoder_3(ids)[0].to(self.text_encoder_3.dtype)

    @torch.no_grad()
    def _embed_pooled(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        e1, p1 = self._clip(self.tokenizer, self.text_encoder, prompts)
        e2, p2 = self._clip(self.tokenizer_2, self.text_encoder_2, prompts)
        clip = torch.cat([e1, e2], dim=-1)
        t5 = self._t5(prompts).to(clip.device)
        clip = torch.nn.functional.pad(clip, (0, t5.shape[-1] - clip.shape[-1]))
        return torch.cat([clip, t5], dim=-2), torch.cat([p1, p2], dim=-1)

    def condition(self, prompts: list[str], guidance_scale: float, negative_prompt: str | None = None) -> TextCond:
        """Classifier-free guidance's two halves (the pipeline's `guidance_scale`; 1 = the prompt alone)."""
        embeds, pooled, neg, neg_pooled = self._halves(prompts, negative_prompt)
        return TextCond(embeds, neg, float(guidance_scale), pooled, neg_pooled)

    def to(self, device: torch.device | str) -> SD3PromptEncoder:
        super().to(device)
        for encoder in (self.text_encoder_2, self.text_encoder_3):
            if encoder is not None:
                encoder.to(device)
        return self


class FluxPromptEncoder(FlowPromptEncoder):
    """FluxPipeline.encode_prompt (prompt_2 = prompt): the pooled embedding is text_encoder's (CLIPTextModel)
    `pooler_output` over the CLIP tokenizer's model_max_length tokens (`_get_clip_prompt_embeds`); the
    encoder_hidden_states are text_encoder_2's (T5EncoderModel) last hidden state over `max_sequence_length`
    tokens padded to that length (`_get_t5_prompt_embeds`).

    `condition(prompts, guidance_scale, negative_prompt, true_cfg_scale)`: on a guidance-embedding transformer
    (FLUX.1-dev) `guidance_scale` is the distilled guidance it takes; on one without (schnell, or a fine-tune
    trained with caption dropout) it is FluxPipeline's `true_cfg_scale`, the negative prompt's branch (the empty
    prompt's where none is given) combined as true classifier-free guidance, so that `--guidance-scale` means
    one thing on every text model: how far the prompt pulls. `true_cfg_scale` given explicitly takes the
    pipeline's own rule instead: true CFG only with a negative prompt and true_cfg_scale > 1 (`do_true_cfg`).
    The unconditional half is always filled: the negative prompt's embeddings, or the empty prompt's.
    """

    def __init__(
        self,
        tokenizer,
        text_encoder,
        tokenizer_2,
        text_encoder_2,
        guidance_embeds: bool = False,
        max_sequence_length: int = FLUX_MAX_SEQUENCE_LENGTH,
        batch_size: int = 256,
    ) -> None:
        super().__init__(tokenizer, text_encoder, batch_size)
        self.tokenizer_2 = tokenizer_2
        self.text_encoder_2 = text_encoder_2.eval().requires_grad_(False)
        self.guidance_embeds = bool(guidance_embeds)
        self.max_sequence_length = int(max_sequence_length)

    @torch.no_grad()
    def _embed_pooled(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = pad_to(self.tokenizer, prompts, self.tokenizer.model_max_length).to(_device(self.text_encoder))
        pooled = self.text_encoder(ids, output_hidden_states=False).pooler_output.to(self.text_encoder.dtype)
        ids_2 = pad_to(self.tokenizer_2, prompts, self.max_sequence_length).to(_device(self.text_encoder_2))
        embeds = self.text_encoder_2(ids_2, output_hidden_states=False)[0].to(self.text_encoder_2.dtype)
        return embeds, pooled.to(embeds.device)

    def condition(
        self,
        prompts: list[str],
        guidance_scale: float,
        negative_prompt: str | None = None,
        true_cfg_scale: float | None = None,
    ) -> TextCond:
        embeds, pooled, neg, neg_pooled = self._halves(prompts, negative_prompt)
        if true_cfg_scale is not None:
            true_cfg = float(true_cfg_scale) if negative_prompt is not None and true_cfg_scale > 1 else 1.0
        else:
            true_cfg = 1.0 if self.guidance_embeds else float(guidance_scale)
        guidance = float(guidance_scale) if self.guidance_embeds else None
        return TextCond(embeds, neg, true_cfg, pooled, neg_pooled, guidance=guidance)

    def to(self, device: torch.device | str) -> FluxPromptEncoder:
        super().to(device)
        self.text_encoder_2.to(device)
        return self
