"""Exact random-label posterior under the forward process (the Bayes-optimal classifier).

Given member images x_i with labels y_i, x_t | i ~ N(alpha_t x_i, sigma_t^2 I) on the model's path (alpha_t =
sqrt(abar_t), sigma_t = sqrt(1 - abar_t) on a VP one, 1 - sigma_t and sigma_t on rectified flow), and a uniform
prior over members, the label posterior is a ratio of Gaussian-mixture sums:

    p(y = 1 | x_t) = sum_{i: y_i = 1} exp(-d_i / (2 sigma_t^2)) / sum_i exp(-d_i / (2 sigma_t^2)),
    d_i = ||x_t - alpha_t x_i||^2.

We return the logit log p(y=1|x_t) - log p(y=0|x_t); it is differentiable in x_t, so it can also
drive CPSample's guidance as the limit of a perfectly trained classifier.

The same sums give the posterior over members, w_i(x_t) = exp(-d_i / (2 sigma_t^2)) / sum_j exp(-d_j / (2 sigma_t^2)):
nearest_member_logit returns logit w_{i*} for the most probable member i*, which the rule "away-from-member"
(core/guidance.py) pushes down: away from the member being copied, not from half the members (issue 39).
"""

from __future__ import annotations

import torch


def _class_lse(neg_energy: torch.Tensor, mask: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """log-sum-exp over the members of one class, optionally over its top_k largest terms only."""
    masked = neg_energy.masked_fill(~mask, float("-inf"))
    if top_k is not None and top_k < int(mask.sum()):
        masked = masked.topk(top_k, dim=1).values
    return torch.logsumexp(masked, dim=1)


def _neg_energy(
    x_t: torch.Tensor, members: torch.Tensor, alpha_t: torch.Tensor | float, sigma_t: torch.Tensor | float
) -> torch.Tensor:
    """-d_i / (2 sigma_t^2) for every (sample, member) pair, in float64: (N, M)."""
    n = x_t.shape[0]
    x = x_t.reshape(n, -1).double()
    m = members.reshape(members.shape[0], -1).to(x)
    alpha = torch.as_tensor(alpha_t, dtype=torch.float64, device=x.device).reshape(-1, 1).expand(n, 1)
    sigma = torch.as_tensor(sigma_t, dtype=torch.float64, device=x.device).reshape(-1, 1).expand(n, 1)
    # d_i = ||x||^2 - 2 alpha <x, x_i> + alpha^2 ||x_i||^2, for every (sample, member) pair.
    d = (x * x).sum(1, keepdim=True) - 2 * alpha * (x @ m.T) + alpha**2 * (m * m).sum(1)[None, :]
    return -d.clamp(min=0) / (2 * sigma**2)


def exact_logit(
    x_t: torch.Tensor,
    members: torch.Tensor,
    labels: torch.Tensor,
    alpha_t: torch.Tensor | float,
    sigma_t: torch.Tensor | float,
    *,
    top_k: int | None = None,
) -> torch.Tensor:
    """Logit of the exact posterior p(y=1 | x_t, t).

    x_t: (N, ...) noised images; members: (M, ...) clean members; labels: (M,) in {0, 1};
    alpha_t, sigma_t: scalars or (N,), sigma_t > 0. top_k keeps only the k nearest members of each class in the sum, which is
    exact to float precision once k covers every member within a few noise-widths. Shape (N,).
    """
    neg_energy = _neg_energy(x_t, members, alpha_t, sigma_t)
    is_one = (labels.reshape(1, -1) == 1).expand_as(neg_energy)
    logit = _class_lse(neg_energy, is_one, top_k) - _class_lse(neg_energy, ~is_one, top_k)
    return logit.to(x_t.dtype)


def member_log_weights(
    x_t: torch.Tensor, members: torch.Tensor, alpha_t: torch.Tensor | float, sigma_t: torch.Tensor | float
) -> torch.Tensor:
    """log w_i(x_t), the posterior over members under a uniform prior, (N, M) in float64."""
    return torch.log_softmax(_neg_energy(x_t, members, alpha_t, sigma_t), dim=1)


def nearest_member_logit(
    x_t: torch.Tensor, members: torch.Tensor, alpha_t: torch.Tensor | float, sigma_t: torch.Tensor | float
) -> torch.Tensor:
    """logit w_{i*} = log w_{i*} - log sum_{j != i*} w_j for the most probable member i* of each sample, (N,).

    i* is picked by argmax (piecewise constant in x_t), so its gradient is that of the chosen member's logit.
    Needs at least two members (with one, w = 1 everywhere and the logit is infinite)."""
    log_w = member_log_weights(x_t, members, alpha_t, sigma_t)
    top = log_w.argmax(dim=1, keepdim=True)
    own = log_w.gather(1, top).squeeze(1)
    is_top = torch.zeros_like(log_w, dtype=torch.bool).scatter(1, top, True)
    rest = torch.logsumexp(log_w.masked_fill(is_top, float("-inf")), dim=1)
    return (own - rest).to(x_t.dtype)
