"""CPSample guidance (Kazdan et al., ICLR 2025, Sec. 3).

Where the random-label classifier p_phi(y | x_t, t) is confident, the noise prediction is shifted
so the sampler moves toward the less likely label (classifier guidance, Dhariwal & Nichol eq. 14, on the
score -eps_hat / sigma_t of any Gaussian path x_t = alpha_t x0 + sigma_t eps):

    eps_hat = eps_theta(x_t, t) - s * sigma_t * grad_x log p_phi(y' | x_t, t),

sigma_t = sqrt(1 - abar_t) on a VP path.

The rule "away-from-member" (issue 39) reads another logit: that of the exact posterior's most probable member
i*, logit w_{i*} = log w_{i*} - log(1 - w_{i*}) (core/posterior.py, nearest_member_logit), and pushes away from
that member alone where w_{i*} > 1 - alpha, rather than from every member of one random label.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from cpaudit.core.paths import Pred, x0_from_eps

Rule = Literal["opposite-label", "toward-half", "away-from-member"]
Space = Literal["x_t", "x0"]
RULES: tuple[str, ...] = ("opposite-label", "toward-half", "away-from-member")
MEMBER_RULE = "away-from-member"  # reads the most probable member's logit, which only the exact posterior gives
SPACES: tuple[str, ...] = ("x_t", "x0")
# Guidance in x0 space reads the classifier on the predicted clean image at this small t: sqrt(1 - abar_t)
# is about 0.17 on the linear schedule, enough to keep the exact posterior's gradient finite (at t = 0 its
# Gaussians have width 0.01) while the learned classifier was trained there too.
X0_T = 50


def confident(logit: torch.Tensor, alpha: float) -> torch.Tensor:
    """True where p < alpha or p > 1 - alpha, p = sigmoid(logit); written on logits to avoid rounding at p ~ 1."""
    if alpha <= 0:
        return torch.zeros_like(logit, dtype=torch.bool)
    if alpha >= 0.5:
        return torch.ones_like(logit, dtype=torch.bool)
    return logit.abs() > torch.logit(torch.tensor(1 - alpha, dtype=torch.float64)).item()


def fires(logit: torch.Tensor, alpha: float, rule: str) -> torch.Tensor:
    """Where the rule guides: `confident` on a label's logit; on the most probable member's logit (rule
    away-from-member) only where that member is likely, w_{i*} > 1 - alpha: w_{i*} >= 1/M is never small, so the
    label rule's other side (p < alpha) would fire on nearly every sample of a large member set."""
    if rule != MEMBER_RULE:
        return confident(logit, alpha)
    if alpha <= 0:
        return torch.zeros_like(logit, dtype=torch.bool)
    if alpha >= 0.5:
        return torch.ones_like(logit, dtype=torch.bool)
    return logit > torch.logit(torch.tensor(1 - alpha, dtype=torch.float64)).item()


def guidance_objective(logit: torch.Tensor, rule: Rule) -> torch.Tensor:
    """Per-sample log-likelihood whose x-gradient is the guidance direction.

    opposite-label: log p(y' | x_t) with y' the less likely label (the paper's rule as we read it).
    toward-half:    cross-entropy toward the soft label 1/2, 0.5 log p + 0.5 log(1 - p); its gradient
                    (1/2 - p) grad(logit) fades as p approaches 1/2.
    away-from-member: log(1 - w_{i*}) = logsigmoid(-logit), the logit being the most probable member's
                    (i* held fixed where the gradient is taken): mass moves off that member onto the others.
    """
    if rule == "opposite-label":
        # y' = 0 where p > 1/2: log p(y'=0) = logsigmoid(-logit); y' = 1 elsewhere.
        return F.logsigmoid(-logit.abs())
    if rule == "toward-half":
        return 0.5 * F.logsigmoid(logit) + 0.5 * F.logsigmoid(-logit)
    if rule == MEMBER_RULE:
        return F.logsigmoid(-logit)
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def guided_eps(eps: torch.Tensor, grad_log_p: torch.Tensor, sigma_t: float, scale: float) -> torch.Tensor:
    """eps_hat = eps - s sigma_t grad_x log p(y' | x_t, t)  (CPSample's guided noise prediction)."""
    return eps - scale * sigma_t * grad_log_p


def guided_pred(x_t: torch.Tensor, pred: Pred, grad_log_p: torch.Tensor, at: tuple[float, float], scale: float) -> Pred:
    """The pair after guidance: eps_hat as guided_eps, x0_hat = (x_t - sigma_t eps_hat) / alpha_t so that the
    pair stays on x_t = alpha_t x0 + sigma_t eps. Called only where alpha_t > 0: at a zero-SNR step x_t is pure
    noise, no classifier can be confident, and the guide leaves the prediction alone (sampling/protection.py)."""
    alpha_t, sigma_t = at
    eps = guided_eps(pred.eps, grad_log_p, sigma_t, scale)
    return Pred(x0_from_eps(x_t, eps, alpha_t, sigma_t), eps)
