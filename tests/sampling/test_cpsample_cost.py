"""CPSample's cheaper settings and its composition with repulsion (issue 39): check_every, and a setting that
guides with both CPSample and nearest-member repulsion."""

import math

import pytest
import torch

from cpaudit.core.paths import Pred
from cpaudit.core.schedules import Schedule, Spacing, step_plan
from cpaudit.errors import ConfigError
from cpaudit.models.load import load_model
from cpaudit.sampling.defences import Guides, Setting
from cpaudit.sampling.protection import Protection, protect_pred, protection_guide
from cpaudit.sampling.repulsion import Repulsion, centred_unit, repel_pred
from cpaudit.sampling.sampler import SamplerConfig, compose_guides, sample_batch

SHAPE = (1, 4, 4)
PATH = Schedule().path()


def toy_denoise(x: torch.Tensor, t: torch.Tensor) -> Pred:
    """A fixed linear eps model on the VP path: deterministic, cheap, and its samples depend on the guidance."""
    a, s = (float(v) for v in PATH.coefficients(t))
    eps = 0.5 * x
    return Pred((x - s * eps) / a, eps)


class CountingLogit:
    """A smooth logit whose confidence varies with the sample; counts gradient-free (confidence) calls."""

    def __init__(self) -> None:
        self.confidence_calls = 0

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            self.confidence_calls += 1
        return 3.0 * x.flatten(1).mean(1) + x.flatten(1)[:, 0]


def draw(guide, seeds=(0, 1, 2, 3, 4, 5), steps=10) -> torch.Tensor:
    return sample_batch(toy_denoise, PATH, SHAPE, list(seeds), SamplerConfig(steps=steps), guide=guide).images


def test_check_every_one_is_protect_pred_bit_for_bit():
    p = Protection("c", alpha=0.3, scale=5.0)
    fn = CountingLogit()
    today = draw(lambda pred, x, t, at: protect_pred(pred, x, t, at, fn, p))
    assert torch.equal(draw(protection_guide(fn, p)), today)
    assert torch.equal(draw(protection_guide(fn, Protection("c", alpha=0.3, scale=5.0, check_every=1))), today)
    assert not torch.equal(today, draw(None))  # the guidance does change these samples


@pytest.mark.parametrize("k", [1, 2, 3, 4, 10])
def test_check_every_runs_the_confidence_pass_ceil_steps_over_k_times(k):
    fn = CountingLogit()
    guide = protection_guide(fn, Protection("c", alpha=0.3, scale=5.0, check_every=k))
    draw(guide, steps=10)
    assert fn.confidence_calls == math.ceil(10 / k)
    draw(guide, steps=10)  # the same guide on a second batch starts its chain over
    assert fn.confidence_calls == 2 * math.ceil(10 / k)


def test_check_every_guides_the_rows_last_found_confident():
    """At a step between checks the rows guided are those of the last check, with the gradient pass alone."""
    fn = CountingLogit()
    p = Protection("c", alpha=0.3, scale=5.0, check_every=2)
    guide = protection_guide(fn, p)
    x = torch.randn(6, *SHAPE, generator=torch.Generator().manual_seed(0))
    t1, t2 = torch.full((6,), 600), torch.full((6,), 580)
    _, first = guide(toy_denoise(x, t1), x, t1, PATH.at(600))
    at2 = PATH.at(580)
    out, second = guide(toy_denoise(x, t2), x, t2, at2)
    assert 0 < int(first.sum()) < 6 and torch.equal(second, first) and fn.confidence_calls == 1
    want, _ = protect_pred(toy_denoise(x, t2), x, t2, at2, fn, p, held=first)
    assert torch.equal(out.eps, want.eps)


def test_check_every_counts_guided_steps_only_in_a_window():
    fn = CountingLogit()
    p = Protection("c", alpha=0.3, scale=5.0, check_every=3, t_max=500)
    draw(protection_guide(fn, p), steps=10)
    inside = sum(1 for t, at, _ in step_plan(PATH, 10, Spacing()) if t <= 500 and at[0] > 0)
    assert 3 < inside < 10 and fn.confidence_calls == math.ceil(inside / 3)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"check_every": 0}, "check_every must be"),
        ({"check_every": 1.5}, "check_every must be"),
        ({"check_every": True}, "check_every must be"),
        ({"check_every": 2, "guide_when": "every-step"}, "check_every applies"),
    ],
)
def test_protection_refuses_bad_cost_settings(kw, message):
    with pytest.raises(ConfigError, match=message):
        Protection("c", **kw)


def test_check_every_is_recorded_only_when_set():
    assert "check_every" not in Protection("c").to_dict()
    assert Protection("c", check_every=3).to_dict()["check_every"] == 3


def test_composed_guides_apply_in_turn_and_fire_where_either_fires():
    def shift(by: float, mask: list[bool]):
        def guide(pred, x, t, at):
            fired = torch.tensor(mask)
            return Pred(pred.x0 + by * fired.view(-1, 1, 1, 1), pred.eps * 2), fired

        return guide

    pred = Pred(torch.zeros(3, *SHAPE), torch.ones(3, *SHAPE))
    out, fired = compose_guides(shift(1.0, [True, False, False]), shift(10.0, [False, True, False]))(
        pred, pred.x0, torch.zeros(3), (1.0, 0.0)
    )
    assert fired.tolist() == [True, True, False]
    assert out.x0[:, 0, 0, 0].tolist() == [1.0, 10.0, 0.0] and torch.equal(out.eps, 4 * pred.eps)


def test_a_setting_with_cpsample_and_repulsion_guides_with_both_in_turn(tiny_model):
    model = load_model(tiny_model)
    members = torch.rand(4, *model.image_shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    guides = Guides(members, torch.device("cpu"))
    p, rep = Protection("exact", alpha=0.1, scale=1.0, space="x_t"), Repulsion(threshold=0.19, scale=30.0)
    guide = guides.guide(model, Setting("both", "-", protection=p, repulsion=rep))
    assert guide is not None
    x = torch.randn(5, *model.image_shape, generator=torch.Generator().manual_seed(2))
    t = torch.full((5,), 300)
    at = model.path.at(300)
    pred = model.pair_fn()(x, t)
    out, fired = guide(pred, x, t, at)
    logit_fn = guides._logits[(str(model.folder), p.classifier)]
    mid, fired_cps = protect_pred(pred, x, t, at, logit_fn, p)
    want, fired_rep = repel_pred(mid, x, at, centred_unit(members)[0], rep)
    assert torch.equal(out.eps, want.eps) and torch.equal(fired, fired_cps | fired_rep)
    assert fired_cps.any() and fired_rep.any() and not torch.equal(fired_cps, fired_rep)


def test_the_tune_grid_sweeps_the_member_targeted_families_two_points_each_when_small():
    from cpaudit.pipelines.tune_grid import CPS_REPULSION, EXACT_MEMBER, FAMILIES, LEARNED_CHECK, sweep_settings

    assert {FAMILIES[k] for k in ("cpsample+repulsion", "exact-member", "learned-check")} == {
        CPS_REPULSION,
        EXACT_MEMBER,
        LEARNED_CHECK,
    }
    small = sweep_settings("clf", (), small=True)
    for family in (CPS_REPULSION, EXACT_MEMBER, LEARNED_CHECK):
        points = [s for s in small if s.defence == family]
        assert len(points) == 2 and len({s.label for s in points}) == 2
    both = [s for s in small if s.defence == CPS_REPULSION]
    assert all(s.protection is not None and s.repulsion is not None for s in both)
    member = [s.protection for s in small if s.defence == EXACT_MEMBER]
    assert all(p is not None and p.rule == "away-from-member" and p.classifier == "exact" for p in member)
    assert all(s.protection is not None and s.protection.check_every == 3 for s in small if s.defence == LEARNED_CHECK)
    assert not any(s.defence in (CPS_REPULSION, LEARNED_CHECK) for s in sweep_settings(None, (), small=True))
