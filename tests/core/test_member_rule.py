"""The rule away-from-member (issue 39): push off the exact posterior's most probable member, checked on a
2-member mixture where the gradient is written by hand."""

import pytest
import torch

from cpaudit.core.guidance import fires, guidance_objective
from cpaudit.core.paths import Pred
from cpaudit.core.posterior import member_log_weights, nearest_member_logit
from cpaudit.core.schedules import Schedule
from cpaudit.errors import ConfigError
from cpaudit.sampling.guides import ExactPosterior
from cpaudit.sampling.protection import Protection, protect_pred, rule_logit_fn

MEMBERS = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).reshape(2, 1, 1, 2)
LABELS = torch.tensor([0, 1])


def test_nearest_member_logit_on_two_members_is_the_energy_difference():
    """With two members, logit w_1 = (d_2 - d_1) / (2 sigma^2), d_i = ||x - alpha m_i||^2."""
    x = torch.tensor([[0.5, 0.1], [0.1, 0.7]]).reshape(2, 1, 1, 2)
    a, s = 0.8, 0.5
    d = ((x.reshape(2, 1, 2) - a * MEMBERS.reshape(1, 2, 2)) ** 2).sum(-1)  # (N, M)
    want = (d.max(1).values - d.min(1).values) / (2 * s**2)  # the nearer member is the more probable one
    assert torch.allclose(nearest_member_logit(x, MEMBERS, a, s), want, atol=1e-6)
    assert torch.allclose(member_log_weights(x, MEMBERS, a, s).exp().sum(1), torch.ones(2, dtype=torch.float64))


def test_away_from_member_gradient_matches_the_hand_derivation():
    """grad_x log(1 - w_1) = w_1 alpha (m_2 - m_1) / sigma^2 where member 1 is the most probable."""
    a, s = 0.8, 0.5
    x = torch.tensor([[0.6, 0.2]]).reshape(1, 1, 1, 2).requires_grad_(True)
    (grad,) = torch.autograd.grad(
        guidance_objective(nearest_member_logit(x, MEMBERS, a, s), "away-from-member").sum(), x
    )
    w1 = member_log_weights(x.detach(), MEMBERS, a, s).exp()[0, 0].item()
    want = w1 * a * (MEMBERS[1] - MEMBERS[0]) / s**2
    assert w1 > 0.5 and torch.allclose(grad[0], want, atol=1e-5)


def test_the_guided_prediction_moves_posterior_mass_off_the_nearest_member():
    path = Schedule().path()
    t = torch.full((1,), 100)
    a, s = (float(v) for v in path.coefficients(t))
    x0 = torch.tensor([[0.9, 0.1]]).reshape(1, 1, 1, 2)
    eps = torch.tensor([[0.3, -0.2]]).reshape(1, 1, 1, 2)
    x_t = a * x0 + s * eps
    p = Protection("exact", alpha=0.4, scale=1.0, rule="away-from-member", space="x_t")
    guided, fired = protect_pred(Pred(x0, eps), x_t, t, (a, s), ExactPosterior(MEMBERS, LABELS, path), p)
    assert fired.tolist() == [True]

    def w_star(img: torch.Tensor) -> float:  # member 0's weight, read on x0_hat at this step's noise level
        return member_log_weights(img, MEMBERS, a, s).exp()[0, 0].item()

    assert w_star(guided.x0) < w_star(x0)
    # eps_hat = eps - s sigma grad, grad = w_1 alpha (m_2 - m_1) / sigma^2 (previous test) at x_t
    w1 = member_log_weights(x_t, MEMBERS, a, s).exp()[0, 0].item()
    want = eps - s * (w1 * a * (MEMBERS[1] - MEMBERS[0]) / s**2)
    assert torch.allclose(guided.eps, want, atol=1e-5)


def test_member_rule_fires_only_where_one_member_is_likely():
    logit = torch.logit(torch.tensor([0.05, 0.3, 0.7, 0.95]).double())
    assert fires(logit, 0.2, "away-from-member").tolist() == [False, False, False, True]
    assert fires(logit, 0.2, "opposite-label").tolist() == [True, False, False, True]
    assert not fires(logit, 0.0, "away-from-member").any() and fires(logit, 0.5, "away-from-member").all()


def test_member_rule_is_refused_without_the_exact_posterior():
    with pytest.raises(ConfigError, match="needs the exact posterior"):
        Protection("runs/classifier", rule="away-from-member")
    p = Protection("exact", rule="away-from-member")
    with pytest.raises(ConfigError, match="exact posterior's logit function"):
        rule_logit_fn(lambda x, t: x.sum((1, 2, 3)), str(p.rule))
