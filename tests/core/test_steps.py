import torch

from cpaudit.core.steps import ddim_step, ddpm_step, predict_x0


def test_ddim_with_true_noise_stays_on_the_forward_trajectory():
    # If eps_hat is the noise that made x_t, eta=0 DDIM lands exactly on sqrt(a') x0 + sqrt(1-a') eps.
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
    eps = torch.randn(3, 1, 4, 4, generator=g)
    a_t, a_prev = 0.3, 0.7
    x_t = a_t**0.5 * x0 + (1 - a_t) ** 0.5 * eps
    x_prev = ddim_step(x_t, eps, a_t, a_prev, eta=0.0, clip=False)
    assert torch.allclose(x_prev, a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * eps, atol=1e-6)
    assert torch.allclose(predict_x0(x_t, eps, a_t, clip=False), x0, atol=1e-6)


def test_ddim_final_step_returns_x0_hat():
    x_t = torch.full((1, 1, 2, 2), 0.5)
    eps = torch.full((1, 1, 2, 2), 0.1)
    out = ddim_step(x_t, eps, 0.9, 1.0, clip=False)
    assert torch.allclose(out, (x_t - 0.1**0.5 * eps) / 0.9**0.5)


def test_ddpm_step_golden():
    # mean = sqrt(a') b/(1-a) x0 + sqrt(1-b) (1-a')/(1-a) x_t,  var = (1-a')/(1-a) b, with b = 1 - a/a'.
    x_t = torch.full((1, 1, 1, 1), 0.4)
    eps = torch.full((1, 1, 1, 1), 0.2)
    z = torch.full((1, 1, 1, 1), 1.0)
    a, ap = 0.5, 0.8
    b = 1 - a / ap
    x0 = (0.4 - 0.5**0.5 * 0.2) / 0.5**0.5
    mean = ap**0.5 * b / (1 - a) * x0 + (1 - b) ** 0.5 * (1 - ap) / (1 - a) * 0.4
    var = (1 - ap) / (1 - a) * b
    out = ddpm_step(x_t, eps, a, ap, noise=z, clip=False)
    assert abs(float(out) - (mean + var**0.5)) < 1e-6


def test_ddim_eta_one_matches_ddpm_variance():
    # Song et al.: eta = 1 gives the DDPM posterior variance.
    a, ap = 0.5, 0.8
    x_t = torch.zeros(1, 1, 1, 1)
    eps = torch.zeros(1, 1, 1, 1)
    z = torch.ones(1, 1, 1, 1)
    d = ddim_step(x_t, eps, a, ap, eta=1.0, noise=z, clip=False) - ddim_step(x_t, eps, a, ap, eta=1.0, noise=0 * z, clip=False)
    var = (1 - ap) / (1 - a) * (1 - a / ap)
    assert abs(float(d) - var**0.5) < 1e-6
