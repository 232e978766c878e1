"""The memorisation detector of Wen et al., "Detecting, Explaining, and Mitigating Memorization in Diffusion
Models" (ICLR 2024; code: YuxinWenRick/diffusion_memorization, local_sd_pipeline.py, `track_noise_norm`):
a memorised prompt pulls the sample toward one image from the first step, so the text-conditional noise
||eps_theta(x_t, c) - eps_theta(x_t, empty)||_2 is large over the first sampling steps. Its threat model is
`sampler`: it needs the denoiser's two predictions, not the training images, and a model owner can run it
on prompts before serving them.

On a rectified flow (SD3, FLUX) the network predicts the velocity v = eps - x0, and the signal is its
text-conditional part ||v(x_t, c) - v(x_t, empty)||: eps_hat = x_t + (1 - sigma) v carries none of the prompt
at sigma = 1, where a flow's sampling starts (x_t is the noise itself), while the velocity carries all of it.
FLUX can compute the empty prompt's prediction whether or not its sampling uses a negative branch.
"""

from __future__ import annotations

import torch

from cpaudit.core.paths import Pred, text_part
from cpaudit.core.schedules import step_plan
from cpaudit.core.steps import ddim_step
from cpaudit.seeding import torch_generator

DETECTOR_FIRST_STEPS = 10  # of a 50-step DDIM run: the paper's detection reads the first steps


@torch.no_grad()
def text_noise_norms(
    model,
    prompts: list[str],
    seeds: list[int],
    guidance_scale: float,
    steps: int = 50,
    first: int = DETECTOR_FIRST_STEPS,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
) -> torch.Tensor:
    """(N, first) ||eps(x_t, c) - eps(x_t, empty)||_2 at the first `first` steps of DDIM with classifier-free
    guidance, sample i drawn with prompts[i] from seeds[i]'s x_T (as the sampler draws it: sampler.py)."""
    rows = []
    for start in range(0, len(prompts), batch_size):
        ps, ss = prompts[start : start + batch_size], seeds[start : start + batch_size]
        rows.append(_batch_norms(model, ps, ss, guidance_scale, steps, first, torch.device(device)))
    return torch.cat(rows)


def _batch_norms(
    model, prompts: list[str], seeds: list[int], w: float, steps: int, first: int, device: torch.device
) -> torch.Tensor:
    cond = model.prompts.condition(prompts, 1.0).to(device)
    uncond, text = cond.uncond_only(), cond.prompt_only()
    x = torch.stack([torch.randn(model.space_shape, generator=torch_generator(s)) for s in seeds]).to(device)
    norms = []
    path, spacing, steps = model.sampling_path(steps)
    for t, at, at_s in step_plan(path, steps, spacing)[:first]:
        tt = path.times(t, len(seeds), device)
        p_u, p_c = model.denoiser(x, tt, uncond), model.denoiser(x, tt, text)
        norms.append(text_part(p_c, p_u, path.kind).flatten(1).norm(dim=1).cpu())
        guided = Pred(p_u.x0 + w * (p_c.x0 - p_u.x0), p_u.eps + w * (p_c.eps - p_u.eps))  # CFG is linear in the pair
        x = ddim_step(x, guided, at, at_s, eta=0.0, clip=False)
    return torch.stack(norms, dim=1).double()
