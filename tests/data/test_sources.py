import pickle

import numpy as np
import pytest
import torch

from cpaudit.data.load import load_data, parse_resize
from cpaudit.errors import InputError
from tests.conftest import write_png


def test_digits_shape_range_and_ids():
    d = load_data("digits")
    assert d.images.shape == (1797, 1, 8, 8)
    assert float(d.images.min()) == -1.0 and float(d.images.max()) == 1.0
    assert d.ids[0] == "digits-0000" and len(set(d.ids)) == 1797
    assert d.fingerprint() == load_data("digits").fingerprint()


def test_folder_recursive_gray(tmp_path):
    write_png(tmp_path / "a.png", np.full((6, 6), 255, np.uint8))
    write_png(tmp_path / "sub" / "b.png", np.zeros((6, 6), np.uint8))
    d = load_data(tmp_path)
    assert d.ids == ["a.png", "sub/b.png"]
    assert d.images.shape == (2, 1, 6, 6)
    assert torch.all(d.images[0] == 1) and torch.all(d.images[1] == -1)


def test_folder_rgb_and_gray_mixed_promotes_to_rgb(tmp_path):
    colour = np.zeros((5, 5, 3), np.uint8)
    colour[..., 0] = 200  # colour in content, not only in mode
    write_png(tmp_path / "a.png", colour)
    write_png(tmp_path / "b.png", np.zeros((5, 5), np.uint8))
    assert load_data(tmp_path).images.shape == (2, 3, 5, 5)


def test_grey_content_saved_as_colour_is_read_as_grey(tmp_path):
    """WebP has no grey mode: a grey image saved as WebP decodes as RGB with R = G = B. Beside grey PNGs it is
    read as grey again (its pixels unchanged), and the conversion is said in one line."""
    from PIL import Image

    grey = np.arange(25, dtype=np.uint8).reshape(5, 5) * 10
    Image.fromarray(grey).save(tmp_path / "a.webp", lossless=True)
    Image.fromarray(grey).save(tmp_path / "b.webp")  # lossy: its channels differ by a level here and there
    write_png(tmp_path / "c.png", grey)
    with pytest.warns(UserWarning, match=r"read the 2 colour-coded image\(s\) as grey .*, to match the 1 grey image"):
        data = load_data(tmp_path)
    assert data.pixels.shape == (3, 5, 5, 1) and np.array_equal(data.pixels[0, ..., 0], grey)


def test_folder_mixed_sizes_needs_resize(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((6, 6), np.uint8))
    write_png(tmp_path / "b.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match="--resize"):
        load_data(tmp_path)
    assert load_data(tmp_path, resize=(4, 4)).images.shape == (2, 1, 4, 4)


def test_folder_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no images found"):
        load_data(tmp_path)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(InputError) as e:
        load_data(tmp_path)
    assert "bad.png" in str(e.value) and "\n" not in str(e.value)
    bad.write_bytes(b"")
    with pytest.raises(InputError, match="0 bytes"):
        load_data(tmp_path)


def test_truncated_png_is_an_input_error(tmp_path):
    write_png(tmp_path / "full.png", (np.arange(256 * 64) % 251).astype(np.uint8).reshape(128, 128))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "full.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="full.png"):
        load_data(tmp_path)


def test_npz_variants(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, images=np.zeros((3, 6, 6), np.uint8))
    assert load_data(p).images.shape == (3, 1, 6, 6)
    np.savez(p, images=np.zeros((3, 6, 6, 3), np.uint8), ids=np.array(["a", "b", "c"]))
    d = load_data(p)
    assert d.images.shape == (3, 3, 6, 6) and d.ids == ["a", "b", "c"]
    np.savez(p, pictures=np.zeros((3, 6, 6), np.uint8))
    with pytest.raises(InputError, match="no 'images'"):
        load_data(p)
    np.savez(p, images=np.zeros((3, 6, 6), np.float32))
    with pytest.raises(InputError, match="uint8"):
        load_data(p)
    p.write_bytes(b"garbage")
    with pytest.raises(InputError, match="x.npz"):
        load_data(p)


def test_npz_with_pickled_object_is_refused(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, images=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError):
        load_data(p)


def _cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    batch = {
        b"batch_label": b"x",
        b"labels": list(range(n)),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"f%d" % i for i in range(n)],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)
    return batch


def test_cifar10_batches(tmp_path):
    b1 = _cifar_batch(tmp_path / "data_batch_1", 4, 0)
    _cifar_batch(tmp_path / "test_batch", 2, 1)
    d = load_data(tmp_path)
    assert d.images.shape == (6, 3, 32, 32)
    assert d.ids[0] == "data_batch_1/00000" and d.ids[-1] == "test_batch/00001"
    # Row layout: 1024 red, 1024 green, 1024 blue values, row-major.
    r00 = b1[b"data"][0, 0] / 127.5 - 1
    g00 = b1[b"data"][0, 1024] / 127.5 - 1
    assert abs(float(d.images[0, 0, 0, 0]) - r00) < 1e-6 and abs(float(d.images[0, 1, 0, 0]) - g00) < 1e-6


class _Evil:
    def __reduce__(self):
        return (exec, (f"open({str(_Evil.marker)!r}, 'w').write('pwned')",))


def test_cifar10_malicious_pickle_does_not_run(tmp_path):
    _Evil.marker = tmp_path / "pwned"
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({b"data": _Evil()}, f, protocol=2)
    with pytest.raises(InputError, match="refusing"):
        load_data(tmp_path)
    assert not _Evil.marker.exists()


def test_missing_path_and_bad_resize(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_data(tmp_path / "nope")
    with pytest.raises(InputError, match="HxW"):
        parse_resize("32by32")


def test_a_folder_reads_every_pil_format_and_names_what_it_skips_or_converts(tmp_path):
    import warnings

    from PIL import Image as PILImage

    from cpaudit.data.folder import load_folder

    rng = np.random.default_rng(0)
    PILImage.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "a.webp", lossless=True)
    PILImage.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / "b.png")
    PILImage.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / "c.bmp")
    (tmp_path / "notes.txt").write_text("not an image")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_folder(tmp_path)
    assert data.ids == ["a.webp", "b.png", "c.bmp"] and data.shape == (3, 8, 8)
    messages = [str(w.message) for w in caught]
    assert any("skipped 1 file(s) that are not images, e.g. notes.txt" in m for m in messages)
    assert any("converted the 2 grey image(s) to RGB" in m for m in messages)
