"""Anti-memorisation guidance (sampling/amg.py) on a stub denoiser whose two halves are set by hand: nothing below
the threshold; above it the prompt's pull lowered (G_spe), a push away from the nearest member's caption (G_dup)
and x0_hat moved away from the nearest member (G_sim)."""

from __future__ import annotations

import pytest
import torch

from cpaudit.core.schedules import Schedule
from cpaudit.errors import ConfigError
from cpaudit.models.conditioning import TextCond
from cpaudit.sampling.amg import Amg, AmgGuidance, dissimilarity_pred, nearest_member
from cpaudit.sampling.repulsion import centred_unit

PATH = Schedule("scaled_linear", 1000, 0.00085, 0.012).path()
T = 500
W = 7.5


class StubDenoiser:
    """halves() gives (u, c); called with another condition (the dedup term's caption), e_nn."""

    def __init__(self, u: torch.Tensor, c: torch.Tensor, e_nn: torch.Tensor | None = None) -> None:
        self.u, self.c, self.e_nn = u, c, e_nn
        self.called_with: list[TextCond] = []

    def halves(self, x, t, cond):
        return self.u, self.c

    def __call__(self, x, t, cond):
        self.called_with.append(cond)
        assert self.e_nn is not None
        return self.e_nn[: x.shape[0]]


def _setup(noise: float, seed: int = 0):
    """Members (3, 4, 8, 8); x_t at T; the eps whose x0_hat is member 0 plus `noise`."""
    g = torch.Generator().manual_seed(seed)
    members = torch.randn(3, 4, 8, 8, generator=g)
    x = torch.randn(2, 4, 8, 8, generator=g)
    alpha, sigma = PATH.at(T)
    x0 = members[0].expand(2, -1, -1, -1) + noise * torch.randn(2, 4, 8, 8, generator=g)
    return members, x, (x - alpha * x0) / sigma


def _cond(n: int = 2) -> TextCond:
    e = torch.zeros(n, 3, 4)
    return TextCond(e, e, W)


def _hook(amg: Amg, members, captions=None, encode=None) -> AmgGuidance:
    return AmgGuidance(amg, members, captions, encode, PATH, "epsilon")


def _r(eps: torch.Tensor, x: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    alpha, sigma = PATH.at(T)
    return nearest_member((x - sigma * eps) / alpha, centred_unit(members)[0])[0]


def test_below_the_threshold_amg_is_plain_guidance():
    members, x, eps = _setup(noise=3.0)
    u, c = eps - 0.1, eps + 0.1
    hook = _hook(Amg(threshold=0.9), members)
    out = hook(StubDenoiser(u, c), x, torch.full((2,), T), _cond())
    assert torch.equal(out, u + W * (c - u)) and hook.fired == 0


def test_dissimilarity_moves_x0_away_from_the_nearest_member():
    members, x, eps = _setup(noise=0.3)
    before = _r(eps, x, members)
    assert (before > 0.9).all()
    hook = _hook(Amg(threshold=0.5, spe=0.0, dup=0.0, sim=10.0), members)
    out = hook(StubDenoiser(eps, eps), x, torch.full((2,), T), _cond())
    after = _r(out, x, members)
    assert (after < before - 0.01).all() and hook.fired == 2
    # the pure term: a zero scale leaves the pair alone
    alpha, sigma = PATH.at(T)
    from cpaudit.core.paths import Pred

    pred = Pred((x - sigma * eps) / alpha, eps)
    idx = torch.zeros(2, dtype=torch.long)
    unit = centred_unit(members)[0]
    assert dissimilarity_pred(pred, x, alpha, sigma, unit, idx, torch.zeros(2)) is pred


def test_despecification_lowers_the_prompts_pull_by_c1_times_the_similarity_capped_at_w_minus_1():
    members, x, eps = _setup(noise=0.3)
    u, c = eps - 0.01, eps + 0.01
    r = _r(u + W * (c - u), x, members).double()
    for spe in (2.0, 13.0):
        hook = _hook(Amg(threshold=0.5, spe=spe, dup=0.0, sim=0.0), members)
        out = hook(StubDenoiser(u, c), x, torch.full((2,), T), _cond())
        s_spe = torch.minimum(spe * r, torch.tensor(W - 1.0))
        want = u + (W - s_spe).float().reshape(-1, 1, 1, 1) * (c - u)
        torch.testing.assert_close(out, want)


def test_caption_deduplication_pushes_away_from_the_nearest_members_caption():
    members, x, eps = _setup(noise=0.3)
    u, c = eps - 0.01, eps + 0.01
    e_nn = eps + 0.05
    encoded: list[list[str]] = []

    def encode(captions):
        encoded.append(captions)
        return _cond(len(captions))

    hook = _hook(Amg(threshold=0.5, spe=2.0, dup=1.0, sim=0.0), members, ["zero", "one", "two"], encode)
    stub = StubDenoiser(u, c, e_nn)
    out = hook(stub, x, torch.full((2,), T), _cond())
    assert encoded == [["zero", "zero"]] and stub.called_with[0].guidance_scale == 1.0
    r = _r(u + W * (c - u), x, members).double()
    s_spe = 2.0 * r
    s_dup = (W - 1 - s_spe) * r.clamp(0, 1)
    col = lambda v: v.float().reshape(-1, 1, 1, 1)  # noqa: E731
    torch.testing.assert_close(out, u + col(W - s_spe) * (c - u) + col(s_dup) * (u - e_nn))


def test_amg_settings_are_checked():
    for bad in (dict(threshold=1.5), dict(spe=-1.0), dict(sim=float("inf"))):
        with pytest.raises(ConfigError):
            Amg(**bad)
    assert Amg().to_dict()["kind"] == "anti-memorisation guidance"


def test_amg_defaults_are_the_tunes_choice():
    """The threshold and dissimilarity scale are `cpaudit tune`'s choice on the text demo's model (second round)."""
    import json
    from pathlib import Path

    record = json.loads(
        (
            Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "text_guidance_tune2" / "tune.json"
        ).read_text()
    )
    assert Amg().to_dict() == record["defences"]["anti-memorisation guidance"]["setting"]["amg"]
