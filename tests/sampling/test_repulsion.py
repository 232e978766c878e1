import numpy as np
import pytest
import torch

from cpaudit.core.paths import prediction_pair
from cpaudit.errors import ConfigError
from cpaudit.sampling.repulsion import Repulsion, centred_unit, correlation_gradient, repel_pred


def test_correlation_gradient_matches_autograd():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64)
    v, _ = centred_unit(torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64))
    r, grad = correlation_gradient(x, v)
    xr = x.clone().requires_grad_(True)
    r_ref = (centred_unit(xr)[0] * v).sum(1)
    (grad_ref,) = torch.autograd.grad(r_ref.sum(), xr)
    assert torch.allclose(r, r_ref.detach()) and torch.allclose(grad, grad_ref, atol=1e-12)
    # r is Pearson's correlation (numpy's, as an independent reference)
    assert r[0].item() == pytest.approx(np.corrcoef(x[0].flatten().numpy(), v[0].numpy())[0, 1])


def test_repulsion_lowers_the_nearest_members_correlation_and_fires_only_near_one():
    g = torch.Generator().manual_seed(1)
    members = torch.rand(3, 1, 8, 8, generator=g) * 2 - 1
    unit, _ = centred_unit(members)
    abar = 0.5
    near = members[[0, 1]] + 0.05 * torch.randn(2, 1, 8, 8, generator=g)  # predicted x0 close to members 0 and 1
    far = torch.randn(1, 1, 8, 8, generator=g) * 0.3
    x0 = torch.cat([near, far]).clamp(-1, 1)
    eps = torch.randn(3, 1, 8, 8, generator=g)
    at = (abar**0.5, (1 - abar) ** 0.5)
    x_t = at[0] * x0 + at[1] * eps  # so the pair's x0 is x0
    pred = prediction_pair(eps, x_t, *at, "epsilon")
    rep = Repulsion(threshold=0.9, scale=1.0)
    guided, fired = repel_pred(pred, x_t, at, unit, rep)
    assert fired.tolist() == [True, True, False]
    assert torch.equal(guided.eps[2], eps[2])
    assert torch.allclose(at[0] * guided.x0 + at[1] * guided.eps, x_t, atol=1e-6)  # still on the path
    before = (centred_unit(pred.x0.clamp(-1, 1))[0] * unit[[0, 1, 0]]).sum(1)
    after = (centred_unit(guided.x0.clamp(-1, 1))[0] * unit[[0, 1, 0]]).sum(1)
    assert (after[:2] < before[:2]).all()
    same, fired0 = repel_pred(pred, x_t, at, unit, Repulsion(0.9, 0.0))
    assert torch.equal(same.eps, eps) and fired0.tolist() == [True, True, False]


def test_repulsion_settings_are_checked():
    with pytest.raises(ConfigError):
        Repulsion(threshold=1.5)
    with pytest.raises(ConfigError):
        Repulsion(scale=-1.0)
