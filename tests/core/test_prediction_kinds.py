"""The same network declared as eps, v or x0 prediction gives the same samples, inversion and attack scores:
everything above the model boundary (models/denoise.py) sees only the prediction pair, so a model's output type
cannot change a figure. The three wrappings are exact rewritings of one eps network on its VP path
(v = alpha eps - sigma x0, x0 = (x_t - sigma eps) / alpha); what differs is float32 rounding, hence the
tolerances. On a zero-terminal-SNR path, where an eps network cannot say anything of x0, the same holds between
v and x0 declarations, and sampling starts from alpha = 0 without a division by it."""

import numpy as np
import pytest
import torch

from cpaudit.auditing.attacks import ATTACKS
from cpaudit.auditing.attacks.base import AttackContext, Denoiser
from cpaudit.auditing.attacks.secmi import secmi_error
from cpaudit.core.paths import GaussianPath, prediction_pair
from cpaudit.core.posterior import exact_logit
from cpaudit.core.schedules import Schedule, Spacing
from cpaudit.models.denoise import PairModel, path_coefficients
from cpaudit.models.unet import UNet, UNetConfig
from cpaudit.sampling.protection import Protection
from cpaudit.sampling.sampler import SamplerConfig, sample_batch

KINDS = ("epsilon", "v_prediction", "sample")


def _network(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = UNet(UNetConfig(base_channels=16, num_res_blocks=1)).eval().requires_grad_(False)
    with torch.no_grad():  # random weights everywhere, so the output depends on x and t
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + 1)))
    return net


def declared_as(kind: str, eps_net, path: GaussianPath):
    """eps_net's output rewritten as `kind` (the inverse of prediction_pair on this path)."""

    def net(x, t):
        eps = eps_net(x, t)
        alpha, sigma = path_coefficients(path, t)
        pred = prediction_pair(eps, x, alpha, sigma, "epsilon")
        a = alpha if isinstance(alpha, float) else alpha.float().view(-1, 1, 1, 1)
        s = sigma if isinstance(sigma, float) else sigma.float().view(-1, 1, 1, 1)
        return {"epsilon": eps, "v_prediction": a * pred.eps - s * pred.x0, "sample": pred.x0}[kind]

    return net


def _members() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return torch.rand(8, 1, 8, 8, generator=g) * 2 - 1, torch.tensor([0, 1] * 4)


@pytest.mark.parametrize(
    "cfg",
    [SamplerConfig(steps=12), SamplerConfig(steps=12, method="ddpm"), SamplerConfig(steps=12, eta=0.5, clip=False)],
    ids=["ddim", "ddpm", "ddim-eta"],
)
def test_sampling_is_the_same_whatever_the_output_is_declared_as(cfg):
    path, net = Schedule().path(), _network()
    members, labels = _members()
    logit_fn = lambda x, t: exact_logit(x, members, labels, path.alpha[t], path.sigma[t])  # noqa: E731
    for protection in (None, Protection("exact", alpha=0.5, scale=3.0, guide_when="every-step")):
        runs = [
            sample_batch(
                PairModel(declared_as(k, net, path), path, k),
                path,
                (1, 8, 8),
                [0, 1, 2],
                cfg,
                protection=protection,
                logit_fn=logit_fn,
            ).images
            for k in KINDS
        ]
        for other in runs[1:]:  # unclipped, a random network's samples grow to ~100: relative there
            assert torch.allclose(other, runs[0], rtol=1e-5, atol=2e-4)


def _denoisers(path: GaussianPath, net) -> list[Denoiser]:
    return [Denoiser(PairModel(declared_as(k, net, path), path, k), path, torch.device("cpu")) for k in KINDS]


def test_inversion_and_every_white_box_attack_score_alike():
    path, net = Schedule().path(), _network(1)
    g = torch.Generator().manual_seed(2)
    members, holdout = (torch.rand(6, 1, 8, 8, generator=g) * 2 - 1), (torch.rand(6, 1, 8, 8, generator=g) * 2 - 1)
    dens = _denoisers(path, net)
    errors = [secmi_error(d, members) for d in dens]
    for e in errors[1:]:
        assert torch.allclose(e, errors[0], rtol=1e-3, atol=1e-5)
    e = np.zeros((6, 4), dtype=np.float32)
    ctx = AttackContext(
        seed=0,
        sample_emb=e,
        member_emb=e,
        holdout_emb=e,
        threshold=0.97,
        members=members,
        holdout=holdout,
        mia_t=(20, 300),
        mia_draws=2,
    )
    for attack in (a for a in ATTACKS if a.target == "denoiser"):
        scores = [attack.scores(ctx, d) for d in dens]
        for s in scores[1:]:
            np.testing.assert_allclose(s.pos, scores[0].pos, rtol=2e-3, atol=1e-4, err_msg=attack.name)
            np.testing.assert_allclose(s.neg, scores[0].neg, rtol=2e-3, atol=1e-4, err_msg=attack.name)


def test_a_zero_snr_model_samples_alike_as_v_or_x0_from_alpha_zero():
    schedule = Schedule("scaled_linear", 1000, 0.00085, 0.012, zero_snr=True)
    path = schedule.path()
    assert path.at(999) == (0.0, 1.0)
    v_net = _network(3)  # read as a v-network: at alpha = 0 its x0 is -v, finite

    def x0_net(x, t):
        alpha, sigma = path_coefficients(path, t)
        return prediction_pair(v_net(x, t), x, alpha, sigma, "v_prediction").x0

    spacing = Spacing("trailing", 0, True)  # Lin et al. 2024: start at the zero-SNR step
    runs = [
        sample_batch(
            PairModel(net, path, kind), path, (1, 8, 8), [4, 5], SamplerConfig(steps=10, clip=False), spacing=spacing
        )
        for net, kind in ((v_net, "v_prediction"), (x0_net, "sample"))
    ]
    assert all(bool(r.finite.all()) for r in runs)
    assert (runs[0].images - runs[1].images).abs().max() < 1e-4
