"""`sample --scheduler native`: sample with the pipeline's own scheduler (Euler, DPM-Solver, ...) through
diffusers' StableDiffusionPipeline, CPSample's guidance entering through the UNet's output.

diffusers' `callback_on_step_end` can replace latents and prompt embeddings but not the noise prediction,
so the UNet's forward is wrapped for the call: the wrapper sees the doubled batch [uncond; prompt], forms
the classifier-free-guided eps exactly as the pipeline will (pipeline_stable_diffusion.py, 'perform
guidance'), turns it into the prediction pair on the model's path (core/paths.py), asks the guide for the
guided pair, and adds the change in the network's own output (core/paths.output_of_pair: eps, v or x0) to
both halves, so that the pipeline's own combination u + w (c - u) yields the guided output. For eps that is
eps_hat - eps; for v it is (eps_hat - eps) / alpha_t, since the pair stays on x_t = alpha_t x0 + sigma_t eps.
The latents the UNet is given are the variance-preserving x_t for every scheduler (Euler-type schedulers scale
their inputs with `scale_model_input` first), so the classifier reads what it was trained on."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from cpaudit.core.paths import GaussianPath, PredictionType, output_of_pair, prediction_pair
from cpaudit.errors import InputError
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.patching import patched_forward
from cpaudit.sampling.sampler import Guide, SampleBatch


@contextlib.contextmanager
def guided_unet(
    unet: torch.nn.Module,
    guide: Guide | None,
    path: GaussianPath,
    prediction: PredictionType,
    guidance_scale: float,
    fired: torch.Tensor,
) -> Iterator[None]:
    """Patch unet.forward for the duration; fired (N,) counts the steps each sample was guided."""
    if guide is None:
        yield
        return
    plain = unet.forward

    def forward(sample, timestep, *args, **kwargs):
        out = plain(sample, timestep, *args, **kwargs)
        raw = out[0] if isinstance(out, tuple) else out.sample
        t = int(round(float(timestep.reshape(-1)[0] if torch.is_tensor(timestep) else timestep)))
        at = path.at(t)
        doubled = guidance_scale > 1.0
        x = (sample.chunk(2)[1] if doubled else sample).float()
        combined = raw.float()
        if doubled:
            u, c = combined.chunk(2)
            combined = u + guidance_scale * (c - u)
        pred = prediction_pair(combined, x, *at, prediction)
        guided, hit = guide(pred, x, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device), at)
        fired.add_(hit.long().cpu())
        delta = output_of_pair(guided, *at, prediction) - output_of_pair(pred, *at, prediction)
        if doubled:
            delta = torch.cat([delta, delta])
        shifted = raw + delta.to(raw.dtype)
        return (shifted,) if isinstance(out, tuple) else type(out)(sample=shifted)

    with patched_forward(unet, forward):
        yield


def draw_native(
    model,
    seeds: list[int],
    positions: list[int],
    steps: int,
    conditions: Conditions,
    *,
    guide: Guide | None,
    eta: float = 0.0,
    device: torch.device | str = "cpu",
) -> SampleBatch:
    """One batch of samples through StableDiffusionPipeline (StableDiffusionXLPipeline for SDXL folders, whose
    UNet calls carry `added_cond_kwargs` through guided_unet's **kwargs) with the folder's own scheduler, one
    generator a seed."""
    if model.conditioning != "text":
        raise InputError(
            "--scheduler", "native applies to Stable Diffusion pipeline folders; other models use cpaudit's sampler"
        )
    for flag, given in (("--cfg-schedule", conditions.cfg_schedule), ("--amg", conditions.amg)):
        if given is not None:  # the pipeline combines guidance itself, at one scale, from the two halves alone
            raise InputError(flag, "runs with --scheduler cpaudit only")
    if model.prediction == "flow":  # SD3 / FLUX: their own pipelines (sampling/native_flow.py)
        from cpaudit.sampling.native_flow import draw_native_flow

        if eta > 0:
            raise InputError(
                "--eta",
                "FlowMatchEulerDiscreteScheduler takes no eta; --scheduler native samples SD3 / FLUX deterministically",
            )
        return draw_native_flow(model, seeds, positions, steps, conditions, guide=guide, device=device)
    pipe = _stable_diffusion_pipeline(model)
    unet = model.model.unet
    fired = torch.zeros(len(seeds), dtype=torch.long)
    prompts = conditions.prompts_of(positions)
    scale = conditions.resolved_guidance_scale
    with guided_unet(unet, guide, model.path, model.prediction, scale, fired), torch.no_grad():
        out = pipe(
            prompts,
            num_inference_steps=steps,
            guidance_scale=scale,
            negative_prompt=None if conditions.negative_prompt is None else [conditions.negative_prompt] * len(prompts),
            generator=[torch.Generator().manual_seed(s) for s in seeds],
            output_type="pt",
            eta=eta,
        ).images  # the pipeline passes eta only to schedulers that take it
    images = out.float().cpu() * 2 - 1
    return SampleBatch(images, fired, torch.isfinite(images).flatten(1).all(1))


def _stable_diffusion_pipeline(model):
    """The folder's own pipeline around cpaudit's loaded parts, with the scheduler its config names, so native
    sampling runs the steps the model's publishers ship; the progress bar is off, the audit reports its own."""
    import diffusers

    sched_cfg = model.config["scheduler"]
    scheduler = getattr(diffusers, sched_cfg["_class_name"]).from_config(sched_cfg)
    p = model.prompts
    if hasattr(
        p, "text_encoder_2"
    ):  # SDXL (models/sdxl_pipeline.py): no watermark, the folder's force_zeros_for_empty_prompt
        pipe = diffusers.StableDiffusionXLPipeline(
            vae=model.codec.vae,
            text_encoder=p.text_encoder,
            text_encoder_2=p.text_encoder_2,
            tokenizer=p.tokenizer,
            tokenizer_2=p.tokenizer_2,
            unet=model.model.unet,
            scheduler=scheduler,
            force_zeros_for_empty_prompt=p.force_zeros_for_empty_prompt,
            add_watermarker=False,
        )
    else:
        pipe = diffusers.StableDiffusionPipeline(
            vae=model.codec.vae,
            text_encoder=p.text_encoder,
            tokenizer=p.tokenizer,
            unet=model.model.unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe
