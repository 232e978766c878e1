"""`--scheduler native` on SD3 / FLUX folders (sampling/native_flow.py): diffusers' own pipeline and
FlowMatchEulerDiscreteScheduler give cpaudit's sampler's images with protection off, and with a guide the
velocity handed back (change in eps / (1 - sigma)) takes the step cpaudit's sampler takes with the guided pair."""

from dataclasses import replace

import pytest
import torch

from cpaudit.core.paths import Pred
from cpaudit.errors import InputError
from cpaudit.models.load import load_model
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.draw import draw_run
from cpaudit.sampling.sampler import SamplerConfig
from cpaudit.seeding import derive_seed, torch_generator

pytest.importorskip("diffusers")
from tests.models.test_flow_pipeline import FLUX_CFG, PROMPTS, SD3_CFG, _build  # noqa: E402

SEEDS = [11, 12, 13]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("native_flow")
    return {
        "sd3": _build(root / "sd3", SD3_CFG),
        "dev": _build(root / "dev", replace(FLUX_CFG, guidance_embeds=True, dynamic_shift=True)),
        "schnell": _build(root / "schnell", replace(FLUX_CFG, guidance_embeds=False, shift=1.0)),
    }


def _draw(model, scheduler: str, guidance: float, guide=None, steps: int = 5) -> torch.Tensor:
    b = draw_run(
        model,
        SEEDS,
        SamplerConfig(steps=steps),
        conditions=Conditions(tuple(PROMPTS), guidance),
        guide=guide,
        scheduler=scheduler,
    )
    assert b.finite.all()
    return b.images.clamp(-1, 1), b.fired


def _nudge(pred: Pred, x: torch.Tensor, t: torch.Tensor, at: tuple[float, float]) -> tuple[Pred, torch.Tensor]:
    """A guide that moves eps_hat by d with x_t fixed (as CPSample does), skipping alpha = 0 as CPSample does."""
    a, s = at
    if a <= 0:
        return pred, torch.zeros(x.shape[0], dtype=torch.bool)
    d = 0.2 * torch.tanh(x)
    return Pred((x - s * (pred.eps + d)) / a, pred.eps + d), torch.ones(x.shape[0], dtype=torch.bool)


@pytest.mark.parametrize("which,guidance", [("sd3", 1.0), ("sd3", 4.0), ("dev", 3.5), ("schnell", 1.0)])
def test_native_equals_cpaudit_without_protection(folders, which, guidance):
    m = load_model(folders[which])
    native, _ = _draw(m, "native", guidance)
    ours, _ = _draw(m, "cpaudit", guidance)
    assert float((native - ours).abs().max()) < 1e-4


@pytest.mark.parametrize("which,guidance", [("sd3", 4.0), ("dev", 3.5)])
def test_a_guided_velocity_handed_back_takes_cpaudits_step(folders, which, guidance):
    """Every step but the first (sigma = 1, where nothing is guided) is guided, among them sigma near 1."""
    m = load_model(folders[which])
    native, fired_native = _draw(m, "native", guidance, guide=_nudge)
    ours, fired = _draw(m, "cpaudit", guidance, guide=_nudge)
    plain, _ = _draw(m, "cpaudit", guidance)
    assert fired.tolist() == fired_native.tolist() == [4] * len(SEEDS)
    assert float((native - ours).abs().max()) < 1e-4
    assert float((ours - plain).abs().max()) > 1e-2  # the guide did change the samples


def test_cpsample_with_flux_true_cfg_is_refused_natively(folders):
    m = load_model(folders["schnell"])
    with pytest.raises(InputError, match="true classifier-free guidance"):
        draw_run(
            m,
            SEEDS,
            SamplerConfig(steps=3),
            conditions=Conditions(tuple(PROMPTS), 3.0, negative_prompt=""),
            guide=_nudge,
            scheduler="native",
        )


@pytest.mark.parametrize("which,default", [("sd3", 7.0), ("dev", 3.5), ("schnell", 1.0)])
def test_guidance_defaults_to_the_pipelines(folders, which, default):
    """No --guidance-scale: the pipeline's own default (StableDiffusion3Pipeline 7.0, FLUX.1-dev's distilled 3.5,
    schnell none), not SD's 7.5."""
    from cpaudit.sampling.conditions import resolve_conditions

    m = load_model(folders[which])
    assert resolve_conditions(m, Conditions(tuple(PROMPTS), None)).guidance_scale == default
    assert resolve_conditions(m, Conditions(tuple(PROMPTS), 2.0)).guidance_scale == 2.0


def test_guidance_on_flux_without_a_guidance_embedding_is_true_cfg_against_the_empty_prompt(folders):
    m = load_model(folders["schnell"])
    cond = m.prompts.condition(list(PROMPTS), 3.0)
    empty = m.prompts.condition([""], 1.0)
    assert cond.guided and cond.guidance_scale == 3.0 and cond.guidance is None
    assert torch.equal(cond.uncond_embeds[0], empty.prompt_embeds[0])
    dev = load_model(folders["dev"]).prompts.condition(list(PROMPTS), 3.0)
    assert not dev.guided and dev.guidance == 3.0  # distilled: an input, no second branch


@pytest.mark.parametrize("which", ["sd3", "dev"])
def test_embedding_noise_reaches_every_text_encoder_on_flow_models(folders, which):
    """On SD3 / FLUX the pooled CLIP embedding is noised too (FLUX's CLIP reaches the transformer only through it),
    each sample from its own seed."""
    from cpaudit.sampling.prompt_defences import PromptDefence

    m = load_model(folders[which])
    plain = m.prompts.condition(list(PROMPTS), 3.0)
    d = PromptDefence("embedding-noise", sigma=0.5)
    a = d.condition(m, list(PROMPTS), SEEDS, 3.0)
    b = d.condition(m, list(PROMPTS), SEEDS, 3.0)
    assert torch.equal(a.pooled_prompt_embeds, b.pooled_prompt_embeds) and torch.equal(a.prompt_embeds, b.prompt_embeds)
    for field, tag in (("prompt_embeds", "embedding-noise"), ("pooled_prompt_embeds", "embedding-noise-pooled")):
        shape = getattr(plain, field).shape[1:]
        noise = torch.stack([torch.randn(shape, generator=torch_generator(derive_seed(s, tag))) for s in SEEDS])
        assert torch.allclose(getattr(a, field), getattr(plain, field) + 0.5 * noise, atol=1e-6), field
    assert torch.equal(a.uncond_embeds, plain.uncond_embeds)  # the unconditional branch is left alone
    c = d.condition(m, list(PROMPTS), [s + 100 for s in SEEDS], 3.0)
    assert not torch.equal(a.pooled_prompt_embeds, c.pooled_prompt_embeds)


def test_cpsample_on_a_flow_model_takes_the_flow_defaults():
    """Settings left unset take FLOW_KIND_DEFAULTS on SD3 / FLUX (chosen on the tiny FLUX model's tuning seeds),
    the latent defaults on SD / SDXL; set ones are kept."""
    from cpaudit.sampling.protection import FLOW_KIND_DEFAULTS, LATENT_KIND_DEFAULTS, Protection

    for kind, clf in (("learned", "some/classifier"), ("exact", "exact")):
        flow, latent = Protection(clf).in_space(True, flow=True), Protection(clf).in_space(True)
        assert flow.scale == FLOW_KIND_DEFAULTS[kind]["scale"] and latent.scale == LATENT_KIND_DEFAULTS[kind]["scale"]
        assert flow.to_dict()["defaults"] == "flow" and not flow.clip_x0
        assert Protection(clf, scale=7.0).in_space(True, flow=True).scale == 7.0
        assert flow.in_space(True).scale == LATENT_KIND_DEFAULTS[kind]["scale"]  # defaults follow the space
