"""The replica gate's unit is the candidate image (stats.reach_excess_p): exact under a random split whatever
the samples are, and the default gates' levels sum to the family's total."""

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from cpaudit.auditing.policy import DEFAULT_POLICY, FAMILY_LEVEL, Policy, evaluate_gates, family, gate_levels
from cpaudit.auditing.replication import nearest_sample_similarity, replication
from cpaudit.auditing.samples import load_samples
from cpaudit.core.stats import reach_excess_p
from cpaudit.data.digits import load_digits_set
from cpaudit.data.split import read_split
from cpaudit.similarity.pixel import pixel_embedding

DEMO = Path(__file__).resolve().parents[2] / "reports" / "demo" / "runs"


def test_reach_excess_p_is_the_hypergeometric_tail():
    # Of 30 members and 50 held-out images, 9 members and 4 held-out images are reached: P[X >= 9], X the
    # members among 13 reached candidates drawn from 80 without replacement.
    assert reach_excess_p(9, 30, 4, 50) == pytest.approx(sps.hypergeom.sf(8, 80, 30, 13), rel=1e-9)
    assert reach_excess_p(0, 30, 0, 50) == 1.0
    assert np.isnan(reach_excess_p(0, 0, 1, 5))


@pytest.mark.parametrize("reached", [1, 3, 5])
def test_the_gate_false_alarms_at_most_its_level_over_every_split(reached):
    """Whatever the samples reach (here any `reached` of 10 candidates), the split into 5 members and 5 held-out
    images is what is random under the null: over all 252 splits, p < level at most level of the time."""
    hit = np.zeros(10, dtype=bool)
    hit[:reached] = True
    p = []
    for members in combinations(range(10), 5):
        m = np.zeros(10, dtype=bool)
        m[list(members)] = True
        p.append(reach_excess_p(int(hit[m].sum()), 5, int(hit[~m].sum()), 5))
    for level in (0.01, 0.05, 0.1, 0.25):
        assert np.mean(np.asarray(p) < level) <= level


def test_nearest_sample_similarity_equals_brute_force_in_blocks():
    rng = np.random.default_rng(0)
    cand = rng.standard_normal((37, 6)).astype(np.float32)
    samples = rng.standard_normal((11, 6)).astype(np.float32)
    cand /= np.linalg.norm(cand, axis=1, keepdims=True)
    samples /= np.linalg.norm(samples, axis=1, keepdims=True)
    got = nearest_sample_similarity(cand, samples, block_rows=8)
    np.testing.assert_allclose(got, (cand @ samples.T).max(1), atol=1e-6)
    assert np.all(np.isneginf(nearest_sample_similarity(cand, samples[:0])))


def test_a_collapsed_sampler_reaches_members_and_held_out_images_alike():
    """The issue's case: 256 samples that are 8 unseen digits (with their near-duplicates among the candidates)
    repeated. The per-sample test reads every copy as an independent replica; the reach counts do not."""
    images = load_digits_set().images
    rng = np.random.default_rng(3)
    order = rng.permutation(len(images))
    members, holdout, pool = images[order[:400]], images[order[400:800]], images[order[800:]]
    samples = pool[:8].repeat_interleave(32, 0)
    rep = replication(
        pixel_embedding(samples),
        pixel_embedding(members),
        pixel_embedding(holdout),
        threshold=0.97,
        k=1,
        method="exact",
    )
    nn = rep.summary("pixel")
    assert nn["members_reached"] == int((rep.member_reach_sim >= 0.97).sum())
    assert nn["n_members_reached_of"] == 400 and nn["n_holdout_reached_of"] == 400
    # Each copy counts once per candidate it reaches, not once per sample.
    assert nn["members_reached"] + nn["holdout_reached"] <= 8 * 40


def test_the_demo_memorising_model_still_fails_the_gate():
    data = load_digits_set()
    split = read_split(DEMO / "model" / "split.json", data)
    samples = load_samples(DEMO / "unprotected").images
    nn = replication(
        pixel_embedding(samples),
        pixel_embedding(data.images[split.member_idx]),
        pixel_embedding(data.images[split.holdout_idx]),
        threshold=0.97,
        k=1,
        method="exact",
    ).summary("pixel")
    assert nn["members_reached"] >= 60 and nn["holdout_reached"] < 0.02 * nn["n_holdout_reached_of"]
    gates = evaluate_gates(
        DEFAULT_POLICY,
        release="samples",
        replica_rate=nn["replica_rate"],
        permutation_p=0.5,
        threat_models={},
        reach=nn,
        replica_level=gate_levels(DEFAULT_POLICY, False)["replica_excess_level"],
    )
    assert (
        "training images" in gates["replica_excess_level"] and "of 64 training images" in gates["replica_excess_level"]
    )


def test_the_gate_reads_the_reach_and_fails_unmeasured():
    reach = {
        "reach_excess_p": 0.3,
        "members_reached": 2,
        "n_members_reached_of": 50,
        "members_reached_rate": 0.04,
        "holdout_reached": 1,
        "n_holdout_reached_of": 50,
        "holdout_reached_rate": 0.02,
    }
    policy = Policy(replica_excess_level=0.025)
    assert (
        evaluate_gates(policy, release="samples", replica_rate=0.9, permutation_p=1.0, threat_models={}, reach=reach)[
            "replica_excess_level"
        ]
        is None
    )
    low = evaluate_gates(
        policy,
        release="samples",
        replica_rate=0.0,
        permutation_p=1.0,
        threat_models={},
        reach={**reach, "reach_excess_p": 0.01},
        replica_level=0.0125,
    )["replica_excess_level"]
    assert "level 0.0125" in low
    assert (
        "could not"
        in evaluate_gates(policy, release="samples", replica_rate=0.0, permutation_p=1.0, threat_models={}, reach=None)[
            "replica_excess_level"
        ]
    )


def test_default_levels_sum_to_the_family_total():
    for text in (False, True):
        assert sum(gate_levels(DEFAULT_POLICY, text).values()) == pytest.approx(FAMILY_LEVEL)
        assert family(DEFAULT_POLICY, text)["total"] == pytest.approx(FAMILY_LEVEL)
    assert gate_levels(DEFAULT_POLICY, True) == {
        "replica_excess_level": 0.0125,
        "extraction_excess_level": 0.0125,
        "mia_excess_level": 0.025,
    }
    assert gate_levels(Policy(mia_excess_level=0.01), False) == {"mia_excess_level": 0.01}


def _tm(measured: bool, p: float = 0.5) -> dict:
    head = {
        "title": "sample-only attack",
        "auc": 0.9,
        "auc_ci95": [0.8, 1.0],
        "chance_band95": [0.4, 0.6],
        "p_value": p,
    }
    return {
        "measured_by": ["x"] if measured else [],
        "strongest": head if measured else None,
        **({} if measured else {"not_measured": "the protected text-to-image sampler is not attacked"}),
    }


def test_an_unmeasured_release_still_names_the_weaker_leak_it_saw():
    tms = {"samples": _tm(True, p=0.001), "sampler": _tm(False), "weights": _tm(False)}
    gates = evaluate_gates(
        Policy(mia_excess_level=0.025), release="sampler", replica_rate=0.0, permutation_p=1.0, threat_models=tms
    )
    assert "protected text-to-image sampler is not attacked" in gates["mia_excess_level"]
    assert "if only samples are published" in gates["mia_excess_level:samples"]


def test_the_weights_sentence_mentions_protection_only_when_there_was_one():
    tms = {m: _tm(True, p=0.001) for m in ("samples", "sampler", "weights")}
    plain = evaluate_gates(
        Policy(mia_excess_level=0.025), release="weights", replica_rate=0.0, permutation_p=1.0, threat_models=tms
    )["mia_excess_level"]
    guarded = evaluate_gates(
        Policy(mia_excess_level=0.025),
        release="weights",
        replica_rate=0.0,
        permutation_p=1.0,
        threat_models=tms,
        protected=True,
    )["mia_excess_level"]
    assert "protection" not in plain and "sampling-time protection does not change" in guarded
