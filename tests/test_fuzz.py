"""Hypothesis fuzzing: loaders and config parsers either load or raise InputError, nothing else."""

import io
import json
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpaudit.auditing.policy import read_policy
from cpaudit.data.load import load_data
from cpaudit.data.split import read_split
from cpaudit.errors import InputError
from cpaudit.models.checkpoint import read_config

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _expect_clean(fn):
    try:
        fn()
    except InputError as e:
        assert "\n" not in str(e)


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_image_files(tmp_path, blob):
    d = tmp_path / "imgs"
    d.mkdir(exist_ok=True)
    (d / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + blob)
    _expect_clean(lambda: load_data(d))


@FUZZ
@given(st.binary(max_size=400), st.booleans())
def test_fuzz_npz_and_zip_bytes(tmp_path, blob, as_zip):
    p = tmp_path / "x.npz"
    if as_zip:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("images.npy", blob)
        p.write_bytes(buf.getvalue())
    else:
        p.write_bytes(blob)
    _expect_clean(lambda: load_data(p))


@FUZZ
@given(
    st.lists(st.integers(0, 255), min_size=0, max_size=200),
    st.sampled_from([(2, 4, 4), (1, 5, 5, 3), (3,), (0, 4, 4)]),
    st.sampled_from(["uint8", "float32", "int64"]),
)
def test_fuzz_npz_arrays(tmp_path, values, shape, dtype):
    n = int(np.prod(shape))
    arr = np.resize(np.array(values or [0], dtype=np.int64), n).reshape(shape).astype(dtype)
    np.savez(tmp_path / "a.npz", images=arr)
    _expect_clean(lambda: load_data(tmp_path / "a.npz"))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(JSONISH)
def test_fuzz_config_and_split_json(tmp_path, obj):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(obj))
    _expect_clean(
        lambda: read_config(p, {"unet": dict, "schedule": dict, "image_shape": list, "data_fingerprint": str})
    )
    (tmp_path / "split.json").write_text(json.dumps(obj))
    _expect_clean(lambda: read_split(tmp_path / "split.json", load_data("digits")))


@FUZZ
@given(st.text(max_size=120))
def test_fuzz_policy_toml(tmp_path, text):
    p = tmp_path / "cpaudit.toml"
    p.write_text(text)
    _expect_clean(lambda: read_policy(p))
