import json

import pytest
import torch
from opacus.accountants import RDPAccountant

from cpaudit.core.privacy import epsilon_spent, noise_for_budget
from cpaudit.core.schedules import Schedule
from cpaudit.errors import InputError
from cpaudit.models.unet import UNet, UNetConfig
from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, train_diffusion
from cpaudit.train.dp import DPConfig, clip_and_noise, per_example_grads


def test_epsilon_matches_opacus_rdp_accountant_stepwise():
    # Opacus' accountant stepped 1,000 times at sigma 1.1, q 0.01 vs our closed call.
    acc = RDPAccountant()
    for _ in range(1000):
        acc.step(noise_multiplier=1.1, sample_rate=0.01)
    assert epsilon_spent(1.1, 0.01, 1000, 1e-5) == pytest.approx(acc.get_epsilon(1e-5), rel=1e-12)
    # Golden value (Opacus 1.6 RDP analysis, default orders), pinned against regressions.
    assert epsilon_spent(1.1, 0.01, 1000, 1e-5) == pytest.approx(1.71177, rel=1e-4)


def test_noise_for_budget_reaches_target():
    sigma = noise_for_budget(10.0, 1e-3, 0.25, 400)
    assert epsilon_spent(sigma, 0.25, 400, 1e-3) <= 10.0
    assert epsilon_spent(sigma * 0.95, 0.25, 400, 1e-3) > 9.5


def test_per_example_grads_equal_naive_loop():
    torch.manual_seed(0)
    model = UNet(UNetConfig(base_channels=8, num_res_blocks=1))
    abar = Schedule().alphas_cumprod().float()
    x0 = torch.randn(3, 1, 8, 8)
    t = torch.randint(1000, (3, 2))
    eps = torch.randn(3, 2, 1, 8, 8)
    params = {k: v.detach() for k, v in model.named_parameters()}
    got = per_example_grads(model, params, x0, t, eps, abar)
    for i in range(3):  # one example, its K = 2 draws in one batch, plain autograd
        model.zero_grad()
        a = abar[t[i]].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0[i : i + 1] + (1 - a).sqrt() * eps[i]
        (model(x_t, t[i]) - eps[i]).pow(2).mean().backward()
        for name, p in model.named_parameters():
            assert torch.allclose(got[name][i], p.grad, atol=1e-5), name
    assert got["stem.weight"].shape == (3, *model.stem.weight.shape)  # one gradient per example, not per draw


def test_clipping_bounds_each_example():
    g = {"w": torch.tensor([[3.0, 4.0], [0.3, 0.4]])}  # norms 5 and 0.5
    out, norms = clip_and_noise(g, C=1.0, sigma=0.0, expected_batch=1.0, gen=torch.Generator().manual_seed(0))
    assert torch.allclose(norms, torch.tensor([5.0, 0.5]))
    assert torch.allclose(out["w"], torch.tensor([0.6 + 0.3, 0.8 + 0.4]))


@pytest.mark.parametrize(
    "cfg,needle",
    [
        (DPConfig(epsilon=0), "--epsilon"),
        (DPConfig(delta=0.2), "--delta"),
        (DPConfig(expected_batch_size=100), "--batch-size"),
    ],
)
def test_impossible_settings_are_refused(tmp_path, cfg, needle):
    with pytest.raises(InputError, match=needle):
        train_diffusion(TrainDiffusionOptions(data="digits", out=tmp_path / "m", members=16, dp=cfg))
    assert not (tmp_path / "m").exists()


def test_dp_training_records_epsilon_below_target(tmp_path):
    cfg = DPConfig(epsilon=5.0, delta=1e-3, steps=6, expected_batch_size=4, noise_multiplicity=2)
    r = train_diffusion(
        TrainDiffusionOptions(data="digits", out=tmp_path, members=16, base_channels=8, num_res_blocks=1, dp=cfg)
    )
    recorded = json.loads((tmp_path / "config.json").read_text())["dp"]
    assert recorded["epsilon"] <= 5.0 and recorded["epsilon"] > 4.5
    assert recorded == r.dp and recorded["noise_multiplicity"] == 2 and recorded["sample_rate"] == 0.25
