"""Delayed and opposite classifier-free guidance (sampling/cfg_schedule.py): the per-step scale, and golden runs
on a tiny Stable Diffusion pipeline against plain guidance and the one-branch samplers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from cpaudit.errors import ConfigError
from cpaudit.models.load import load_model
from cpaudit.sampling.cfg_schedule import CfgSchedule
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.draw import draw_run
from cpaudit.sampling.sampler import SamplerConfig
from tests.models.test_sd_pipeline import PROMPTS, SD_SCHEDULE, _components, _perturb

pytest.importorskip("diffusers")
STEPS = 6


def test_the_early_phase_is_the_noisiest_fraction_until_of_the_time():
    s = CfgSchedule("delayed", until=0.5, early_scale=0.0)
    t = torch.tensor([999, 501, 500, 0])
    assert s.early(t).tolist() == [True, True, False, False]  # the authors' `t > guidance_change_step` at 500
    assert s.scale_at(torch.full((3,), 700), 7.5) == 0.0 and s.scale_at(torch.full((3,), 300), 7.5) == 7.5
    mixed = s.scale_at(torch.tensor([700, 300]), 7.5)
    assert isinstance(mixed, torch.Tensor) and mixed.tolist() == [0.0, 7.5]
    assert not CfgSchedule("delayed", 0.0, 0.0).early(torch.tensor([999, 1000])).any()
    assert CfgSchedule("delayed", 1.0, 0.0).early(torch.tensor([0, 999])).all()


def test_the_modes_defaults_are_the_tunes_choices_and_bad_settings_are_refused():
    """The defaults are `cpaudit tune`'s choices on the text demo's model (benchmarks/text_guidance_tune.py): delayed
    from the first round, opposite from the second (its wider grid), as their tune.json records them."""
    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
    chosen = {
        "delayed": json.loads((results / "text_guidance_tune" / "tune.json").read_text())["defences"][
            "delayed guidance"
        ],
        "opposite": json.loads((results / "text_guidance_tune2" / "tune.json").read_text())["defences"][
            "opposite guidance"
        ],
    }
    for mode, record in chosen.items():
        assert CfgSchedule(mode).resolved().to_dict() == record["setting"]["cfg_schedule"]  # type: ignore[arg-type]
    opposite = CfgSchedule("opposite").resolved()
    assert opposite.scale_at(torch.full((2,), 900), 7.5) == -2.0  # a negative scale early
    for bad in (
        dict(mode="later"),
        dict(until=1.5),
        dict(early_scale=2.0),
        dict(mode="opposite", early_scale=0.5),
        dict(early_scale=float("nan")),
    ):
        with pytest.raises(ConfigError):
            CfgSchedule(**bad)


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    from cpaudit.models.tiny_sd import save_pipeline

    folder = tmp_path_factory.mktemp("sd-cfg")
    unet, vae, te, tok = _components()
    _perturb(unet, 1)
    save_pipeline(folder, unet, vae, te, tok, SD_SCHEDULE)
    return load_model(folder)


def _draw(model, conditions: Conditions) -> torch.Tensor:
    return draw_run(model, [0, 1, 2], SamplerConfig(steps=STEPS), conditions=conditions).images


def test_delayed_guidance_until_0_is_plain_guidance_and_until_1_the_one_branch_sampler(sd):
    plain = Conditions(tuple(PROMPTS), 3.0)
    images = _draw(sd, plain)
    assert torch.equal(_draw(sd, replace(plain, cfg_schedule=CfgSchedule("delayed", 0.0, 0.0))), images)
    prompt_alone = _draw(sd, Conditions(tuple(PROMPTS), 1.0))  # w = 1 throughout
    assert torch.equal(_draw(sd, replace(plain, cfg_schedule=CfgSchedule("delayed", 1.0, 1.0))), prompt_alone)
    # w = 0 throughout: the unconditional half, i.e. the empty prompt alone
    uncond = _draw(sd, Conditions(("",) * 3, 1.0))
    torch.testing.assert_close(_draw(sd, replace(plain, cfg_schedule=CfgSchedule("delayed", 1.0, 0.0))), uncond)
    halfway = _draw(sd, replace(plain, cfg_schedule=CfgSchedule("delayed", 0.5, 0.0)))
    assert not torch.equal(halfway, images) and not torch.allclose(halfway, uncond)


def test_opposite_guidance_uses_the_negative_scale_early_and_the_usual_one_late(sd):
    net = sd.model
    cond = sd.prompts.condition(PROMPTS, 3.0)
    scheduled = replace(cond, cfg_schedule=CfgSchedule("opposite", 0.35, -2.0))
    x = torch.randn(3, *sd.space_shape, generator=torch.Generator().manual_seed(0))
    for t, w in ((900, -2.0), (100, 3.0)):
        times = torch.full((3,), t)
        u, c = net.halves(x, times, cond)
        assert torch.equal(net(x, times, scheduled), u + w * (c - u))
    assert sd.schedule.T == 1000


@pytest.mark.parametrize("family", ["sd3", "flux"])
def test_the_flow_transformers_read_the_schedule_too(tmp_path, family):
    """SD3's doubled batch and FLUX's true guidance (two calls, schnell's shape): plain at until 0, the early
    scale on the noisy steps, the one-branch call at w = 1."""
    from tests.models.test_flow_pipeline import FLUX_CFG, SD3_CFG, _build
    from tests.models.test_flow_pipeline import PROMPTS as FLOW_PROMPTS

    cfg = SD3_CFG if family == "sd3" else replace(FLUX_CFG, guidance_embeds=False, shift=1.0)
    model = load_model(_build(tmp_path / family, cfg))
    net = model.model
    cond = model.prompts.condition(FLOW_PROMPTS[:2], 3.0)
    if family == "flux":
        cond = replace(cond, guidance_scale=3.0)  # true classifier-free guidance against the empty prompt
    x = torch.randn(2, *model.space_shape, generator=torch.Generator().manual_seed(0))
    noisy, clean = torch.full((2,), 900.0, dtype=torch.float64), torch.full((2,), 100.0, dtype=torch.float64)
    plain = net(x, noisy, cond)
    assert torch.equal(net(x, noisy, replace(cond, cfg_schedule=CfgSchedule("delayed", 0.0, 0.0))), plain)
    u, c = net.halves(x, noisy, cond)
    torch.testing.assert_close(
        net(x, noisy, replace(cond, cfg_schedule=CfgSchedule("opposite", 0.35, -2.0))), u - 2 * (c - u)
    )
    late = net(x, clean, replace(cond, cfg_schedule=CfgSchedule("opposite", 0.35, -2.0)))
    assert torch.equal(late, net(x, clean, cond))
    early_prompt = net(x, noisy, replace(cond, cfg_schedule=CfgSchedule("delayed", 0.5, 1.0)))
    assert torch.equal(early_prompt, net(x, noisy, cond.prompt_only()))
