import pytest
import torch

from cpaudit.core.schedules import Schedule, q_sample, sampling_timesteps


def test_linear_schedule_golden():
    abar = Schedule().alphas_cumprod()
    assert abar.dtype == torch.float64 and abar.shape == (1000,)
    assert abs(float(abar[0]) - (1 - 1e-4)) < 1e-15
    # DDPM's linear schedule ends at abar_T ~ 4.04e-5 (the value diffusers reports too).
    assert abs(float(abar[-1]) - 4.0358e-05) < 1e-8
    assert torch.all(abar[1:] < abar[:-1])


def test_cosine_schedule_properties():
    s = Schedule(kind="cosine")
    b = s.betas()
    assert float(b.max()) <= 0.999 and float(b.min()) > 0
    abar = s.alphas_cumprod()
    assert torch.all(abar[1:] < abar[:-1])
    assert abs(float(abar[0]) - 0.99996) < 5e-5


def test_sampling_timesteps_span():
    ts = sampling_timesteps(1000, 50)
    assert ts[0] == 999 and ts[-1] == 0 and len(ts) == 50
    assert torch.all(ts[:-1] > ts[1:])


def test_q_sample_formula():
    x0 = torch.ones(2, 1, 2, 2)
    eps = torch.full_like(x0, 2.0)
    abar = torch.tensor([0.25, 1.0])
    x_t = q_sample(x0, abar, eps)
    assert torch.allclose(x_t[0], torch.full((1, 2, 2), 0.5 + 0.75**0.5 * 2))
    assert torch.allclose(x_t[1], x0[1])


def test_schedule_rejects_bad_values():
    import pytest

    with pytest.raises(ValueError):
        Schedule(kind="quadratic")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Schedule(beta_start=0.1, beta_end=0.01)


def test_step_plan_cpaudit_spacing_is_the_pixel_models_plan():
    from cpaudit.core.schedules import Spacing, step_plan

    path = Schedule().path()
    ts = sampling_timesteps(1000, 7).tolist()
    plan = step_plan(path, 7, Spacing())
    assert [p[0] for p in plan] == ts
    assert [p[2] for p in plan] == [path.at(t) for t in ts[1:]] + [(1.0, 0.0)]


@pytest.mark.parametrize("spacing, offset, one", [("leading", 1, False), ("trailing", 0, True), ("linspace", 0, False)])
def test_step_plan_follows_diffusers_ddim(spacing, offset, one):
    """diffusers' DDIMScheduler.set_timesteps and step's previous timestep (t - T // steps, then abar_0 or 1)."""
    diffusers = pytest.importorskip("diffusers")
    from cpaudit.core.schedules import Spacing, step_plan

    sched = diffusers.DDIMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        timestep_spacing=spacing,
        steps_offset=offset,
        set_alpha_to_one=one,
    )
    sched.set_timesteps(13)
    path = Schedule("scaled_linear", 1000, 0.00085, 0.012).path()
    plan = step_plan(path, 13, Spacing(spacing, offset, one))
    assert [p[0] for p in plan] == sched.timesteps.tolist()
    for t, at, at_s in plan:
        a_t, a_prev = at[0] ** 2, at_s[0] ** 2
        prev = t - 1000 // 13
        ref = sched.alphas_cumprod[prev] if prev >= 0 else sched.final_alpha_cumprod
        assert abs(a_t - float(sched.alphas_cumprod[t])) < 1e-6 and abs(a_prev - float(ref)) < 1e-6
