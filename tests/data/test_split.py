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
    with pytest.raises(InputError, match="--members"):
        make_split(d, members=5000, seed=0)
