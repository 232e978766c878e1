"""Text-to-image audits on planted samplers: prompted extraction, the noise-norm detector, refusals, and the
pure figures behind them (golden values on tiny inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cpaudit.auditing.extraction import caption_scores, codec_floor, refusals, replica_excess, sample_groups
from cpaudit.auditing.noise_norm import text_noise_norms
from cpaudit.auditing.samples import SampleSet
from cpaudit.core.attack_stats import auc
from cpaudit.core.paths import vp_path
from cpaudit.core.schedules import Schedule, Spacing
from cpaudit.data.load import load_data
from cpaudit.models.conditioning import TextCond
from cpaudit.models.denoise import PairModel
from cpaudit.pipelines.audit import AuditOptions, audit
from cpaudit.seeding import numpy_generator

N_CAPTIONS = 32  # members and held-out images each
K = 4  # samples per caption


@pytest.fixture(scope="module")
def captioned():
    data = load_data("captioned-digits")
    return data, data.subset(np.arange(N_CAPTIONS)), data.subset(np.arange(N_CAPTIONS, 2 * N_CAPTIONS))


def planted_samples(data, members, holdout, copy: bool, seed: int) -> SampleSet:
    """K samples per member and held-out caption. copy: member captions give their member (held-out captions a
    random other digit); else every prompt gives a random other digit, whatever its caption (a sampler that
    ignores the caption and copies nothing)."""
    rng = numpy_generator(seed)
    pool = data.subset(np.arange(2 * N_CAPTIONS, 2 * N_CAPTIONS + 200))
    images, prompts = [], []
    for role, ims in (("members", members), ("holdout", holdout)):
        for i, caption in enumerate(ims.captions):
            for _ in range(K):
                if copy and role == "members":
                    img = ims.take([i])[0]
                elif copy:
                    img = pool.take([int(rng.integers(len(pool)))])[0]
                else:
                    img = pool.take([int(rng.integers(len(pool)))])[0]
                images.append(img)
                prompts.append(caption)
    return SampleSet(torch.stack(images), None, Path("<planted>"), tuple(prompts))


def run_audit(samples, members, holdout, seed: int = 0) -> dict:
    return audit(
        AuditOptions(
            samples=samples, out=None, members=members, holdout=holdout, permutations=50, attack_nulls=200, seed=seed
        )
    ).results


def test_a_sampler_that_returns_the_member_for_its_caption_is_extracted(captioned):
    data, members, holdout = captioned
    r = run_audit(planted_samples(data, members, holdout, copy=True, seed=0), members, holdout)
    head = r["attacks"]["prompted_extraction"]
    assert head["auc"] >= 0.95 and head["auc_ci95"][0] > head["chance_band95"][1]
    c = r["prompted_extraction"]["captions"]
    assert c["member_captions_extracted"] == N_CAPTIONS and c["fisher_p"] < 0.01
    assert r["policy"]["gates"]["extraction_excess_level"] is not None and not r["policy"]["passed"]
    assert r["prompted_extraction"]["samples"]["member_caption_replicas"] == N_CAPTIONS * K


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_sampler_that_ignores_the_caption_stays_in_the_chance_band(captioned, seed):
    """Samples independent of the caption (other digits): training and held-out captions score alike.
    (A sampler that returns random *members* whatever the caption is not this: it hits a member caption's own
    image by chance, 1 in 32 a sample here, which extraction rightly counts and replication catches.)"""
    data, members, holdout = captioned
    r = run_audit(planted_samples(data, members, holdout, copy=False, seed=seed), members, holdout, seed=seed)
    head = r["attacks"]["prompted_extraction"]
    assert head["p_value"] > 0.01, head
    assert r["prompted_extraction"]["captions"]["member_captions_extracted"] == 0
    assert r["policy"]["gates"]["extraction_excess_level"] is None


def test_caption_scores_golden():
    # Two captions, 2-d unit embeddings: caption 0's samples equal its image; caption 1's are orthogonal to it.
    e = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    own = np.array([[1.0, 0.0], [1.0, 0.0]])
    groups = sample_groups(("a", "a", "b", "b"), ["a", "b"])
    s = caption_scores(e, groups, own, threshold=0.97)
    np.testing.assert_allclose(s.best_own, [1.0, 0.6])
    np.testing.assert_array_equal(s.replicas, [2, 0])
    np.testing.assert_allclose(s.agreement, [1.0, 0.8])
    one = caption_scores(e, groups, own, threshold=0.97, per_caption=1)
    np.testing.assert_allclose(one.best_own, [1.0, 0.0])
    # A caption whose every prompt was refused extracts nothing, and its refusals are counted.
    refused = caption_scores(
        e, sample_groups(("a", "a"), ["a", "b"]), own, 0.97, refused=refusals(["b", "b"], ["a", "b"])
    )
    np.testing.assert_allclose(refused.best_own, [1.0, -1.0])
    np.testing.assert_array_equal(refused.stacked(True)[3], [0, 2])


def test_replica_excess_and_codec_floor_golden():
    r = replica_excess(np.array([1, 2, 0, 3]), np.array([0, 0, 0, 0]))
    assert r["member_captions_extracted"] == 3 and r["holdout_captions_extracted"] == 0
    assert r["fisher_p"] == pytest.approx(
        5 / 70
    )  # hypergeometric, 3 successes in 8: P(X >= 3) = C(3,3) C(5,1) / C(8,4)
    f = codec_floor(np.eye(3), np.array([[1.0, 0, 0], [0, 0.9, 0.436], [0, 0, 1.0]]), 0.97)
    assert f["below_threshold"] == 1 and f["min"] == pytest.approx(0.9)


class StubPrompts:
    """Captions starting with 'm' embed to 1, others to 0; the empty prompt to 0."""

    def condition(self, prompts, guidance_scale, negative_prompt=None):
        e = torch.tensor([[[1.0 if p.startswith("m") else 0.0]] for p in prompts])
        return TextCond(e, torch.zeros_like(e), guidance_scale)


class StubModel:
    """eps(x, t, c) = 0.1 x + c: a memorised caption (c = 1) pulls every step toward one image."""

    prompts = StubPrompts()
    schedule = Schedule("linear", 1000, 1e-4, 0.02)
    path = schedule.path()
    spacing = Spacing()
    space_shape = (1, 2, 2)

    @staticmethod
    def model(x, t, c):
        e = c.prompt_embeds if isinstance(c, TextCond) else c
        return 0.1 * x + e.reshape(-1, 1, 1, 1)

    @property
    def denoiser(self):
        return PairModel(self.model, self.path)

    def sampling_path(self, steps):
        return self.path, self.spacing, steps


def test_the_detector_separates_planted_memorised_captions():
    caps = [f"m{i}" for i in range(8)] + [f"h{i}" for i in range(8)]
    norms = text_noise_norms(StubModel(), caps, list(range(16)), guidance_scale=7.5, first=5)
    assert norms.shape == (16, 5)
    np.testing.assert_allclose(norms[:8].numpy(), 2.0, atol=1e-6)  # ||c - 0|| over 4 latent entries
    np.testing.assert_allclose(norms[8:].numpy(), 0.0, atol=1e-6)
    assert auc(norms[:8, 0].numpy(), norms[8:, 0].numpy()) == 1.0


def test_a_bound_denoiser_conditions_each_row_on_its_own_candidate():
    """Attacks query `bound(role, rows)`: rows 2..3 of the held-out candidates get their own conditions."""
    from cpaudit.auditing.attacks.base import Denoiser

    def cond_model(x, t, c):
        return x * 0 + c.reshape(-1, 1, 1, 1).float()

    conds = {"members": torch.tensor([0, 1, 2, 3]), "holdout": torch.tensor([10, 11, 12, 13])}
    path = vp_path(torch.linspace(0.99, 0.01, 10, dtype=torch.float64))
    d = Denoiser(
        PairModel(lambda x, t: x, path), path, torch.device("cpu"), cond_model=PairModel(cond_model, path), conds=conds
    )
    out = d.bound("holdout", range(2, 4)).eps(torch.zeros(2, 1, 2, 2), 3)
    assert out[:, 0, 0, 0].tolist() == [12.0, 13.0]
    plain = Denoiser(PairModel(lambda x, t: x + 1, path), path, torch.device("cpu"))
    assert plain.bound("members", range(0, 2)) is plain
