"""Draw a run of samples from any model (pixel or latent; unconditional, class or text): batches of seeds,
each batch's condition bound into eps, cpaudit's sampler in the model's own space, then decoded to images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from cpaudit.errors import InputError
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.native import draw_native
from cpaudit.sampling.protection import LogitFn, Protection
from cpaudit.sampling.sampler import Guide, SampleBatch, SamplerConfig, combined_guide, sample_batch


def draw_run(
    model,
    seeds: list[int],
    cfg: SamplerConfig,
    *,
    conditions: Conditions = Conditions(),
    positions: list[int] | None = None,
    batch_size: int = 256,
    protection: Protection | None = None,
    logit_fn: LogitFn | None = None,
    guide: Guide | None = None,
    on_step: Callable[[], None] | None = None,
    device: torch.device | str = "cpu",
    scheduler: str = "cpaudit",
) -> SampleBatch:
    """Images (N, C, H, W) on the CPU, decoded. Sample k takes seeds[k] and the condition at positions[k]
    (default k): a redraw keeps its prompt under a new seed. Latent models never clip x0_hat (latents are
    not in [-1, 1]) and visit the timesteps their scheduler would (model.spacing)."""
    positions = list(range(len(seeds))) if positions is None else positions
    cfg, protection = _in_model_space(model, cfg, protection)
    parts = []
    for start in range(0, len(seeds), batch_size):
        rows = positions[start : start + batch_size]
        if scheduler == "native":
            if conditions.prompt_defence is not None:
                raise InputError("--prompt-defence", "runs with --scheduler cpaudit only")
            parts.append(
                draw_native(
                    model,
                    seeds[start : start + batch_size],
                    rows,
                    cfg.steps,
                    conditions,
                    guide=combined_guide(protection, logit_fn, guide),
                    eta=cfg.eta,
                    device=device,
                )
            )
            continue
        parts.append(
            _draw_cpaudit_batch(
                model,
                seeds[start : start + batch_size],
                rows,
                cfg,
                conditions,
                protection=protection,
                logit_fn=logit_fn,
                guide=guide,
                on_step=on_step,
                device=device,
            )
        )
    return SampleBatch(
        torch.cat([p.images for p in parts]), torch.cat([p.fired for p in parts]), torch.cat([p.finite for p in parts])
    )


def _in_model_space(
    model, cfg: SamplerConfig, protection: Protection | None
) -> tuple[SamplerConfig, Protection | None]:
    """The sampler settings and protection as the model's sampling space needs them: latents are not in
    [-1, 1], so a latent model never clips x0_hat, and the protection acts on latents (and on flow velocity)."""
    if not model.codec.latent:
        return cfg, protection
    cfg = replace(cfg, clip=False)
    protection = (
        None
        if protection is None
        else protection.in_space(latent=True, flow=getattr(model, "prediction", None) == "flow")
    )
    return cfg, protection


def _draw_cpaudit_batch(
    model,
    seeds: list[int],
    rows: list[int],
    cfg: SamplerConfig,
    conditions: Conditions,
    *,
    protection: Protection | None,
    logit_fn: LogitFn | None,
    guide: Guide | None,
    on_step: Callable[[], None] | None,
    device: torch.device | str,
) -> SampleBatch:
    """One batch through cpaudit's own sampler, then decoded to images where the model samples latents: the
    finite mask then also covers a decode that overflowed."""
    denoise = model.pair_fn(conditions.cond(model, rows, seeds))
    path, spacing, steps = model.sampling_path(cfg.steps)
    b = sample_batch(
        denoise,
        path,
        model.space_shape,
        seeds,
        replace(cfg, steps=steps),
        protection=protection,
        logit_fn=logit_fn,
        guide=guide,
        on_step=on_step,
        device=device,
        spacing=spacing,
    )
    if model.codec.latent:
        images = model.codec.decode(b.images.to(device)).cpu()
        b = SampleBatch(images, b.fired, torch.isfinite(images).flatten(1).all(1) & b.finite)
    return b
