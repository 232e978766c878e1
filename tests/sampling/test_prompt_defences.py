"""Prompt defences (sampling/prompt_defences.py): seeded per sample, each doing what its paper's code does."""

from __future__ import annotations

import pytest
import torch

from cpaudit.errors import InputError
from cpaudit.models.conditioning import TextCond
from cpaudit.sampling.prompt_defences import PromptDefence, insert_random_words, vocabulary_words
from tests.audit.test_text_audit import StubModel


class Tokenizer:
    def get_vocab(self):
        return {"cat</w>": 0, "dog</w>": 1, "ca": 2, "x1</w>": 3, "<|endoftext|>": 4}


def test_vocabulary_words_are_whole_alphabetic_words():
    assert vocabulary_words(Tokenizer()) == ["cat", "dog"]


def test_random_words_are_inserted_n_times_and_depend_on_the_seed_alone():
    a = insert_random_words("a photo of a fox", ["cat", "dog"], 3, seed=7)
    assert a == insert_random_words("a photo of a fox", ["cat", "dog"], 3, seed=7)
    words = a.split(" ")
    assert len(words) == 8 and sum(w in ("cat", "dog") for w in words) == 3
    assert [w for w in words if w not in ("cat", "dog")] == "a photo of a fox".split(" ")
    assert {insert_random_words("a photo of a fox", ["cat", "dog"], 3, seed=s) for s in range(20)} != {a}


class NoisePrompts:
    def condition(self, prompts, guidance_scale, negative_prompt=None):
        e = torch.ones(len(prompts), 3, 4)
        return TextCond(e, torch.zeros_like(e), guidance_scale)


class NoiseModel:
    prompts = NoisePrompts()


def test_embedding_noise_has_standard_deviation_sigma_on_the_prompt_half_only():
    cond = PromptDefence("embedding-noise", sigma=0.5).condition(NoiseModel(), ["p"] * 400, list(range(400)), 7.5)
    noise = cond.prompt_embeds - 1
    assert noise.std().item() == pytest.approx(0.5, rel=0.05)
    assert torch.equal(cond.uncond_embeds, torch.zeros_like(cond.uncond_embeds))
    again = PromptDefence("embedding-noise", sigma=0.5).condition(NoiseModel(), ["p"] * 2, [3, 0], 7.5)
    assert torch.equal(again.prompt_embeds[0], cond.prompt_embeds[3])  # a sample's noise is its seed's


def test_prompt_optimisation_brings_the_first_step_noise_norm_under_its_target():
    """StubModel: eps = 0.1 x + c, so the text-conditional noise norm is ||c|| * 2 (four latent entries)."""
    model = StubModel()
    d = PromptDefence("prompt-optimisation", target_norm=0.5, lr=0.2, iters=50)
    cond = d.condition(model, ["m1", "m2", "h1"], [0, 1, 2], 7.5)
    norms = cond.prompt_embeds.abs().flatten(1).sum(1) * 2
    assert norms[0] <= 0.5 + 0.2 and norms[1] <= 0.5 + 0.2  # moved from 2.0 to the target (within one step)
    assert norms[2] == 0  # already under the target: untouched


def test_a_setting_of_another_kind_is_refused():
    with pytest.raises(InputError, match="embedding-noise takes sigma, not tokens"):
        PromptDefence("embedding-noise", tokens=3).resolved()
    with pytest.raises(InputError, match="must be one of"):
        PromptDefence("shuffle")  # type: ignore[arg-type]
