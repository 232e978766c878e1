import numpy as np
import pytest

from cpaudit.auditing.frontier import Reference, best_within_budget, evaluate_samples, pareto_front, spread


def brute_front(fid, leak):
    """Points that no other point beats on both coordinates (strictly on one): the definition, by brute force."""
    keep = []
    for i in range(len(fid)):
        dominated = any(
            (fid[j] <= fid[i] and leak[j] <= leak[i]) and (fid[j] < fid[i] or leak[j] < leak[i])
            for j in range(len(fid))
        )
        if not dominated:
            keep.append(i)
    return sorted(keep, key=lambda i: fid[i])


@pytest.mark.parametrize("seed", range(20))
def test_pareto_front_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    fid = rng.integers(0, 8, 15).astype(float)  # ties on purpose
    leak = rng.integers(0, 8, 15).astype(float)
    got = pareto_front(fid, leak)
    want = brute_front(fid, leak)
    # Exact duplicates of a frontier point: the function keeps one of them; the set of (fid, leak) agrees.
    assert sorted({(fid[i], leak[i]) for i in got}) == sorted({(fid[i], leak[i]) for i in want})
    assert [fid[i] for i in got] == sorted(fid[i] for i in got)


def test_pareto_front_golden():
    assert pareto_front([3.0, 1.0, 2.0, 5.0], [0.6, 0.9, 0.7, 0.5]) == [1, 2, 0, 3]
    assert pareto_front([1.0, 2.0], [0.5, 0.9]) == [0]


def test_spread_keeps_ends_and_order():
    assert spread([4, 7, 9], 4) == [4, 7, 9]
    assert spread(list(range(10)), 4) == [0, 3, 6, 9]
    assert spread(list(range(10)), 1) == [0]


def test_best_within_budget_respects_fid_and_base_rate():
    pts = [
        {"fid": 3.0, "replica_excess_p": 1.0, "sample_only_auc": 0.9},
        {"fid": 5.0, "replica_excess_p": 0.01, "sample_only_auc": 0.6},  # replicas above the base rate
        {"fid": 5.5, "replica_excess_p": 0.5, "sample_only_auc": 0.7},
        {"fid": 9.0, "replica_excess_p": 1.0, "sample_only_auc": 0.55},
    ]  # over the FID limit
    assert best_within_budget(pts, fid_limit=6.0) == 2
    assert best_within_budget(pts, fid_limit=2.0) is None


def _digits_reference(m=32):
    from cpaudit.data.load import load_data

    data = load_data("digits")
    members, holdout = data.take(np.arange(m)), data.take(np.arange(m, 4 * m))
    return members, holdout, Reference.of(members, holdout, threshold=0.97)


def test_copies_of_members_leak_and_fresh_images_do_not():
    members, holdout, ref = _digits_reference()
    copies = members.repeat(4, 1, 1, 1)
    leak = evaluate_samples(copies, ref, np.random.default_rng(0), n_null=50)
    assert leak["replicas"] == len(copies) and leak["replica_excess_p"] < 1e-6
    assert leak["sample_only_auc"] > 0.95 and leak["median_nearest_member_similarity"] == pytest.approx(1.0, abs=1e-5)
    assert leak["fid_reference"] == len(holdout)
    from cpaudit.data.load import load_data

    fresh = load_data("digits").take(np.arange(1000, 1128))  # unseen digits play the samples
    clean = evaluate_samples(fresh, ref, np.random.default_rng(0), n_null=50)
    assert clean["replica_excess_p"] > 0.05
    # Which digits are members says nothing about unseen digits: the AUC sits in its chance band (sd ~ 0.06).
    assert clean["sample_only_auc"] < clean["sample_only_chance_band95"][1] + 0.05
    # FID's reference is the whole held-out set: the held-out set itself scores 0.
    assert evaluate_samples(holdout, ref, np.random.default_rng(0), n_null=50)["fid"] == pytest.approx(0.0, abs=1e-6)
