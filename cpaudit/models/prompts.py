"""Prompts -> text embeddings, as diffusers' StableDiffusionPipeline.encode_prompt computes them
(diffusers/pipelines/stable_diffusion/pipeline_stable_diffusion.py): CLIP token ids padded to the
tokenizer's model_max_length, the text encoder's last hidden state, the attention mask only where the
encoder's config asks for it, and the empty prompt (or the negative prompt) for the unconditional half.
SDXL's two encoders: SDXLPromptEncoder, as StableDiffusionXLPipeline.encode_prompt computes them
(diffusers/pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py)."""

from __future__ import annotations

import torch

from cpaudit.models.conditioning import TextCond
from cpaudit.models.configured import ConfiguredModule


def padded(tokenizer, prompts: list[str]):
    """Token ids (and mask) padded and truncated to the tokenizer's model_max_length, as the pipelines pad."""
    return tokenizer(
        prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    )


class PromptEncoder:
    def __init__(self, tokenizer, text_encoder: ConfiguredModule, batch_size: int = 256) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.eval().requires_grad_(False)
        self.batch_size = batch_size

    def token_ids(self, prompts: list[str]) -> torch.Tensor:
        return padded(self.tokenizer, prompts).input_ids

    @torch.no_grad()
    def embed(self, prompts: list[str]) -> torch.Tensor:
        """(N, L, D) embeddings on the text encoder's device."""
        dev = next(self.text_encoder.parameters()).device
        use_mask = bool(getattr(self.text_encoder.config, "use_attention_mask", False))
        parts = []
        for i in range(0, len(prompts), self.batch_size):
            tok = padded(self.tokenizer, prompts[i : i + self.batch_size])
            mask = tok.attention_mask.to(dev) if use_mask else None
            parts.append(self.text_encoder(tok.input_ids.to(dev), attention_mask=mask)[0])
        return torch.cat(parts)

    def condition(self, prompts: list[str], guidance_scale: float, negative_prompt: str | None = None) -> TextCond:
        """Classifier-free guidance's two halves for these prompts (diffusers' order and defaults)."""
        negative = self.embed([negative_prompt or ""])
        return TextCond(self.embed(prompts), negative.expand(len(prompts), -1, -1), float(guidance_scale))

    def to(self, device: torch.device | str) -> PromptEncoder:
        self.text_encoder.to(device)
        return self


class SDXLPromptEncoder(PromptEncoder):
    """StableDiffusionXLPipeline.encode_prompt (clip_skip None, prompt_2 = prompt): each tokenizer pads its
    prompt to its model_max_length; the penultimate hidden states (`hidden_states[-2]`) of text_encoder
    (CLIPTextModel) and text_encoder_2 (CLIPTextModelWithProjection) are concatenated on the last axis; the
    pooled embedding is text_encoder_2's projected output (`text_embeds`). The unconditional half is zeros
    when no negative prompt is given and the pipeline's `force_zeros_for_empty_prompt` is set, else the
    negative prompt's (or the empty prompt's) embeddings. Every row carries the same `time_ids` (original
    size, crop top-left, target size: `_get_add_time_ids`). `tokenizer` and `text_encoder` are the first
    encoder's, as PromptEncoder's are (prompt defences read the tokenizer's vocabulary)."""

    def __init__(
        self,
        tokenizer,
        tokenizer_2,
        text_encoder: ConfiguredModule,
        text_encoder_2: ConfiguredModule,
        time_ids: tuple[int, ...],
        force_zeros_for_empty_prompt: bool = True,
        batch_size: int = 256,
    ) -> None:
        super().__init__(tokenizer, text_encoder, batch_size)  # token_ids: the first tokenizer's (one vocabulary)
        self.tokenizer_2 = tokenizer_2
        self.text_encoder_2 = text_encoder_2.eval().requires_grad_(False)
        self.time_ids = tuple(int(v) for v in time_ids)
        self.force_zeros_for_empty_prompt = bool(force_zeros_for_empty_prompt)

    @torch.no_grad()
    def embed_pooled(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """((N, L, D1 + D2) embeddings, (N, P) pooled embeddings) on the text encoders' device."""
        dev = next(self.text_encoder_2.parameters()).device
        embeds, pooled = [], []
        for i in range(0, len(prompts), self.batch_size):
            chunk = prompts[i : i + self.batch_size]
            out1 = self.text_encoder(padded(self.tokenizer, chunk).input_ids.to(dev), output_hidden_states=True)
            out2 = self.text_encoder_2(padded(self.tokenizer_2, chunk).input_ids.to(dev), output_hidden_states=True)
            embeds.append(torch.cat([out1.hidden_states[-2], out2.hidden_states[-2]], dim=-1))
            pooled.append(out2.text_embeds)
        return torch.cat(embeds), torch.cat(pooled)

    def embed(self, prompts: list[str]) -> torch.Tensor:
        """(N, L, D1 + D2) embeddings: the UNet's encoder_hidden_states."""
        return self.embed_pooled(prompts)[0]

    def condition(self, prompts: list[str], guidance_scale: float, negative_prompt: str | None = None) -> TextCond:
        """Classifier-free guidance's two halves for these prompts, with the added conditions (diffusers' order and defaults)."""
        embeds, pooled = self.embed_pooled(prompts)
        n = len(prompts)
        if negative_prompt is None and self.force_zeros_for_empty_prompt:
            neg, neg_pooled = torch.zeros_like(embeds), torch.zeros_like(pooled)
        else:
            e, p = self.embed_pooled([negative_prompt or ""])
            neg, neg_pooled = e.expand(n, -1, -1), p.expand(n, -1)
        time_ids = torch.tensor([self.time_ids], dtype=embeds.dtype, device=embeds.device).expand(n, -1)
        return TextCond(embeds, neg, float(guidance_scale), pooled, neg_pooled, time_ids)

    def to(self, device: torch.device | str) -> SDXLPromptEncoder:
        super().to(device)
        self.text_encoder_2.to(device)
        return self
