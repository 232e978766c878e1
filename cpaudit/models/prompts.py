"""Prompts -> text embeddings, as diffusers' StableDiffusionPipeline.encode_prompt computes them
(diffusers/pipelines/stable_diffusion/pipeline_stable_diffusion.py): CLIP token ids padded to the
tokenizer's model_max_length, the text encoder's last hidden state, the attention mask only where the
encoder's config asks for it, and the empty prompt (or the negative prompt) for the unconditional half."""

from __future__ import annotations

import torch

from cpaudit.models.conditioning import TextCond


class PromptEncoder:
    def __init__(self, tokenizer, text_encoder: torch.nn.Module, batch_size: int = 256) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.eval().requires_grad_(False)
        self.batch_size = batch_size

    @property
    def max_length(self) -> int:
        return int(self.tokenizer.model_max_length)

    def token_ids(self, prompts: list[str]) -> torch.Tensor:
        return self.tokenizer(prompts, padding="max_length", max_length=self.max_length, truncation=True,
                              return_tensors="pt").input_ids

    @torch.no_grad()
    def embed(self, prompts: list[str]) -> torch.Tensor:
        """(N, L, D) embeddings on the text encoder's device."""
        dev = next(self.text_encoder.parameters()).device
        use_mask = bool(getattr(self.text_encoder.config, "use_attention_mask", False))
        parts = []
        for i in range(0, len(prompts), self.batch_size):
            tok = self.tokenizer(prompts[i : i + self.batch_size], padding="max_length", max_length=self.max_length,
                                 truncation=True, return_tensors="pt")
            mask = tok.attention_mask.to(dev) if use_mask else None
            parts.append(self.text_encoder(tok.input_ids.to(dev), attention_mask=mask)[0])
        return torch.cat(parts)

    def condition(self, prompts: list[str], guidance_scale: float, negative_prompt: str | None = None) -> TextCond:
        """Classifier-free guidance's two halves for these prompts (diffusers' order and defaults)."""
        negative = self.embed([negative_prompt or ""])
        return TextCond(self.embed(prompts), negative.expand(len(prompts), -1, -1), float(guidance_scale))

    def to(self, device: torch.device | str) -> "PromptEncoder":
        self.text_encoder.to(device)
        return self
