import torch

from cpaudit.core.paths import Pred, prediction_pair
from cpaudit.core.steps import ddim_step, ddpm_step


def vp(abar: float) -> tuple[float, float]:
    return abar**0.5, (1 - abar) ** 0.5


def eps_pair(x_t, eps, abar):
    return prediction_pair(eps, x_t, *vp(abar), "epsilon")


def test_ddim_with_true_noise_stays_on_the_forward_trajectory():
    # If eps_hat is the noise that made x_t, eta=0 DDIM lands exactly on sqrt(a') x0 + sqrt(1-a') eps.
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1
    eps = torch.randn(3, 1, 4, 4, generator=g)
    a_t, a_prev = 0.3, 0.7
    x_t = a_t**0.5 * x0 + (1 - a_t) ** 0.5 * eps
    pred = eps_pair(x_t, eps, a_t)
    x_prev = ddim_step(x_t, pred, vp(a_t), vp(a_prev), eta=0.0, clip=False)
    assert torch.allclose(x_prev, a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * eps, atol=1e-6)
    assert torch.allclose(pred.x0, x0, atol=1e-6)


def test_ddim_final_step_returns_x0_hat():
    x_t = torch.full((1, 1, 2, 2), 0.5)
    eps = torch.full((1, 1, 2, 2), 0.1)
    out = ddim_step(x_t, eps_pair(x_t, eps, 0.9), vp(0.9), (1.0, 0.0), clip=False)
    assert torch.allclose(out, (x_t - 0.1**0.5 * eps) / 0.9**0.5)


def test_ddim_clip_recomputes_eps_from_the_clipped_x0():
    x_t = torch.full((1, 1, 1, 1), 3.0)
    pred = Pred(torch.full((1, 1, 1, 1), 2.0), torch.full((1, 1, 1, 1), 0.0))
    a, s = vp(0.5)
    out = ddim_step(x_t, pred, (a, s), vp(0.8), clip=True)
    eps = (3.0 - a * 1.0) / s
    assert abs(float(out) - (0.8**0.5 * 1.0 + 0.2**0.5 * eps)) < 1e-6


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
    out = ddpm_step(x_t, eps_pair(x_t, eps, a), vp(a), vp(ap), noise=z, clip=False)
    assert abs(float(out) - (mean + var**0.5)) < 1e-6


def test_ddim_eta_one_matches_ddpm_variance():
    # Song et al.: eta = 1 gives the DDPM posterior variance.
    a, ap = 0.5, 0.8
    x_t = torch.zeros(1, 1, 1, 1)
    pred = eps_pair(x_t, torch.zeros(1, 1, 1, 1), a)
    z = torch.ones(1, 1, 1, 1)
    d = ddim_step(x_t, pred, vp(a), vp(ap), eta=1.0, noise=z, clip=False) - ddim_step(
        x_t, pred, vp(a), vp(ap), eta=1.0, noise=0 * z, clip=False
    )
    var = (1 - ap) / (1 - a) * (1 - a / ap)
    assert abs(float(d) - var**0.5) < 1e-6


def test_a_zero_snr_start_steps_without_dividing_by_alpha():
    # alpha_t = 0: x_t is pure noise; a v-prediction gives x0 = -v and eps = x_t, and DDIM steps to finite values.
    x_t = torch.randn(2, 1, 3, 3, generator=torch.Generator().manual_seed(1))
    v = torch.randn(2, 1, 3, 3, generator=torch.Generator().manual_seed(2))
    pred = prediction_pair(v, x_t, 0.0, 1.0, "v_prediction")
    assert torch.equal(pred.x0, -v) and torch.equal(pred.eps, x_t)
    out = ddim_step(x_t, pred, (0.0, 1.0), vp(0.5), clip=False)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, 0.5**0.5 * -v + 0.5**0.5 * x_t)
