"""Sampling-time defences of text-to-image models that change the prompt, not the sampler: what users of
Stable Diffusion pick instead of CPSample. Each turns a run's prompts and seeds into the classifier-free
guidance condition (models/conditioning.py TextCond); randomness comes from each sample's own seed.

- embedding-noise: Gaussian noise of standard deviation sigma on the prompt's text embedding (Somepalli et al.,
  "Understanding and Mitigating Copying in Diffusion Models", NeurIPS 2023; somepago/DCR sd_mitigation.py,
  `rand_noise_lam`). DCR adds it to the whole CFG batch; here it is added to the prompt's half only, so the
  unconditional prediction stays the model's own.
- random-tokens: `tokens` random vocabulary words inserted at random word positions of the prompt (same
  paper and file, `rand_word_add`, repeated `rand_aug_repeats` times).
- prompt-optimisation: the prompt embedding moved by Adam (lr, at most `iters` steps) to bring the
  text-conditional noise norm ||eps(x_T, c) - eps(x_T, empty)|| at the first step under `target_norm`
  (Wen et al., ICLR 2024; YuxinWenRick/diffusion_memorization local_sd_pipeline.py `aug_prompt`,
  inference_mem.py: lr 0.05, 10 iterations), from the sample's own x_T.
The audit matches samples to captions by the prompt the user asked for (run.json), not the altered one.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, replace
from typing import Literal

import torch

from cpaudit.core.paths import text_part
from cpaudit.core.schedules import step_plan
from cpaudit.errors import InputError
from cpaudit.models.conditioning import TextCond
from cpaudit.seeding import derive_seed, numpy_generator, torch_generator

Kind = Literal["embedding-noise", "random-tokens", "prompt-optimisation"]
KINDS: tuple[str, ...] = ("embedding-noise", "random-tokens", "prompt-optimisation")
# Defaults chosen by `cpaudit tune --model` (pipelines/tune_text.py) on the tiny text-to-image model's tuning seeds
# (2,000,000 on; benchmarks/results/text_defences/tune.json): the lowest pixel FID among settings whose training
# captions are extracted no more often than held-out captions. Random tokens reached that rate at no setting
# (16 tokens left 1 of 64 captions extracted): its default is the setting that came closest.
DEFAULTS: dict[str, dict] = {
    "embedding-noise": {"sigma": 2.0},
    "random-tokens": {"tokens": 16},
    "prompt-optimisation": {"target_norm": 0.1, "lr": 0.2, "iters": 10},
}


@dataclass(frozen=True)
class PromptDefence:
    kind: Kind
    sigma: float | None = None  # embedding-noise
    tokens: int | None = None  # random-tokens
    target_norm: float | None = None  # prompt-optimisation
    lr: float | None = None
    iters: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError("--prompt-defence", f"must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def resolved(self) -> PromptDefence:
        """Unset settings of its kind at their defaults; settings of other kinds refused."""
        given = {k: v for k, v in asdict(self).items() if k != "kind" and v is not None}
        foreign = [k for k in given if k not in DEFAULTS[self.kind]]
        if foreign:
            raise InputError(
                "--prompt-defence", f"{self.kind} takes {', '.join(DEFAULTS[self.kind])}, not {foreign[0]}"
            )
        return PromptDefence(self.kind, **{**DEFAULTS[self.kind], **given})

    def setting(self, name: str) -> float:
        """One setting of a resolved() defence (set there, its kind's default where the user left it)."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{self.kind}: {name} is unset (resolve the defence first)")
        return value

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def condition(
        self, model, prompts: list[str], seeds: list[int], guidance_scale: float, negative_prompt: str | None = None
    ) -> TextCond:
        d = self.resolved()
        if d.kind == "random-tokens":
            vocab = vocabulary_words(model.prompts.tokenizer)
            if not vocab:
                raise InputError(
                    "--prompt-defence",
                    "random-tokens needs whole-word tokens in the tokenizer's vocabulary; it has none",
                )
            prompts = [insert_random_words(p, vocab, int(d.setting("tokens")), s) for p, s in zip(prompts, seeds)]
        cond = model.prompts.condition(prompts, guidance_scale, negative_prompt)
        if d.kind == "embedding-noise":
            return noised_embeddings(
                cond, seeds, d.setting("sigma"), pooled=getattr(model, "prediction", None) == "flow"
            )
        if d.kind == "prompt-optimisation":
            return cond.with_prompt_embeds(optimise_prompt_embeds(model, cond, seeds, d))
        return cond


def noised_embeddings(cond: TextCond, seeds: list[int], sigma: float, pooled: bool) -> TextCond:
    """Somepalli et al.'s Gaussian noise on the prompt embeddings, sample i's from its own seed. `pooled`: on the
    pooled embedding too, where one encoder reaches the network only through it (FLUX's CLIP; SD3's CLIP
    projections), so that every text encoder's embedding is noised; SD and SDXL keep their measured form."""

    def noise(shape: torch.Size, tag: str) -> torch.Tensor:
        return torch.stack([torch.randn(shape, generator=torch_generator(derive_seed(s, tag))) for s in seeds])

    out = cond.with_prompt_embeds(
        cond.prompt_embeds + sigma * noise(cond.prompt_embeds.shape[1:], "embedding-noise").to(cond.prompt_embeds)
    )
    if pooled and cond.pooled_prompt_embeds is not None:
        p = cond.pooled_prompt_embeds
        out = replace(out, pooled_prompt_embeds=p + sigma * noise(p.shape[1:], "embedding-noise-pooled").to(p))
    return out


def vocabulary_words(tokenizer) -> list[str]:
    """Whole-word tokens of a CLIP tokenizer's vocabulary (those ending a word, letters only), sorted."""
    return list(_vocabulary_words(tokenizer))


@functools.lru_cache(maxsize=4)  # once per tokenizer, not per batch: a real CLIP vocabulary has 49,408 entries
def _vocabulary_words(tokenizer) -> tuple[str, ...]:
    words = {
        tok[: -len("</w>")] for tok in tokenizer.get_vocab() if tok.endswith("</w>") and tok[: -len("</w>")].isalpha()
    }
    return tuple(sorted(words))


def insert_random_words(prompt: str, vocabulary: list[str], n: int, seed: int) -> str:
    """`prompt` with n words drawn from `vocabulary` inserted at random word positions (DCR's insert_rand_word)."""
    rng = numpy_generator(derive_seed(seed, "random-tokens"))
    words = prompt.split(" ")
    for _ in range(n):
        words.insert(int(rng.integers(0, len(words) + 1)), vocabulary[int(rng.integers(len(vocabulary)))])
    return " ".join(words)


def optimise_prompt_embeds(model, cond: TextCond, seeds: list[int], d: PromptDefence) -> torch.Tensor:
    """Wen et al.'s mitigation: minimise each sample's first-step text-conditional noise norm over its prompt
    embedding, from its own x_T at the first timestep of a 50-step plan (the paper's), until every norm is under
    target_norm or `iters` steps are done. One Adam state for the batch; a sample under the target stops moving
    only once its momentum decays (Wen et al. optimise one prompt's images together the same way)."""
    dev = cond.prompt_embeds.device
    x_T = torch.stack([torch.randn(model.space_shape, generator=torch_generator(s)) for s in seeds]).to(dev)
    path, spacing, steps = model.sampling_path(50)
    tt = path.times(step_plan(path, steps, spacing)[0][0], len(seeds), dev)
    e = cond.prompt_embeds.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([e], lr=d.setting("lr"))
    with torch.enable_grad():
        # The detector's signal (core/paths.py text_part): eps_hat's text part, a flow's velocity's.
        p_u = model.denoiser(x_T, tt, cond.uncond_only())
        p_u = type(p_u)(p_u.x0.detach(), p_u.eps.detach())
        for _ in range(int(d.setting("iters"))):
            p_c = model.denoiser(x_T, tt, cond.with_prompt_embeds(e).prompt_only())
            norm = text_part(p_c, p_u, path.kind).flatten(1).norm(dim=1)
            over = norm > d.target_norm
            if not bool(over.any()):
                break
            opt.zero_grad()
            (norm * over).sum().backward()
            opt.step()
    return e.detach()
