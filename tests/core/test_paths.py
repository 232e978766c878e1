"""Golden tests: cpaudit's Gaussian-path core (core/paths.py, core/steps.py, core/schedules.py) against
diffusers' own schedulers, conversion by conversion.

- add_noise of DDPM/DDIM schedulers == noise_to(x0, eps, *Schedule(...).path().at(t));
- DDIMScheduler.step (eta 0 and eta 0.5, every prediction type) == ddim_step on prediction_pair;
- DDPMScheduler.step (fixed_small, strided) == ddpm_step with the same generator's noise;
- EulerDiscreteScheduler.step (VE coordinates, Karras or not) == ddim_step between the matching VP points;
- FlowMatchEulerDiscreteScheduler: flow_path's grid, time_shift, flux_mu, and one Euler step == ddim_step.

Tolerances. diffusers builds its schedules in float32 (betas as float32 linspace, alphas_cumprod a float32
cumprod over up to 1000 factors) and steps in float32; cpaudit builds them in float64 and the cpaudit side of
each comparison here is run in float64 on the same (float32-representable) inputs. So the differences measured
are diffusers' float32 rounding: ~1e-7 relative per operation, up to ~1e-6 relative in alphas_cumprod after
the cumprod (more where abar is tiny: at t = 999 of the linear schedule abar = 4e-5 and its float32 cumprod
carries ~1e-5 relative error, of which sqrt(abar) carries half). Each comparison therefore allows an error
relative to the size of the values compared (`assert_close` below: |a - b| <= rtol * max(1, max|b|)), with
rtol a few times the measured worst case and still far below what a wrong formula gives (O(1e-2) or more: a
wrong coefficient, an off-by-one timestep, a missing square root).
"""

from __future__ import annotations

import ast
import math

import pytest
import torch

from cpaudit.core.paths import (
    PREDICTION_TYPES,
    Pred,
    flow_path,
    flow_sigmas,
    flux_mu,
    karras_sigmas,
    noise_to,
    output_of_pair,
    prediction_pair,
    time_shift,
    ve_path,
)
from cpaudit.core.schedules import CLEAN, Schedule, Spacing, step_plan
from cpaudit.core.steps import ddim_step, ddpm_step

diffusers = pytest.importorskip("diffusers")  # the reference; cpaudit's core itself needs no diffusers

SHAPE = (2, 3, 4, 4)

# One DDIM / DDPM step, diffusers (float32) against cpaudit (float64), relative to max|ref|. The largest float32
# errors: 1 - abar_t for t <= 1 (abar ~ 0.998, so beta_prod_t = 1.7e-3 keeps ~3e-5 of its relative precision)
# under "sample" prediction, where eps_hat = (x_t - alpha x0_hat) / sigma_t; and 1 / sqrt(abar_t) at t = 999 under
# "epsilon". Measured worst case 1.6e-5 (scaled_linear, sample, t = 1); a wrong coefficient is off by >= 1e-2.
STEP_RTOL = 1e-4


def assert_close(got: torch.Tensor, ref: torch.Tensor, rtol: float, what: str = "") -> float:
    """|got - ref| <= rtol * max(1, max|ref|), compared in float64; returns the max abs difference."""
    got, ref = got.to(torch.float64), ref.to(torch.float64)
    assert got.shape == ref.shape, what
    diff = float((got - ref).abs().max())
    scale = max(1.0, float(ref.abs().max()))
    assert diff <= rtol * scale, f"{what}: max |diff| = {diff:.3e} > {rtol:.1e} * {scale:.3g}"
    return diff


def randn(seed: int, shape=SHAPE) -> torch.Tensor:
    """float32 noise (exactly representable in float64, so both sides see the same numbers)."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)


# A schedule diffusers knows by no name, for `trained_betas`: DDPMScheduler's "sigmoid" betas.
SIGMOID_BETAS = tuple((torch.sigmoid(torch.linspace(-6, 6, 1000, dtype=torch.float64)) * (0.02 - 1e-4) + 1e-4).tolist())

# (name, cpaudit Schedule, diffusers scheduler kwargs)
SCHEDULES = {
    "linear": (Schedule("linear"), {"beta_schedule": "linear"}),
    "scaled_linear": (
        Schedule("scaled_linear", 1000, 0.00085, 0.012),
        {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012},
    ),
    "cosine": (Schedule("cosine"), {"beta_schedule": "squaredcos_cap_v2"}),
    "zero_snr": (
        Schedule("scaled_linear", 1000, 0.00085, 0.012, zero_snr=True),
        {
            "beta_schedule": "scaled_linear",
            "beta_start": 0.00085,
            "beta_end": 0.012,
            "rescale_betas_zero_snr": True,
            "prediction_type": "v_prediction",
        },
    ),
    "trained": (Schedule("trained", trained_betas=SIGMOID_BETAS), {"trained_betas": list(SIGMOID_BETAS)}),
}


# ---------------------------------------------------------------------------------------------------------------
# 1. add_noise


@pytest.mark.parametrize("cls", ["DDPMScheduler", "DDIMScheduler"])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_noise_to_equals_add_noise(cls, name):
    schedule, kwargs = SCHEDULES[name]
    sched = getattr(diffusers, cls)(**kwargs)
    path = schedule.path()
    # The betas themselves: float32 vs float64, measured <= 2.2e-7 relative element by element. Rescaled to zero
    # SNR in float32, 1 - abar_i / abar_{i-1} cancels (measured 2.3e-4 relative at beta_9 ~ 1e-3, 7e-6 absolute
    # at the end), so there the rescaling is checked in float64 against diffusers' own function instead.
    betas, ref_betas = schedule.betas(), sched.betas.double()
    if schedule.zero_snr:
        from diffusers.schedulers.scheduling_ddim import (
            rescale_zero_terminal_snr as ref_rescale,
        )

        unscaled = Schedule(schedule.kind, schedule.T, schedule.beta_start, schedule.beta_end).betas()
        assert torch.allclose(betas, ref_rescale(unscaled.clone()), rtol=0, atol=1e-12)
        assert float(betas[-1]) == 1.0 and float(ref_betas[-1]) == 1.0
        assert float((betas - ref_betas).abs().max()) < 2e-5
    else:
        rel = float(((betas - ref_betas).abs() / ref_betas).max())
        assert rel < 1e-6, f"{name} betas: {rel:.2e} relative"
    # alphas_cumprod: float32 cumprod of 1000 factors vs float64 (measured <= 3e-6 relative to max 1).
    assert_close(path.alpha**2, sched.alphas_cumprod, 1e-5, f"{name} alphas_cumprod")
    x0, eps = randn(0), randn(1)
    for t in (0, 1, 250, 500, 777, 998, 999):
        ref = sched.add_noise(x0, eps, torch.tensor([t]))
        got = noise_to(x0.double(), eps.double(), *path.at(t))
        # ~1e-5 relative: diffusers' float32 sqrt(abar) (see the module docstring).
        assert_close(got, ref, 1e-5, f"{name} add_noise t={t}")
        # A batch of per-row timesteps: noise_to's (N,) coefficients against add_noise's per-row gather.
        ts = torch.tensor([t, 0])
        ref_rows = sched.add_noise(x0, eps, ts)
        got_rows = noise_to(x0.double(), eps.double(), path.alpha[ts], path.sigma[ts])
        assert_close(got_rows, ref_rows, 1e-5, f"{name} add_noise rows t={t}")
    if schedule.zero_snr:
        # Zero terminal SNR: alpha_{T-1} is exactly 0 (and sigma exactly 1) in cpaudit, so x_{T-1} is the noise
        # itself, bit for bit, as diffusers' add_noise gives it too.
        assert path.at(999) == (0.0, 1.0)
        assert float(sched.alphas_cumprod[-1]) == 0.0
        assert torch.equal(noise_to(x0, eps, *path.at(999)), eps)
        assert torch.equal(sched.add_noise(x0, eps, torch.tensor([999])), eps)
    else:
        assert path.at(999)[0] > 0


# ---------------------------------------------------------------------------------------------------------------
# 2. DDIM step

# (schedule, spacing kind, steps_offset, set_alpha_to_one): SD 1.x's leading + offset 1 + alpha_0, the default
# leading, linspace, and zero-SNR's trailing (Lin et al. 2024, which starts at t = 999 where alpha = 0).
DDIM_CASES = [
    ("linear", "leading", 0, True),
    ("scaled_linear", "leading", 1, False),
    ("cosine", "linspace", 0, True),
    ("zero_snr", "trailing", 0, True),
]


def _ddim(name, spacing, offset, one, kind, steps):
    schedule, kwargs = SCHEDULES[name]
    kwargs = {**kwargs, "prediction_type": kind}
    sched = diffusers.DDIMScheduler(
        **kwargs, clip_sample=False, set_alpha_to_one=one, steps_offset=offset, timestep_spacing=spacing
    )
    sched.set_timesteps(steps)
    path = schedule.path()
    plan = step_plan(path, steps, Spacing(spacing, offset, one))
    assert [p[0] for p in plan] == sched.timesteps.tolist()
    return sched, path, plan


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("name, spacing, offset, one", DDIM_CASES)
def test_ddim_step_equals_diffusers(name, spacing, offset, one, kind):
    if name == "zero_snr" and kind == "epsilon":
        pytest.skip("epsilon prediction at alpha = 0 has no x0 (diffusers divides by 0 there); zero SNR goes with v")
    sched, _, plan = _ddim(name, spacing, offset, one, kind, 10)
    for i, (t, at, at_s) in enumerate(plan):
        x_t, out = randn(10 + i), randn(100 + i)
        ref = sched.step(out, t, x_t, eta=0.0).prev_sample
        pred = prediction_pair(out.double(), x_t.double(), *at, kind)
        got = ddim_step(x_t.double(), pred, at, at_s, eta=0.0, clip=False)
        assert_close(got, ref, STEP_RTOL, f"{name} {kind} ddim t={t}")
    if name == "zero_snr":
        assert plan[0][0] == 999 and plan[0][1] == (0.0, 1.0)


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("name, spacing, offset, one", [DDIM_CASES[1], DDIM_CASES[3]])
def test_ddim_eta_half_equals_diffusers(name, spacing, offset, one, kind):
    """eta = 0.5: the deterministic part, the noise std eta sqrt(_get_variance(t, prev)) (Song et al. eq. 16)
    and the whole step with diffusers' own variance_noise."""
    if name == "zero_snr" and kind == "epsilon":
        pytest.skip("epsilon prediction at alpha = 0 has no x0")
    eta = 0.5
    sched, _, plan = _ddim(name, spacing, offset, one, kind, 10)
    T, N = 1000, 10
    for i, (t, at, at_s) in enumerate(plan):
        x_t, out, z = randn(10 + i), randn(100 + i), randn(1000 + i)
        prev = t - T // N
        std_ref = eta * float(sched._get_variance(t, prev)) ** 0.5
        det_ref = sched.step(out, t, x_t, eta=eta, variance_noise=torch.zeros_like(z)).prev_sample
        full_ref = sched.step(out, t, x_t, eta=eta, variance_noise=z).prev_sample
        pred = prediction_pair(out.double(), x_t.double(), *at, kind)
        det = ddim_step(
            x_t.double(), pred, at, at_s, eta=eta, noise=torch.zeros(SHAPE, dtype=torch.float64), clip=False
        )
        full = ddim_step(x_t.double(), pred, at, at_s, eta=eta, noise=z.double(), clip=False)
        # The noise std ddim_step used: (full - det) / z, the same on every element.
        std = float(((full - det) / z.double()).mean())
        assert math.isclose(std, std_ref, rel_tol=1e-5, abs_tol=1e-7), (t, std, std_ref)
        assert_close(det, det_ref, STEP_RTOL, f"{name} {kind} deterministic part t={t}")
        assert_close(full, full_ref, STEP_RTOL, f"{name} {kind} eta=0.5 t={t}")


# ---------------------------------------------------------------------------------------------------------------
# 3. DDPM step


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("name, spacing", [("linear", "leading"), ("cosine", "leading"), ("zero_snr", "trailing")])
def test_ddpm_step_equals_diffusers(name, spacing, kind):
    """Strided ancestral DDPM (8 steps of 1000): diffusers' mean coefficients and fixed_small variance against
    ddpm_step's path form, with diffusers' generator noise drawn here by the same call (randn_tensor:
    torch.randn(model_output.shape, generator, dtype=model_output.dtype) on the CPU, only when t > 0)."""
    if name == "zero_snr" and kind == "epsilon":
        pytest.skip("epsilon prediction at alpha = 0 has no x0")
    schedule, kwargs = SCHEDULES[name]
    kwargs = {**kwargs, "prediction_type": kind}
    sched = diffusers.DDPMScheduler(**kwargs, variance_type="fixed_small", clip_sample=False, timestep_spacing=spacing)
    steps = 8
    sched.set_timesteps(steps)
    path = schedule.path()
    ts = sched.timesteps.tolist()
    # trailing 8 of 1000 has the constant stride 125, so step_plan's t - T // steps is DDPM's next timestep too.
    plan = step_plan(path, steps, Spacing(spacing, 0, True))
    assert [p[0] for p in plan] == ts
    for i, (t, at, at_s) in enumerate(plan):
        prev = int(sched.previous_timestep(t))
        assert at_s == (path.at(prev) if prev >= 0 else CLEAN)
        x_t, out = randn(20 + i), randn(200 + i)
        ref = sched.step(out, t, x_t, generator=torch.Generator().manual_seed(7 + i)).prev_sample
        noise = torch.randn(out.shape, generator=torch.Generator().manual_seed(7 + i), dtype=out.dtype)
        pred = prediction_pair(out.double(), x_t.double(), *at, kind)
        got = ddpm_step(x_t.double(), pred, at, at_s, noise=noise.double() if t > 0 else None, clip=False)
        # Same float32 schedule error as DDIM (STEP_RTOL), the noise being identical.
        assert_close(got, ref, STEP_RTOL, f"{name} {kind} ddpm t={t}")
    if name == "zero_snr":
        assert plan[0][1] == (0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# 4. Euler (VE coordinates) and Karras sigmas


def vp_point(s: float) -> tuple[float, float]:
    """The VP point of a VE noise level s = sigma / alpha: (1, s) / sqrt(1 + s^2); s = 0 is the clean image."""
    r = (1 + s * s) ** 0.5
    return 1 / r, s / r


@pytest.mark.parametrize("karras", [False, True])
@pytest.mark.parametrize("kind", ["epsilon", "v_prediction"])
def test_euler_step_is_ddim_between_vp_points(kind, karras):
    """EulerDiscreteScheduler keeps x_ve = x_vp / alpha with sigma_ve = sigma / alpha and feeds the UNet
    scale_model_input(x_ve) = x_vp. Its Euler step on the probability-flow ODE, x_ve' = x_ve + (s' - s)
    (x_ve - x0_hat) / s = x0_hat + s' eps_hat, is DDIM: alpha' x_ve' = alpha' x0_hat + sigma' eps_hat."""
    schedule, kwargs = SCHEDULES["scaled_linear"]
    sched = diffusers.EulerDiscreteScheduler(**kwargs, prediction_type=kind, use_karras_sigmas=karras)
    steps = 9
    sched.set_timesteps(steps)
    path = schedule.path()
    ve = path.sigma / path.alpha  # the VE sigma of every training index
    if karras:
        # diffusers' _convert_to_karras from the interpolated sigmas' ends: with the default linspace spacing,
        # the VE sigmas of t = 999 and t = 0. float32 schedule on diffusers' side: ~1e-5 relative.
        grid = karras_sigmas(steps, float(ve[0]), float(ve[-1]))
        assert_close(grid, sched.sigmas[:-1], 1e-5, "karras grid")
        assert torch.all(grid[1:] < grid[:-1])
    else:
        # linspace spacing: t = 999 ... 0 at 9 points, np.interp of the training sigmas at them.
        tgrid = torch.linspace(999, 0, steps, dtype=torch.float64)
        lo = tgrid.floor().long()
        w = tgrid - lo
        grid = ve[lo] * (1 - w) + ve[(lo + 1).clamp(max=999)] * w
        assert_close(grid, sched.sigmas[:-1], 1e-5, "interpolated grid")
    assert float(sched.sigmas[-1]) == 0.0
    sig = sched.sigmas.double().tolist()
    for i, t in enumerate(sched.timesteps):
        s, s_next = sig[i], sig[i + 1]
        at, at_s = vp_point(s), vp_point(s_next)
        x_vp, out = randn(30 + i), randn(300 + i)
        x_ve = (x_vp.double() / at[0]).float()
        # What the UNet sees is the VP point's x_t.
        assert_close(sched.scale_model_input(x_ve, t), x_vp, 1e-6, "scale_model_input")
        ref_ve = sched.step(out, t, x_ve).prev_sample
        pred = prediction_pair(out.double(), x_ve.double() * at[0], *at, kind)
        got = ddim_step(x_ve.double() * at[0], pred, at, at_s, eta=0.0, clip=False)
        if s_next == 0.0:
            assert at_s == CLEAN  # the last Euler step lands on the clean image, as DDIM's does
        # float32 on diffusers' side, x_ve up to ~15 x_vp at sigma_ve = 14.6: 1e-5 relative.
        assert_close(got, ref_ve.double() * at_s[0], 1e-5, f"euler {kind} karras={karras} step {i}")


# ---------------------------------------------------------------------------------------------------------------
# 5. Rectified flow


def _diffusers_calculate_shift():
    """diffusers' pipeline_flux.calculate_shift, compiled from its source without importing the pipeline module
    (which imports transformers: many seconds)."""
    import pathlib

    import diffusers.pipelines as pipes

    src = (pathlib.Path(pipes.__file__).parent / "flux" / "pipeline_flux.py").read_text()
    fn = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == "calculate_shift")
    ns: dict = {}
    exec(compile(ast.Module([fn], type_ignores=[]), "pipeline_flux.py", "exec"), ns)  # noqa: S102 (diffusers' own source)
    return ns["calculate_shift"]


def test_flow_path_is_the_flow_match_training_grid():
    sched = diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0)
    path = flow_path(T=1000, shift=3.0)
    assert path.kind == "flow" and path.T == 1000
    # diffusers stores the training sigmas descending (sigmas[0] = 1, the pure-noise end); cpaudit's index 0 is
    # the least noisy, as for VP grids. float32 on diffusers' side: 1e-6.
    assert_close(path.sigma, sched.sigmas.flip(0), 1e-6, "flow sigmas")
    assert_close(path.model_t, sched.timesteps.flip(0), 1e-6, "flow timesteps")
    assert torch.equal(path.model_t, 1000 * path.sigma)
    assert torch.equal(path.alpha, 1 - path.sigma)
    assert path.at(999) == (0.0, 1.0)
    assert torch.equal(flow_sigmas(1000, 1.0), torch.arange(1, 1001, dtype=torch.float64) / 1000)


@pytest.mark.parametrize("seq_len", [256, 1024, 4096, 729])
def test_time_shift_and_flux_mu_equal_diffusers(seq_len):
    mu = flux_mu(seq_len)
    assert mu == pytest.approx(_diffusers_calculate_shift()(seq_len), abs=1e-12)
    sched = diffusers.FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True)
    n = 12
    sched.set_timesteps(n, mu=mu)
    # set_timesteps: np.linspace(1000 sigma_max, 1000 sigma_min, n) / 1000 with the (unshifted) training range
    # [1/1000, 1], then the exponential shift; float32 on diffusers' side: 1e-6.
    base = torch.linspace(1.0, 1e-3, n, dtype=torch.float64)
    assert_close(time_shift(mu, base), sched.sigmas[:-1], 1e-6, f"time_shift mu={mu}")
    assert_close(time_shift(mu, base), sched.time_shift(mu, 1.0, base), 1e-12, "time_shift formula")
    assert float(time_shift(mu, torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("dynamic", [False, True])
def test_flow_euler_step_is_ddim_on_the_flow_path(dynamic):
    """FlowMatchEulerDiscreteScheduler.step, x + (s' - s) v, is ddim_step on the pair of the velocity v."""
    if dynamic:
        sched = diffusers.FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True)
        sched.set_timesteps(7, mu=flux_mu(1024))
    else:
        sched = diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0)
        sched.set_timesteps(7)
    sig = sched.sigmas.double().tolist()
    assert sig[0] == 1.0 and sig[-1] == 0.0
    for i, t in enumerate(sched.timesteps):
        s, s_next = sig[i], sig[i + 1]
        x, v = randn(40 + i), randn(400 + i)
        ref = sched.step(v, t, x).prev_sample
        pred = prediction_pair(v.double(), x.double(), 1 - s, s, "flow")
        got = ddim_step(x.double(), pred, (1 - s, s), (1 - s_next, s_next), clip=False)
        # Same sigmas on both sides (read from the scheduler); float32 arithmetic in diffusers: 1e-6.
        assert_close(got, ref, 1e-6, f"flow step {i}")


VP_POINTS = [(1.0, 0.0), (0.8, 0.6), (0.1, 0.99**0.5), (0.0, 1.0)]
FLOW_POINTS = [(1.0, 0.0), (0.75, 0.25), (0.3, 0.7), (0.0, 1.0)]


@pytest.mark.parametrize("kind", PREDICTION_TYPES)
def test_output_of_pair_round_trips(kind):
    """output_of_pair(prediction_pair(out)) == out, and the pair lies on x_t = alpha x0 + sigma eps, wherever
    the kind defines the pair (epsilon needs alpha > 0, sample sigma > 0)."""
    points = FLOW_POINTS if kind == "flow" else VP_POINTS
    x_t, out = randn(50).double(), randn(51).double()
    tried = 0
    for a, s in points:
        if (kind == "epsilon" and a == 0) or (kind == "sample" and s == 0):
            continue
        tried += 1
        pred = prediction_pair(out, x_t, a, s, kind)
        assert isinstance(pred, Pred)
        assert torch.allclose(output_of_pair(pred, a, s, kind), out, atol=1e-12, rtol=0), (kind, a, s)
        assert torch.allclose(a * pred.x0 + s * pred.eps, x_t, atol=1e-12, rtol=0), (kind, a, s)
        # Per-row coefficients give the same pair as the scalars.
        rows = torch.tensor([a, a], dtype=torch.float64), torch.tensor([s, s], dtype=torch.float64)
        pred_rows = prediction_pair(out, x_t, *rows, kind)
        assert torch.allclose(pred_rows.x0, pred.x0, atol=1e-12) and torch.allclose(pred_rows.eps, pred.eps, atol=1e-12)
    assert tried >= 3
    with pytest.raises(ValueError):
        prediction_pair(out, x_t, 0.8, 0.6, "score")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        output_of_pair(Pred(out, out), 0.8, 0.6, "score")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------
# 6. ve_path and karras_sigmas by hand


def test_karras_sigmas_golden():
    # rho = 1: a straight line from sigma_max to sigma_min.
    assert torch.allclose(karras_sigmas(3, 1.0, 3.0, rho=1.0), torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64))
    # rho = 2: sqrt-spaced 3, 2, 1 squared.
    assert torch.allclose(karras_sigmas(3, 1.0, 9.0, rho=2.0), torch.tensor([9.0, 4.0, 1.0], dtype=torch.float64))
    # rho = 7 (the default): sigma_max = 2^7, sigma_min = 1, midpoint 1.5^7 = 17.0859375.
    g = karras_sigmas(3, 1.0, 128.0)
    assert g.dtype == torch.float64
    assert torch.allclose(g, torch.tensor([128.0, 17.0859375, 1.0], dtype=torch.float64), rtol=1e-14, atol=0)
    assert torch.allclose(karras_sigmas(2, 0.002, 80.0), torch.tensor([80.0, 0.002], dtype=torch.float64), rtol=1e-13)


def test_ve_path_golden():
    path = ve_path(torch.tensor([1.0, math.e**4, math.e**8]))
    assert path.kind == "ve" and path.T == 3 and path.alpha.dtype == torch.float64
    assert torch.equal(path.alpha, torch.ones(3, dtype=torch.float64))
    assert torch.allclose(path.model_t, torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), atol=1e-6)  # log(s) / 4
    assert torch.allclose(path.log_snr(), torch.tensor([0.0, -8.0, -16.0], dtype=torch.float64), atol=1e-6)
    assert path.at(0) == (1.0, 1.0)
    x0, eps = torch.ones(1, 2), torch.full((1, 2), 2.0)
    assert torch.allclose(noise_to(x0, eps, *path.at(1)), torch.full((1, 2), 1 + 2 * math.e**4))
    # A VE DDIM step is the same one formula: x_s = x0_hat + sigma_s eps_hat.
    pred = prediction_pair(torch.full((1, 2), 0.5), torch.full((1, 2), 3.0), *path.at(0), "epsilon")
    assert torch.allclose(pred.x0, torch.full((1, 2), 2.5))
    assert torch.allclose(
        ddim_step(torch.full((1, 2), 3.0), pred, path.at(0), (1.0, 0.25), clip=False),
        torch.full((1, 2), 2.5 + 0.25 * 0.5),
    )
    # karras_sigmas comes in sampling order (descending); a ve_path takes the grid least noisy first, as every
    # GaussianPath does (index 0 the cleanest), so a Karras grid goes in flipped.
    grid = ve_path(karras_sigmas(3, 1.0, 128.0).flip(0))
    assert torch.all(grid.sigma[1:] > grid.sigma[:-1]) and grid.at(2) == (1.0, 128.0)
