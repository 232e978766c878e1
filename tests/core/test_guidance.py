import pytest
import torch

from cpaudit.core.guidance import confident, guidance_objective, guided_eps


def test_confident_thresholds():
    p = torch.tensor([0.0005, 0.01, 0.5, 0.99, 0.9995])
    logit = torch.logit(p.double())
    assert confident(logit, 0.001).tolist() == [True, False, False, False, True]
    assert confident(logit, 0.4).tolist() == [True, True, False, True, True]
    assert not confident(logit, 0.0).any()


def test_opposite_label_gradient_points_to_less_likely_label():
    logit = torch.tensor([3.0, -3.0], requires_grad=True)
    (g,) = torch.autograd.grad(guidance_objective(logit, "opposite-label").sum(), logit)
    assert g[0] < 0 and g[1] > 0  # pushes p(y=1) down where it is high, up where it is low


def test_toward_half_gradient_is_half_minus_p():
    logit = torch.tensor([2.0, 0.0, -1.0], requires_grad=True)
    (g,) = torch.autograd.grad(guidance_objective(logit, "toward-half").sum(), logit)
    assert torch.allclose(g, 0.5 - torch.sigmoid(logit.detach()))


def test_guided_eps_formula_and_unknown_rule():
    eps = torch.zeros(1, 1, 2, 2)
    grad = torch.ones(1, 1, 2, 2)
    assert torch.allclose(guided_eps(eps, grad, 0.25**0.5, 10.0), torch.full((1, 1, 2, 2), -10 * 0.5))
    with pytest.raises(ValueError):
        guidance_objective(torch.zeros(1), "sideways")  # type: ignore[arg-type]
