"""PIA and PIAN (Kong et al., "An Efficient Membership Inference Attack for the Diffusion Model by
Proximal Initialization", ICLR 2024). Checked against the classes PIA and PIAN in
mx-ethan-rao/SimA DDPM/components.py, which carries the PIA authors' attack framework (kong13661/PIA,
DDPM/attack.py imports them from its components module, whose source is not in that repository's tree).

eps_0 = eps_theta(x_0, 0); x_t = alpha_t x_0 + sigma_t eps_0 on the model's path (sqrt(abar_t) and
sqrt(1 - abar_t) on a VP one), a deterministic "proximal" noise; score = ||eps_0 - eps_theta(x_t, t)||_p^p with p = 4, summed over pixels, lower for members.
PIAN first normalises eps_0 to Gaussian scale, eps_0 / mean|eps_0| * sqrt(2 / pi) (E|z| = sqrt(2/pi)).
Two queries per image and t. The paper reports t around 200; here t is one of the audit's --mia-t, and
PIA or PIAN, chosen on the other half of the images (core/crossfit.py).
"""

from __future__ import annotations

import math

import torch

from cpaudit.auditing.attacks.base import AttackContext, AttackScores, AttackTarget, Denoiser, score_candidates
from cpaudit.core.paths import noise_to

P = 4


def pia_distances(denoiser: Denoiser, x0: torch.Tensor, ts: tuple[int, ...], normalise: bool) -> torch.Tensor:
    """(len(ts), B) distances ||eps_0 - eps_theta(x_t, t)||_4^4."""
    eps0 = denoiser.eps(x0, 0)
    if normalise:
        eps0 = eps0 / eps0.abs().mean(dim=tuple(range(1, eps0.dim())), keepdim=True) * math.sqrt(2 / math.pi)
    out = []
    for t in ts:
        x_t = noise_to(x0, eps0, *denoiser.path.at(t))
        out.append((eps0 - denoiser.eps(x_t, t)).abs().pow(P).flatten(1).sum(1))
    return torch.stack(out)


class PIAAttack:
    name = "pia"
    title = "PIA / PIAN (Kong et al. 2024)"
    target: AttackTarget = "denoiser"

    def scores(self, ctx: AttackContext, denoiser: Denoiser | None) -> AttackScores:
        assert denoiser is not None and ctx.members is not None and ctx.holdout is not None
        ctx.step("PIA" + (" (protected)" if denoiser.protected else "") + denoiser.title)

        def score(x: torch.Tensor, den: Denoiser) -> torch.Tensor:
            return -torch.cat([pia_distances(den, x, ctx.mia_t, False), pia_distances(den, x, ctx.mia_t, True)])

        pos, neg = score_candidates(ctx, denoiser, score)
        variants = [f"PIA t={t}" for t in ctx.mia_t] + [f"PIAN t={t}" for t in ctx.mia_t]
        # eps_0 once per variant family, then one query per t.
        return AttackScores(variants, pos, neg, queries_per_image=2 * (1 + len(ctx.mia_t)), extra={"p": P})
