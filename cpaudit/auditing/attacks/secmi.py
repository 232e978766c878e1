"""SecMI, statistical variant (Duan et al., "Are Diffusion Models Vulnerable to Membership Inference
Attacks?", ICML 2023, Sec. 4; code: jinhaoduan/SecMI, mia_evals/secmia.py, get_intermediate_results),
written on the model's path: the DDIM step is x_t = alpha_t x0_hat + sigma_t eps_hat from the pair at t_c.

Deterministic DDIM inversion of x_0 from t = 0 up to t_sec - k in steps of k, one DDIM step up to t_sec
and one back down to t_sec - k; the score is the step-wise error ||x_{t_sec-k} - x_hat_{t_sec-k}||^2
(summed over pixels), lower for members, whose posterior the model fits. The DDIM step from t_c to t is
x_t = sqrt(abar_t) x0_hat + sqrt(1 - abar_t) eps_theta(x_{t_c}, t_c), x0_hat = (x_{t_c} - sqrt(1 - abar_{t_c})
eps) / sqrt(abar_{t_c}) (the paper's eq. 8; the code's ddim_singlestep). As in the authors' code, x_0 is
treated as x at t = 0 and no clipping is applied. t_sec / k + 1 denoiser queries per image.
"""

from __future__ import annotations

import torch

from cpaudit.auditing.attacks.base import AttackContext, AttackScores, AttackTarget, Denoiser, score_candidates
from cpaudit.core.steps import ddim_step

T_SEC = 100  # the paper's default for DDPM on CIFAR-10
K = 10


def ddim_move(denoiser: Denoiser, x: torch.Tensor, t_from: int, t_to: int) -> torch.Tensor:
    """One deterministic DDIM step from t_from to t_to (up or down the chain)."""
    pred = denoiser.pred(x, t_from)
    return ddim_step(x, pred, denoiser.path.at(t_from), denoiser.path.at(t_to), eta=0.0, clip=False)


def secmi_error(denoiser: Denoiser, x0: torch.Tensor, t_sec: int = T_SEC, k: int = K) -> torch.Tensor:
    """(B,) step-wise error at t_sec - k."""
    x, t = x0, 0
    for t_next in range(k, t_sec, k):  # inversion: 0 -> k -> ... -> t_sec - k
        x, t = ddim_move(denoiser, x, t, t_next), t_next
    up = ddim_move(denoiser, x, t, t + k)
    back = ddim_move(denoiser, up, t + k, t)
    return (x - back).pow(2).flatten(1).sum(1)


class SecMIAttack:
    name = "secmi"
    title = "SecMI-stat (Duan et al. 2023)"
    target: AttackTarget = "denoiser"

    def scores(self, ctx: AttackContext, denoiser: Denoiser | None) -> AttackScores:
        assert denoiser is not None and ctx.members is not None and ctx.holdout is not None
        ctx.step("SecMI" + (" (protected)" if denoiser.protected else "") + denoiser.title)
        score = lambda x, den: -secmi_error(den, x)[None]  # noqa: E731 - lower error = member
        pos, neg = score_candidates(ctx, denoiser, score)
        return AttackScores(
            [f"t_sec={T_SEC}, k={K}"], pos, neg, queries_per_image=T_SEC // K + 1, extra={"t_sec": T_SEC, "k": K}
        )
