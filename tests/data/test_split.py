import json

import numpy as np
import pytest

from cpaudit.data.load import load_data
from cpaudit.data.split import make_split, read_split, write_split
from cpaudit.errors import InputError


def test_split_is_deterministic_and_disjoint():
    d = load_data("digits")
    a = make_split(d, members=64, seed=0)
    b = make_split(d, members=64, seed=0)
    c = make_split(d, members=64, seed=1)
    assert np.array_equal(a.member_idx, b.member_idx) and not np.array_equal(a.member_idx, c.member_idx)
    assert len(a.member_idx) == 64 and len(a.holdout_idx) == 1797 - 64
    assert not set(a.member_idx) & set(a.holdout_idx)


def test_split_manifest_roundtrip_and_tamper_detection(tmp_path):
    d = load_data("digits")
    s = make_split(d, members=8, seed=5, holdout=10)
    write_split(tmp_path / "split.json", d, s)
    r = read_split(tmp_path / "split.json", d)
    assert np.array_equal(r.member_idx, s.member_idx) and np.array_equal(r.holdout_idx, s.holdout_idx)
    m = json.loads((tmp_path / "split.json").read_text())
    m["members"][0]["sha256"] = "0" * 64
    (tmp_path / "split.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="its sha256 is neither that of the file nor that of its pixels"):
        read_split(tmp_path / "split.json", d)


def test_members_out_of_range():
    d = load_data("digits")
    with pytest.raises(InputError, match="--n-members"):
        make_split(d, members=5000, seed=0)


def test_a_poisson_split_flips_an_independent_coin_for_each_image_of_its_pool():
    """Each of the 2 x 32 pool images is a member by its own coin: the count varies with the seed (a fixed-size
    draw would give 32 every time), averages near 32, and the pool is its members and held-out images."""
    d = load_data("digits")
    counts = []
    for seed in range(40):
        s = make_split(d, members=32, seed=seed, design="poisson")
        assert s.design == "poisson" and len(s.member_idx) + len(s.holdout_idx) == 64
        assert not set(s.member_idx) & set(s.holdout_idx)
        counts.append(len(s.member_idx))
    assert len(set(counts)) > 5 and 28 < np.mean(counts) < 36  # sd of the mean 4 / sqrt(40) = 0.63
    fixed = {len(make_split(d, members=32, seed=seed).member_idx) for seed in range(5)}
    assert fixed == {32}


def test_the_coins_are_independent_of_the_pool_order():
    """Coins are drawn from their own stream: which image of the pool is a member is not its position's habit
    (over many seeds every position is a member about half the time)."""
    d = load_data("digits")
    hits = np.zeros(len(d))
    pools = np.zeros(len(d))
    for seed in range(60):
        s = make_split(d, members=None, seed=seed, design="poisson")
        hits[s.member_idx] += 1
        pools[np.r_[s.member_idx, s.holdout_idx]] += 1
    assert np.all(pools == 60) and 0.47 < hits.sum() / pools.sum() < 0.53


def test_the_design_is_recorded_in_split_json_and_read_back(tmp_path):
    d = load_data("digits")
    for design in ("poisson", "fixed"):
        write_split(tmp_path / f"{design}.json", d, make_split(d, members=8, seed=1, design=design))
        assert json.loads((tmp_path / f"{design}.json").read_text())["design"] == design
        assert read_split(tmp_path / f"{design}.json", d).design == design


def test_an_old_split_json_without_a_design_reads_as_fixed_or_user(tmp_path):
    d = load_data("digits")
    write_split(tmp_path / "split.json", d, make_split(d, members=8, seed=1))
    m = json.loads((tmp_path / "split.json").read_text())
    del m["design"]
    (tmp_path / "old.json").write_text(json.dumps(m))
    assert read_split(tmp_path / "old.json", d).design == "fixed"  # cpaudit drew it: it has a seed
    m["seed"] = None
    (tmp_path / "user.json").write_text(json.dumps(m))
    assert read_split(tmp_path / "user.json", d).design == "user"
    m["design"] = "coins"
    (tmp_path / "bad.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="design 'coins'"):
        read_split(tmp_path / "bad.json", d)


def test_a_poisson_split_refuses_what_it_cannot_draw():
    d = load_data("digits")
    with pytest.raises(InputError, match="--n-members"):
        make_split(d, members=1000, seed=0, design="poisson")
    with pytest.raises(InputError, match="--n-holdout"):
        make_split(d, members=8, seed=0, design="poisson", holdout=4)
