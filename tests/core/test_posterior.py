import numpy as np
import torch
from scipy.special import logsumexp

from cpaudit.core.posterior import exact_logit


def _naive(x, members, labels, abar):
    out = []
    for xi in x:
        e = np.array([-np.sum((xi - np.sqrt(abar) * m) ** 2) / (2 * (1 - abar)) for m in members])
        out.append(logsumexp(e[labels == 1]) - logsumexp(e[labels == 0]))
    return np.array(out)


def test_exact_logit_matches_naive_reference():
    g = torch.Generator().manual_seed(1)
    members = torch.rand(10, 1, 3, 3, generator=g) * 2 - 1
    labels = torch.tensor([0, 1] * 5)
    x = torch.randn(4, 1, 3, 3, generator=g)
    for abar in (0.99, 0.5, 0.05):
        got = exact_logit(x.double(), members, labels, abar**0.5, (1 - abar) ** 0.5).numpy()
        want = _naive(x.flatten(1).double().numpy(), members.flatten(1).double().numpy(), labels.numpy(), abar)
        assert np.allclose(got, want, atol=1e-9)


def test_top_k_equals_full_sum_when_k_covers_members():
    g = torch.Generator().manual_seed(2)
    members = torch.rand(12, 1, 2, 2, generator=g)
    labels = torch.tensor([0, 1, 1, 0] * 3)
    x = torch.randn(3, 1, 2, 2, generator=g).double()
    full = exact_logit(x, members, labels, 0.7**0.5, 0.3**0.5)
    assert torch.allclose(exact_logit(x, members, labels, 0.7**0.5, 0.3**0.5, top_k=6), full)
    # With members many noise-widths apart, a small k is already exact to float precision near one.
    spread = members * 50
    near = (0.9**0.5 * spread[:1] + 0.01).double()
    assert torch.allclose(
        exact_logit(near, spread, labels, 0.9**0.5, 0.1**0.5, top_k=2),
        exact_logit(near, spread, labels, 0.9**0.5, 0.1**0.5),
        atol=1e-6,
    )


def test_exact_logit_is_differentiable_and_confident_near_members():
    members = torch.tensor([[[[1.0]]], [[[-1.0]]]])
    labels = torch.tensor([1, 0])
    x = torch.tensor([[[[0.99]]]], requires_grad=True)
    logit = exact_logit(x, members, labels, 0.99**0.5, 0.01**0.5)
    assert float(logit.detach()) > 10
    (g,) = torch.autograd.grad(logit.sum(), x)
    assert float(g) > 0  # moving toward the label-1 member raises p(y=1)
