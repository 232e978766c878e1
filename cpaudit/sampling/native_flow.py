"""`sample --scheduler native` on SD3 / FLUX folders: diffusers' StableDiffusion3Pipeline or FluxPipeline with
the folder's FlowMatchEulerDiscreteScheduler, CPSample entering through the transformer's output.

As for UNets (sampling/native.py), the transformer's forward is wrapped for the call: the wrapper forms the
velocity the pipeline will combine (SD3: the doubled batch [uncond; prompt] at guidance w; FLUX: one call,
the distilled guidance being an input), turns it into the prediction pair at sigma = t / 1000, asks the guide
for the guided pair and adds the change in velocity to every row the pipeline combines. CPSample changes
eps_hat with x_t fixed, so x0_hat moves by -sigma / (1 - sigma) of it and the velocity v = eps - x0 by
1 / (1 - sigma) of it (core/paths.output_of_pair). That factor is exact, not a linearisation: the scheduler's
Euler step x + (sigma' - sigma) v' then lands where cpaudit's step of the guided pair lands
(tests/core/test_flow.py, down to sigma = 0.9999). At sigma = 1, the first step of every SD3 / FLUX run, x_t is
the noise itself and carries nothing of x0: the guidance does not fire there (sampling/protection.py skips
alpha = 0), so nothing divides by 1 - sigma = 0. The change is computed in float32 and added in the
transformer's dtype.

FLUX's true classifier-free guidance runs its two branches as separate transformer calls, combined only
after both; a change handed back through one call could not reach the combination, so CPSample with true CFG
samples with `--scheduler cpaudit` (the same Euler steps, tests/models/test_flow_pipeline.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from cpaudit.core.flow import FlowFamily
from cpaudit.core.paths import output_of_pair, prediction_pair
from cpaudit.errors import InputError
from cpaudit.models.flow_denoiser import pack_latents, unpack_latents
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.patching import patched_forward
from cpaudit.sampling.sampler import Guide, SampleBatch


def velocity_change(v: torch.Tensor, x: torch.Tensor, sigma: float, guide: Guide, fired: torch.Tensor) -> torch.Tensor:
    """The guided velocity minus v, at x_t = x (unpacked, float32) and time input 1000 sigma."""
    at = (1.0 - sigma, sigma)
    pred = prediction_pair(v, x, *at, "flow")
    t = torch.full((x.shape[0],), 1000.0 * sigma, dtype=torch.float64, device=x.device)
    guided, hit = guide(pred, x, t, at)
    fired.add_(hit.long().cpu())
    return output_of_pair(guided, *at, "flow") - output_of_pair(pred, *at, "flow")


@contextlib.contextmanager
def guided_transformer(
    transformer: torch.nn.Module,
    guide: Guide | None,
    family: FlowFamily,
    guidance_scale: float,
    latent_hw: tuple[int, int],
    fired: torch.Tensor,
) -> Iterator[None]:
    """Patch transformer.forward for the duration; fired (N,) counts the steps each sample was guided."""
    if guide is None:
        yield
        return
    plain = transformer.forward
    h, w = latent_hw

    def forward(*args, hidden_states, timestep, **kwargs):
        out = plain(*args, hidden_states=hidden_states, timestep=timestep, **kwargs)
        raw = out[0] if isinstance(out, tuple) else out.sample
        t = float(timestep.reshape(-1)[0])
        sigma = t if family == "flux" else t / 1000.0  # FluxPipeline passes timestep / 1000
        if family == "flux":
            x, v = unpack_latents(hidden_states.float(), h, w), unpack_latents(raw.float(), h, w)
            delta = pack_latents(velocity_change(v, x, sigma, guide, fired))
        else:
            doubled = guidance_scale > 1.0
            x = (hidden_states.chunk(2)[1] if doubled else hidden_states).float()
            v = raw.float()
            if doubled:
                u, c = v.chunk(2)
                v = u + guidance_scale * (c - u)
            delta = velocity_change(v, x, sigma, guide, fired)
            delta = torch.cat([delta, delta]) if doubled else delta
        shifted = raw + delta.to(raw.dtype)
        return (shifted,) if isinstance(out, tuple) else type(out)(sample=shifted)

    with patched_forward(transformer, forward):
        yield


def flow_pipeline(model):
    """The diffusers pipeline of a loaded SD3 / FLUX folder, from cpaudit's already loaded parts."""
    import diffusers

    scheduler = diffusers.FlowMatchEulerDiscreteScheduler.from_config(model.config["scheduler"])
    p, transformer = model.prompts, model.model.transformer
    if model.model.family == "sd3":
        pipe = diffusers.StableDiffusion3Pipeline(
            transformer=transformer,
            scheduler=scheduler,
            vae=model.codec.vae,
            text_encoder=p.text_encoder,
            tokenizer=p.tokenizer,
            text_encoder_2=p.text_encoder_2,
            tokenizer_2=p.tokenizer_2,
            text_encoder_3=p.text_encoder_3,
            tokenizer_3=p.tokenizer_3,
        )
    else:
        pipe = diffusers.FluxPipeline(
            scheduler=scheduler,
            vae=model.codec.vae,
            text_encoder=p.text_encoder,
            tokenizer=p.tokenizer,
            text_encoder_2=p.text_encoder_2,
            tokenizer_2=p.tokenizer_2,
            transformer=transformer,
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def pipeline_arguments(model, prompts: list[str], conditions: Conditions) -> dict:
    """The guidance arguments as the pipeline takes them, read off the TextCond cpaudit's own sampler gets: SD3's
    `guidance_scale`; FLUX's distilled `guidance_scale` (guidance_embeds; otherwise unused, 3.5 its default), and
    `true_cfg_scale` with the negative prompt (the empty one where none is given) where true CFG runs."""
    cond = model.prompts.condition(prompts[:1], conditions.resolved_guidance_scale, conditions.negative_prompt)
    negative = None if conditions.negative_prompt is None else [conditions.negative_prompt] * len(prompts)
    if model.model.family == "sd3":
        return {"guidance_scale": conditions.resolved_guidance_scale, "negative_prompt": negative}
    return {
        "guidance_scale": cond.guidance if cond.guidance is not None else 3.5,
        "true_cfg_scale": cond.guidance_scale,
        "negative_prompt": [conditions.negative_prompt or ""] * len(prompts) if cond.guided else None,
    }


def draw_native_flow(
    model,
    seeds: list[int],
    positions: list[int],
    steps: int,
    conditions: Conditions,
    *,
    guide: Guide | None,
    device: torch.device | str = "cpu",
) -> SampleBatch:
    """One batch through the folder's own pipeline and scheduler, one generator a seed (diffusers draws each
    sample's initial latents from its generator, as cpaudit's sampler does)."""
    prompts = conditions.prompts_of(positions)
    args = pipeline_arguments(model, prompts, conditions)
    if guide is not None and model.model.family == "flux" and args["true_cfg_scale"] > 1:
        raise InputError(
            "--scheduler",
            "native with CPSample and FLUX's true classifier-free guidance (two transformer calls a "
            "step) is not supported; use --scheduler cpaudit, the same Euler steps",
        )
    pipe = flow_pipeline(model)
    c, h, w = model.space_shape
    fired = torch.zeros(len(seeds), dtype=torch.long)
    scale = conditions.resolved_guidance_scale if model.model.family == "sd3" else 1.0
    with guided_transformer(model.model.transformer, guide, model.model.family, scale, (h, w), fired), torch.no_grad():
        out = pipe(
            prompts,
            num_inference_steps=steps,
            generator=[torch.Generator().manual_seed(s) for s in seeds],
            height=model.image_shape[1],
            width=model.image_shape[2],
            output_type="pt",
            **args,
        ).images
    images = out.float().cpu() * 2 - 1
    return SampleBatch(images, fired, torch.isfinite(images).flatten(1).all(1))
