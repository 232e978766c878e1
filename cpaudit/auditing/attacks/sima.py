"""SimA (Rao et al., "Score-based Membership Inference on Diffusion Models", 2025; code: mx-ethan-rao/SimA,
DDPM/components.py, class SimA).

The clean image is fed in at timestep t and the score is the size of the predicted noise: a model has a
near-zero score at its training images (they are local maxima of the learned density), so members have
a small ||eps_theta(x_0, t)||. The paper writes the norm to the 4th power; the authors' code computes
sum |eps|^4 (the 4-norm to the 4th, `distance` in components.py), which this follows. One query per t.
"""

from __future__ import annotations

import torch

from cpaudit.auditing.attacks.base import AttackContext, AttackScores, AttackTarget, Denoiser, score_candidates


class SimAAttack:
    name = "sima"
    title = "SimA (Rao et al. 2025)"
    target: AttackTarget = "denoiser"

    def scores(self, ctx: AttackContext, denoiser: Denoiser | None) -> AttackScores:
        assert denoiser is not None and ctx.members is not None and ctx.holdout is not None
        ctx.step("SimA" + (" (protected)" if denoiser.protected else "") + denoiser.title)

        def score(x: torch.Tensor, den: Denoiser) -> torch.Tensor:
            return -torch.stack([den.eps(x, t).abs().pow(4).flatten(1).sum(1) for t in ctx.mia_t])

        pos, neg = score_candidates(ctx, denoiser, score)
        return AttackScores([f"t={t}" for t in ctx.mia_t], pos, neg, queries_per_image=len(ctx.mia_t))
