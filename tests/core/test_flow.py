"""Flow schedules (core/flow.py) against diffusers' FlowMatchEulerDiscreteScheduler and the SD3 / FLUX
pipelines' own sigma and mu choices: the sampling sigmas, the training grid, scale_noise, the Euler step as
cpaudit's sampler runs it, the time input read back as sigma, and CPSample's change handed back as a
velocity near sigma = 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from cpaudit.core.flow import FlowSchedule, flow_schedule_from_config  # noqa: E402
from cpaudit.core.paths import Pred, noise_to, output_of_pair, prediction_pair  # noqa: E402
from cpaudit.core.schedules import Spacing, step_plan  # noqa: E402
from cpaudit.core.steps import ddim_step  # noqa: E402
from cpaudit.errors import InputError  # noqa: E402
from cpaudit.sampling.sampler import SamplerConfig, sample_batch  # noqa: E402
from cpaudit.seeding import torch_generator  # noqa: E402

CASES = [  # (scheduler config, pipeline, image token count)
    ({"shift": 3.0}, "sd3", 4096),  # SD3 / SD3.5: static shift 3
    ({"shift": 1.0}, "sd3", 16),
    ({"use_dynamic_shifting": True, "base_shift": 0.5, "max_shift": 1.15}, "flux", 4096),  # FLUX.1-dev at 1024^2
    ({"use_dynamic_shifting": True, "base_shift": 0.5, "max_shift": 1.15}, "flux", 16),
    ({"use_dynamic_shifting": True, "shift": 3.0, "base_image_seq_len": 256, "max_image_seq_len": 4096}, "sd3", 1024),
]


def _diffusers_sigmas(cfg: dict, pipeline: str, seq_len: int, steps: int) -> torch.Tensor:
    """The sigmas the pipeline's scheduler holds after set_timesteps, as each pipeline calls it."""
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift

    sched = diffusers.FlowMatchEulerDiscreteScheduler(**cfg)
    c = sched.config
    mu = (
        calculate_shift(seq_len, c.base_image_seq_len, c.max_image_seq_len, c.base_shift, c.max_shift)
        if c.use_dynamic_shifting
        else None
    )
    sigmas = np.linspace(1.0, 1 / steps, steps) if pipeline == "flux" else None  # pipeline_flux.py; SD3 passes none
    sched.set_timesteps(steps, sigmas=sigmas, mu=mu)
    return sched.sigmas


def _ours(cfg: dict, pipeline: str) -> FlowSchedule:
    full = {"_class_name": "FlowMatchEulerDiscreteScheduler", **diffusers.FlowMatchEulerDiscreteScheduler(**cfg).config}
    return flow_schedule_from_config(dict(full), "scheduler_config.json", pipeline)


@pytest.mark.parametrize("cfg,pipeline,seq_len", CASES)
@pytest.mark.parametrize("steps", [1, 4, 28, 50])
def test_sampling_sigmas_equal_the_pipelines(cfg, pipeline, seq_len, steps):
    ref = _diffusers_sigmas(cfg, pipeline, seq_len, steps)
    ours = _ours(cfg, pipeline).sampling_sigmas(steps, seq_len)
    assert ours.dtype == torch.float32
    assert torch.equal(ours, ref[:-1]) and float(ref[-1]) == 0.0


@pytest.mark.parametrize("cfg,pipeline,seq_len", CASES)
def test_the_sampling_path_ends_where_the_scheduler_does(cfg, pipeline, seq_len):
    """cpaudit's plan visits every sampling sigma from the top and steps last to sigma = 0."""
    fs = _ours(cfg, pipeline)
    path = fs.sampling_path(8, seq_len)
    plan = step_plan(path, 8, Spacing())
    ref = _diffusers_sigmas(cfg, pipeline, seq_len, 8).double()
    assert [p[1][1] for p in plan] == pytest.approx(ref[:-1].tolist(), abs=0)
    assert [p[2][1] for p in plan] == pytest.approx(ref[1:].tolist(), abs=0)
    assert all(a + s == pytest.approx(1.0) for _, (a, s), _ in plan)


def test_mu_is_the_pipelines_calculate_shift():
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift
    from diffusers.pipelines.stable_diffusion_3.pipeline_stable_diffusion_3 import calculate_shift as sd3_shift

    fs = FlowSchedule(dynamic=True, base_shift=0.6, max_shift=1.2, base_seq_len=128, max_seq_len=2048, pipeline="flux")
    for n in (16, 128, 1024, 4096, 6000):
        assert fs.mu(n) == pytest.approx(calculate_shift(n, 128, 2048, 0.6, 1.2), abs=1e-12)
        assert fs.mu(n) == pytest.approx(sd3_shift(n, 128, 2048, 0.6, 1.2), abs=1e-12)


@pytest.mark.parametrize("cfg", [{"shift": 3.0}, {"use_dynamic_shifting": True}])
def test_training_grid_and_scale_noise_equal_diffusers(cfg):
    """The training grid (attacks, the classifier) is the scheduler's own, and noise_to is scale_noise."""
    sched = diffusers.FlowMatchEulerDiscreteScheduler(**cfg)
    path = _ours(cfg, "sd3").path()
    assert torch.allclose(path.sigma, sched.sigmas.flip(0).double(), atol=1e-6, rtol=0)  # float32 there
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 8, generator=g)
    for i in (0, 99, 500, 998):
        t = sched.timesteps[sched.timesteps.numel() - 1 - i]
        ref = sched.scale_noise(x0, t.reshape(1), eps)
        got = noise_to(x0.double(), eps.double(), *path.at(i))
        assert (got - ref.double()).abs().max() < 2e-6, i


def _velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A smooth, time-dependent stand-in for a transformer's velocity."""
    return torch.tanh(x) * (t.reshape(-1, 1, 1, 1).to(x.dtype) / 1000) - 0.3 * x


@pytest.mark.parametrize("cfg,pipeline,seq_len", CASES[:3])
def test_cpaudit_sampler_equals_the_scheduler_loop(cfg, pipeline, seq_len):
    """sample_batch on the sampling path, time input 1000 sigma, equals the pipelines' loop of
    scheduler.step(v(x, t), t, x) from the same x_T."""
    from cpaudit.models.denoise import PairModel

    fs, steps, seeds = _ours(cfg, pipeline), 12, [3, 4]
    path = fs.sampling_path(steps, seq_len)
    model = PairModel(_velocity, path, "flow")
    ours = sample_batch(model, path, (2, 4, 4), seeds, SamplerConfig(steps=steps, clip=False)).images
    sched = diffusers.FlowMatchEulerDiscreteScheduler(**cfg)
    c = sched.config
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift

    mu = (
        calculate_shift(seq_len, c.base_image_seq_len, c.max_image_seq_len, c.base_shift, c.max_shift)
        if c.use_dynamic_shifting
        else None
    )
    sched.set_timesteps(steps, sigmas=np.linspace(1.0, 1 / steps, steps) if pipeline == "flux" else None, mu=mu)
    x = torch.stack([torch.randn((2, 4, 4), generator=torch_generator(s)) for s in seeds])
    for t in sched.timesteps:
        x = sched.step(_velocity(x, t.expand(2)), t, x).prev_sample
    assert (ours - x).abs().max() < 1e-5


def test_the_time_input_reads_back_as_sigma_off_the_grid():
    fs = FlowSchedule(shift=3.0)
    path = fs.sampling_path(7, 64)
    for i in range(path.T):
        a, s = fs.path().coefficients(path.times(i, 3))  # read on the training grid: same noise level
        assert (a, s) == pytest.approx(path.at(i), abs=1e-12)
    a, s = fs.path().coefficients(torch.tensor([100.0, 500.0], dtype=torch.float64))
    assert torch.allclose(s, torch.tensor([0.1, 0.5], dtype=torch.float64)) and torch.allclose(
        a + s, torch.ones(2, dtype=torch.float64)
    )


@pytest.mark.parametrize("sigma", [0.5, 0.99, 0.999, 0.9999])
def test_a_guided_pair_handed_back_as_a_velocity_takes_the_same_step(sigma):
    """With eps_hat' = eps_hat + d (x_t fixed), the velocity changes by d / (1 - sigma); the scheduler's Euler
    step with it lands where cpaudit's step of the guided pair does, however close sigma is to 1."""
    g = torch.Generator().manual_seed(1)
    x, v, d = (torch.randn(2, 4, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
    a, s, s_next = 1 - sigma, sigma, sigma * 0.9
    pred = prediction_pair(v, x, a, s, "flow")
    guided = Pred((x - s * (pred.eps + d)) / a, pred.eps + d)
    delta = output_of_pair(guided, a, s, "flow") - output_of_pair(pred, a, s, "flow")
    assert torch.allclose(delta, d / (1 - sigma), rtol=1e-6)
    euler = x + (s_next - s) * (v + delta)
    ours = ddim_step(x, guided, (a, s), (1 - s_next, s_next), eta=0.0, clip=False)
    assert (euler - ours).abs().max() / ours.abs().max() < 1e-9


def test_guidance_does_nothing_at_sigma_one():
    """At sigma = 1 (alpha = 0) x_t is the noise itself: CPSample does not fire (protection.py), so the first
    step of every SD3 / FLUX run is unguided and nothing divides by 1 - sigma = 0."""
    from cpaudit.sampling.protection import Protection, protect_pred

    x = torch.randn(3, 4, 4, 4)
    pred = prediction_pair(torch.randn_like(x), x, 0.0, 1.0, "flow")
    out, fired = protect_pred(
        pred, x, torch.full((3,), 1000.0), (0.0, 1.0), lambda z, t: z.flatten(1).sum(1), Protection(scale=50.0)
    )
    assert not fired.any() and torch.equal(out.eps, pred.eps) and torch.equal(out.x0, pred.x0)


@pytest.mark.parametrize(
    "key,value",
    [
        ("use_karras_sigmas", True),
        ("shift_terminal", 0.02),
        ("invert_sigmas", True),
        ("stochastic_sampling", True),
        ("time_shift_type", "linear"),
    ],
)
def test_unreproduced_scheduler_options_are_refused_in_one_line(key, value):
    cfg = {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0, key: value}
    with pytest.raises(InputError) as e:
        flow_schedule_from_config(cfg, "scheduler/scheduler_config.json", "sd3")
    assert key in str(e.value) and "\n" not in str(e.value)


def test_a_vp_scheduler_is_refused_for_a_flow_pipeline():
    with pytest.raises(InputError, match="FlowMatchEulerDiscreteScheduler"):
        flow_schedule_from_config({"_class_name": "DDIMScheduler"}, "scheduler_config.json", "flux")


def test_schedule_round_trips_through_its_record():
    from cpaudit.core.schedules import schedule_from_dict

    fs = FlowSchedule(shift=3.0, dynamic=True, pipeline="flux")
    assert schedule_from_dict(fs.to_dict()) == fs
