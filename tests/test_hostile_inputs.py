"""Hostile or broken inputs: each is refused with a one-line error naming the file, never a traceback."""

import json
import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.data.load import load_data
from cpaudit.errors import InputError
from cpaudit.models.load import load_model
from tests.conftest import write_png

runner = CliRunner()


def test_tiny_and_huge_images_are_refused_by_size_limit(tmp_path):
    write_png(tmp_path / "one" / "a.png", np.zeros((1, 1), np.uint8))
    with pytest.raises(InputError, match="1x1 pixels"):
        load_data(tmp_path / "one")
    (tmp_path / "huge").mkdir()
    Image.new("1", (10_000, 10_000)).save(tmp_path / "huge" / "big.png")  # a few KB on disk, 100M pixels decoded
    with pytest.raises(InputError, match="too large"):
        load_data(tmp_path / "huge")


def test_non_image_file_among_images(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((6, 6), np.uint8))
    (tmp_path / "notes.png").write_text("this is text")
    with pytest.raises(InputError, match="notes.png"):
        load_data(tmp_path)
    with pytest.warns(UserWarning, match="notes.png"):
        assert len(load_data(tmp_path, skip_bad=True)) == 1


def test_float_npz_with_nan_is_refused(tmp_path):
    np.savez(tmp_path / "x.npz", images=np.full((2, 6, 6), np.nan, np.float32))
    with pytest.raises(InputError, match="uint8"):
        load_data(tmp_path / "x.npz")


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda c: c.pop("unet"), "missing field 'unet'"),
        (lambda c: c.__setitem__("schedule", "linear"), "wrong type"),
        (lambda c: c["unet"].__setitem__("base_channels", "wide"), "invalid model config"),
    ],
)
def test_broken_model_config(tiny_model, tmp_path, edit, needle):
    m = tmp_path / "m"
    shutil.copytree(tiny_model, m)
    cfg = json.loads((m / "config.json").read_text())
    edit(cfg)
    (m / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match=needle):
        load_model(m)
    r = runner.invoke(app, ["sample", "--model", str(m), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "config.json" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_pickle_weights_are_never_unpickled(tiny_model, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    m = tmp_path / "m"
    shutil.copytree(tiny_model, m)
    with open(m / "model.safetensors", "wb") as f:
        pickle.dump(Evil(), f)
    with pytest.raises(InputError, match="safetensors"):
        load_model(m)
    from cpaudit.auditing.features import embed, parse_features
    from cpaudit.auditing.weights import load_state

    (tmp_path / "w.pt").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(InputError, match="refused"):
        load_state(tmp_path / "w.pt")
    for head in ("inception", "torchscript"):  # neither network loader runs a pickle either
        with pytest.raises(InputError):
            embed(torch.zeros(1, 1, 8, 8), parse_features(f"{head}:{tmp_path / 'w.pt'}"))
    assert not marker.exists()


def test_classifier_for_other_data_is_refused(tiny_model, tiny_classifier, tmp_path):
    c = tmp_path / "c"
    shutil.copytree(tiny_classifier, c)
    cfg = json.loads((c / "config.json").read_text())
    cfg["data_fingerprint"] = "0" * 64
    (c / "config.json").write_text(json.dumps(cfg))
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(tiny_model),
            "--out",
            str(tmp_path / "o"),
            "--n",
            "2",
            "--steps",
            "2",
            "--protect",
            "--classifier",
            str(c),
        ],
    )
    assert r.exit_code == 2 and "other data" in r.output and len(r.output.strip().splitlines()) == 1


def test_out_of_memory_is_one_line_naming_the_allocation_and_exit_2():
    """Large images under the pixel embedding once asked numpy for a 4.5 TiB covariance: the line says so, and
    names no option the command lacks."""
    import typer
    from numpy._core._exceptions import _ArrayMemoryError

    from cpaudit.cli.common import console, user_errors

    with console.capture() as printed, pytest.raises(typer.Exit) as e, user_errors():
        raise _ArrayMemoryError((786432, 786432), np.dtype("float64"))
    assert e.value.exit_code == 2
    out = printed.get()
    assert len(out.strip().splitlines()) == 1 and "4.50 TiB" in out and "--resize" in out, out
