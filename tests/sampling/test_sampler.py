import numpy as np
import pytest
import torch

from cpaudit.core.paths import prediction_pair
from cpaudit.models.load import load_model
from cpaudit.pipelines.sample import SampleOptions, sample
from cpaudit.sampling.protection import Protection
from cpaudit.sampling.sampler import SamplerConfig, sample_batch
from tests.conftest import SAMPLE_ATOL, assert_within_one_grey_level


def vp(abar: float) -> tuple[float, float]:
    return abar**0.5, (1 - abar) ** 0.5


def protect_eps(eps, x, t, abar, logit_fn, p):
    """protect_pred on an eps model's pair at a VP point: (guided eps, fired), the prediction as given where unguided."""
    from cpaudit.sampling.protection import protect_pred

    pred = prediction_pair(eps, x, *vp(abar), "epsilon")
    out, fired = protect_pred(pred, x, t, vp(abar), logit_fn, p)
    return (eps if out is pred else out.eps), fired


def test_same_seed_same_image_whatever_the_batch(tiny_model):
    """An image depends on its seed, not its batch: equal up to float32 rounding (SAMPLE_ATOL says why)."""
    m = load_model(tiny_model)
    denoise, path = m.pair_fn(), m.path
    seeds = [10, 11, 12, 13, 14]
    for cfg in (SamplerConfig(steps=10), SamplerConfig(steps=10, method="ddpm"), SamplerConfig(steps=10, eta=0.5)):
        whole = sample_batch(denoise, path, m.image_shape, seeds, cfg).images
        one_by_one = torch.cat([sample_batch(denoise, path, m.image_shape, [s], cfg).images for s in seeds])
        pairs = torch.cat([sample_batch(denoise, path, m.image_shape, seeds[i : i + 2], cfg).images for i in (0, 2, 4)])
        assert (whole - one_by_one).abs().max() <= SAMPLE_ATOL and (whole - pairs).abs().max() <= SAMPLE_ATOL
        # Other seeds are other images: the tolerance cannot hide a mix-up of seeds within a batch.
        assert (whole[1:] - one_by_one[:-1]).abs().amax(dim=(1, 2, 3)).min() > 100 * SAMPLE_ATOL


def test_same_seed_same_batch_is_bit_identical(tiny_model):
    """The bit-for-bit promise: same seeds, same batch, same machine and thread count."""
    m = load_model(tiny_model)
    denoise, path = m.pair_fn(), m.path
    for cfg in (SamplerConfig(steps=10), SamplerConfig(steps=10, method="ddpm")):
        a = sample_batch(denoise, path, m.image_shape, [3, 4, 5], cfg).images
        b = sample_batch(denoise, path, m.image_shape, [3, 4, 5], cfg).images
        assert torch.equal(a, b)


def test_written_images_do_not_depend_on_batch_size(tiny_model, tmp_path):
    a = sample(SampleOptions(model=tiny_model, out=tmp_path / "a", n=6, batch_size=6, sampler=SamplerConfig(steps=8)))
    b = sample(SampleOptions(model=tiny_model, out=tmp_path / "b", n=6, batch_size=4, sampler=SamplerConfig(steps=8)))
    assert np.array_equal(a.seeds, b.seeds)
    assert_within_one_grey_level(a.images, b.images)
    sample(SampleOptions(model=tiny_model, out=tmp_path / "c", n=6, batch_size=6, sampler=SamplerConfig(steps=8)))
    assert (tmp_path / "a" / "000005.png").read_bytes() == (tmp_path / "c" / "000005.png").read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{i:06d}.png" for i in range(6)] + [
        "run.json",
        "samples.npz",
    ]


@pytest.mark.parametrize("classifier", ["exact", "learned"])
def test_scale_zero_or_alpha_zero_is_bit_identical_to_unprotected(tiny_model, tiny_classifier, tmp_path, classifier):
    clf = "exact" if classifier == "exact" else str(tiny_classifier)
    cfg = SamplerConfig(steps=10)
    plain = sample(SampleOptions(model=tiny_model, out=tmp_path / "p", n=4, sampler=cfg, write_png=False))
    for prot in (Protection(clf, alpha=0.4, scale=0.0), Protection(clf, alpha=0.0, scale=100.0)):
        r = sample(
            SampleOptions(model=tiny_model, out=tmp_path / "q", n=4, sampler=cfg, protection=prot, write_png=False)
        )
        assert np.array_equal(r.images, plain.images)
        assert r.fired_fraction == 0.0


def test_protection_changes_samples_and_counts_firing(tiny_model, tiny_classifier, tmp_path):
    cfg = SamplerConfig(steps=10)
    plain = sample(SampleOptions(model=tiny_model, out=tmp_path / "p", n=4, sampler=cfg, write_png=False))
    prot = Protection("exact", alpha=0.5, scale=3.0, guide_when="every-step")
    r = sample(SampleOptions(model=tiny_model, out=tmp_path / "q", n=4, sampler=cfg, protection=prot, write_png=False))
    assert r.fired_fraction == 1.0 and r.run["fired_steps"] == {str(i): 10 for i in range(4)}
    assert not np.array_equal(r.images, plain.images)
    assert r.run["protection"]["classifier"] == "exact" and r.run["protection"]["scale"] == 3.0
    learned = sample(
        SampleOptions(
            model=tiny_model,
            out=tmp_path / "l",
            n=4,
            sampler=cfg,
            write_png=False,
            protection=Protection(str(tiny_classifier), alpha=0.5, scale=3.0),
        )
    )
    assert learned.fired_fraction > 0


def test_no_gradient_pass_when_nobody_is_confident(tiny_model):

    calls = []

    def logit_fn(x, t):
        calls.append(x.requires_grad)
        return x.flatten(1).sum(1) * 0.0  # p = 1/2 everywhere: never confident

    x = torch.randn(3, 1, 8, 8, requires_grad=False)
    eps = torch.randn(3, 1, 8, 8)
    out, fired = protect_eps(eps, x, torch.zeros(3, dtype=torch.long), 0.5, logit_fn, Protection("exact", alpha=0.1))
    assert out is eps and not fired.any()


def test_diverging_guidance_is_reported_not_written(tiny_model, tmp_path):
    prot = Protection("exact", alpha=0.5, scale=1e38, guide_when="every-step")
    r = sample(
        SampleOptions(model=tiny_model, out=tmp_path, n=3, sampler=SamplerConfig(steps=5, clip=False), protection=prot)
    )
    assert r.nonfinite_seeds == [0, 1, 2] and len(r.images) == 0
    assert not list(tmp_path.glob("*.png"))
    assert r.run["nonfinite_seeds"] == [0, 1, 2]


@pytest.mark.parametrize("method,rule", [("ddpm", "opposite-label"), ("ddim", "toward-half"), ("ddpm", "toward-half")])
def test_protection_with_ddpm_and_both_rules(tiny_model, tmp_path, method, rule):
    cfg = SamplerConfig(steps=6, method=method)
    plain = sample(SampleOptions(model=tiny_model, out=tmp_path / "p", n=3, sampler=cfg, write_png=False))
    prot = Protection("exact", alpha=0.5, scale=5.0, rule=rule)
    r = sample(SampleOptions(model=tiny_model, out=tmp_path / "q", n=3, sampler=cfg, protection=prot, write_png=False))
    assert r.fired_fraction == 1.0 and r.run["protection"]["rule"] == rule and r.run["sampler"]["method"] == method
    assert not np.array_equal(r.images, plain.images)


def test_each_classifier_kind_gets_its_own_defaults(tiny_model, tmp_path):
    """The exact posterior's gradient is much sharper than a learned classifier's: each kind has its own
    defaults (chosen by `cpaudit tune`), and a given value always wins."""
    from typer.testing import CliRunner

    from cpaudit.cli.app import app
    from cpaudit.sampling.protection import KIND_DEFAULTS

    for clf, kind in (("exact", "exact"), ("runs/classifier", "learned")):
        p = Protection(clf)
        assert {k: getattr(p, k) for k in KIND_DEFAULTS[kind]} == KIND_DEFAULTS[kind]
    assert KIND_DEFAULTS["exact"]["scale"] < KIND_DEFAULTS["learned"]["scale"]
    assert Protection("exact", scale=7.0, rule="toward-half").scale == 7.0
    r = CliRunner().invoke(
        app,
        [
            "--quiet",
            "sample",
            "--model",
            str(tiny_model),
            "--out",
            str(tmp_path / "s"),
            "--n",
            "2",
            "--steps",
            "3",
            "--protect",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    import json

    run = json.loads(r.stdout)
    assert run["protection"]["classifier"] == "exact"
    assert {k: run["protection"][k] for k in KIND_DEFAULTS["exact"]} == KIND_DEFAULTS["exact"]


def test_t_window_guides_only_inside_it_and_runs_no_classifier_outside():

    calls = []

    def logit_fn(x, t):
        calls.append(int(t[0]))
        return x.flatten(1).sum(1) * 10.0

    x, eps = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    p = Protection("exact", alpha=0.5, scale=2.0, t_min=100, t_max=500)
    for t, inside in ((99, False), (100, True), (500, True), (501, False)):
        calls.clear()
        out, fired = protect_eps(eps, x, torch.full((3,), t), 0.5, logit_fn, p)
        assert bool(fired.all()) == inside and (out is eps) == (not inside)
        assert (len(calls) > 0) == inside
    with pytest.raises(Exception, match="window"):
        Protection("exact", t_min=500, t_max=100)


def test_guidance_on_x0_reads_the_predicted_x0_at_x0_t():
    from cpaudit.core.guidance import X0_T

    seen = []

    def logit_fn(x, t):
        seen.append((x.detach().clone(), t.clone()))
        return x.flatten(1).sum(1)

    g = torch.Generator().manual_seed(0)
    x, eps = torch.randn(2, 1, 8, 8, generator=g), torch.randn(2, 1, 8, 8, generator=g)
    abar = 0.3
    out, fired = protect_eps(
        eps,
        x,
        torch.full((2,), 700),
        abar,
        logit_fn,
        Protection("exact", alpha=0.5, scale=1.0, space="x0", guide_when="every-step"),
    )
    x0 = prediction_pair(eps, x, *vp(abar), "epsilon").x0.clamp(-1, 1)
    assert all(torch.allclose(s[0], x0) and (s[1] == X0_T).all() for s in seen)
    # d logit / d x0 = 1 everywhere, so eps_hat = eps - s sqrt(1 - abar) grad logsigmoid(-|logit|)
    logit = x0.flatten(1).sum(1)
    grad = (-torch.sigmoid(logit.abs()) * torch.sign(logit))[:, None, None, None] * torch.ones_like(x0)
    assert torch.allclose(out, eps - (1 - abar) ** 0.5 * grad, atol=1e-6)


def test_rejection_that_keeps_too_few_says_so():
    from cpaudit.sampling.rejection import RejectionExhausted, reject_replicas

    members = torch.rand(4, 1, 8, 8) * 2 - 1
    with pytest.raises(RejectionExhausted):
        reject_replicas(lambda seeds: members[torch.tensor(seeds) % 4], members, 3, 0, threshold=0.97, max_rounds=3)


@pytest.mark.parametrize("space", ["x_t", "x0"])
def test_one_and_two_classifier_passes_guide_alike(tiny_classifier, space):
    """The single-pass step (one forward over the batch) equals the two-pass one up to float rounding, and
    leaves the rows that did not fire exactly as they were."""
    from cpaudit.models.load import load_classifier

    net = load_classifier(tiny_classifier).model
    g = torch.Generator().manual_seed(0)
    x, eps = torch.randn(16, 1, 8, 8, generator=g), torch.randn(16, 1, 8, 8, generator=g)
    t = torch.full((16,), 100)
    logits = net(x, t).detach()
    alpha = float(torch.sigmoid(-logits.abs()).median())  # about half the rows confident
    one, f1 = protect_eps(
        eps, x, t, 0.6, lambda a, b: net(a, b), Protection(str(tiny_classifier), alpha, 50.0, space=space, passes=1)
    )
    two, f2 = protect_eps(
        eps, x, t, 0.6, lambda a, b: net(a, b), Protection(str(tiny_classifier), alpha, 50.0, space=space, passes=2)
    )
    assert torch.equal(f1, f2) and 0 < int(f1.sum()) < 16
    assert torch.allclose(one, two, atol=1e-5)
    assert torch.equal(one[~f1], eps[~f1]) and not torch.allclose(one[f1], eps[f1])
