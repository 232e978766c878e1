"""White-box attacks (loss, SecMI, PIA/PIAN, SimA, classifier oracle) on planted and null denoisers.

Planted: a denoiser that is exact on a set of member images and wrong elsewhere: the optimal denoiser of
the members' empirical distribution, eps(x_t, t) = (x_t - sqrt(abar_t) m*) / sqrt(1 - abar_t) with m* the
member nearest to x_t / sqrt(abar_t). Null: a denoiser that knows nothing about any image (a fixed
linear map), members and held-out images drawn alike.
"""

import numpy as np
import pytest
import torch

from cpaudit.auditing.attacks import ATTACKS
from cpaudit.auditing.attacks.base import AttackContext, Denoiser, summarise
from cpaudit.auditing.attacks.secmi import secmi_error
from cpaudit.core.schedules import Schedule
from cpaudit.models.denoise import PairModel

ABAR = Schedule().alphas_cumprod()
PATH = Schedule().path()
WHITE_BOX = [a for a in ATTACKS if a.target != "samples"]


class ExactOnMembers(torch.nn.Module):
    def __init__(self, members: torch.Tensor):
        super().__init__()
        self.members = members

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = ABAR[t].float().view(-1, 1, 1, 1)
        d = torch.cdist((x / a.sqrt()).flatten(1), self.members.flatten(1))
        m = self.members[d.argmin(1)]
        return (x - a.sqrt() * m) / (1 - a).sqrt()


class KnowsNothing(torch.nn.Module):
    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * x + 0.1 * x.flip(-1)


def _images(seed: int, n: int) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed)).clamp(-1, 1)


def _ctx(members, holdout):
    e = np.zeros((len(members), 4), dtype=np.float32)
    return AttackContext(
        seed=0,
        sample_emb=e,
        member_emb=e,
        holdout_emb=e,
        threshold=0.97,
        members=members,
        holdout=holdout,
        mia_t=(20, 100),
        mia_draws=2,
    )


def _denoiser(model, members=None):
    # The classifier oracle's planted classifier: confident near the members, unsure elsewhere.
    def logit(x, t):
        if members is None:
            return x.flatten(1)[:, 0]
        a = ABAR[t].float().view(-1, 1)
        return 10 * torch.exp(-(torch.cdist(x.flatten(1), a.sqrt() * members.flatten(1)).min(1).values ** 2) / 8)

    return Denoiser(PairModel(model, PATH), PATH, torch.device("cpu"), None, logit)


@pytest.mark.parametrize("attack", WHITE_BOX, ids=lambda a: a.name)
def test_each_white_box_attack_separates_members_of_a_planted_denoiser(attack):
    members, holdout = _images(0, 32), _images(1, 32)
    s = attack.scores(_ctx(members, holdout), _denoiser(ExactOnMembers(members), members))
    summary, _ = summarise(attack.name, attack.title, "weights", s, np.random.default_rng(0), 99)
    assert summary["auc"] >= 0.95 and summary["auc_ci95"][0] > summary["chance_band95"][1], summary["by_variant"]


def test_white_box_attacks_stay_in_their_chance_band_on_a_denoiser_that_knows_nothing():
    """4 null data sets x 5 attacks: a 95% band is left about once in 20; at most 3 of 20 here."""
    outside = 0
    for seed in range(4):
        members, holdout = _images(10 + seed, 32), _images(20 + seed, 32)
        for attack in WHITE_BOX:
            s = attack.scores(_ctx(members, holdout), _denoiser(KnowsNothing()))
            summary, _ = summarise(attack.name, attack.title, "weights", s, np.random.default_rng(seed), 99)
            lo, hi = summary["chance_band95"]
            outside += not lo <= summary["auc"] <= hi
    assert outside <= 3, outside


def test_secmi_error_is_zero_where_ddim_inverts_exactly():
    """An exact denoiser makes DDIM inversion reversible at a member: the step-wise error vanishes there."""
    members = _images(0, 4)
    den = _denoiser(ExactOnMembers(members))
    assert torch.allclose(secmi_error(den, members), torch.zeros(4), atol=1e-6)
    # Elsewhere the first step snaps x_0 onto a member's trajectory (x0_hat = m*), which is not undone.
    assert secmi_error(den, _images(1, 16)).median() > 1e-3
