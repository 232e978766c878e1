import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from cpaudit.auditing.features import embed, parse_features
from cpaudit.errors import InputError


def test_timm_features_from_a_local_weights_file(tmp_path):
    timm = pytest.importorskip("timm", reason="the [timm] extra")

    torch.manual_seed(0)
    net = timm.create_model("resnet18", pretrained=False, num_classes=0)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "w.safetensors"))
    spec = parse_features(f"timm:resnet18:{tmp_path / 'w.safetensors'}")
    assert spec.pretrained and spec.label.startswith("timm:resnet18 sha256:")
    images = torch.rand(3, 1, 8, 8) * 2 - 1
    unit, raw = embed(images, spec, cache_dir=tmp_path / "cache")
    assert unit.shape == (3, 512) and np.allclose(np.linalg.norm(unit, axis=1), 1, atol=1e-5)
    again, _ = embed(images, spec, cache_dir=tmp_path / "cache")  # served from the cache
    assert np.array_equal(unit, again) and len(list((tmp_path / "cache").iterdir())) == 1
    assert not parse_features("timm:resnet18").pretrained  # reported as random features


def test_bad_feature_specs():
    with pytest.raises(InputError, match="--features"):
        parse_features("clip")
    with pytest.raises(InputError, match="not found"):
        parse_features("inception:/nope/inception.pt")


class _Descriptor(torch.nn.Module):
    """A stand-in copy-detection descriptor: conv, global pool, 16-d output."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


def _descriptor_file(path, seed=0):
    torch.manual_seed(seed)
    net = _Descriptor().eval()
    torch.jit.script(net).save(str(path))
    return net


def test_torchscript_descriptor_round_trips_with_sscd_preprocessing(tmp_path):
    import torch.nn.functional as F

    net = _descriptor_file(tmp_path / "d.pt")
    spec = parse_features(f"torchscript:{tmp_path / 'd.pt'}")
    assert spec.kind == "torchscript" and spec.size == 288 and spec.default_threshold == 0.5
    images = torch.rand(4, 1, 8, 8) * 2 - 1
    unit, raw = embed(images, spec)
    # The documented preprocessing by hand: grey to RGB in [0, 1], short side to 288, ImageNet mean/std.
    x = ((images + 1) / 2).expand(-1, 3, -1, -1)
    x = F.interpolate(x, size=(288, 288), mode="bilinear", align_corners=False)
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        want = net(x).numpy()
    assert np.allclose(raw, want, atol=1e-5) and np.allclose(np.linalg.norm(unit, axis=1), 1, atol=1e-5)
    assert parse_features(f"torchscript:{tmp_path / 'd.pt'}:320").size == 320


def test_features_are_cached_by_the_weights_content_not_their_path(tmp_path):
    import shutil

    _descriptor_file(tmp_path / "a.pt")
    shutil.copy(tmp_path / "a.pt", tmp_path / "renamed.pt")
    images = torch.rand(2, 1, 8, 8) * 2 - 1
    cache = tmp_path / "cache"
    a = parse_features(f"torchscript:{tmp_path / 'a.pt'}")
    b = parse_features(f"torchscript:{tmp_path / 'renamed.pt'}")
    assert a.label == b.label and "sha256:" in a.label
    embed(images, a, cache_dir=cache)
    embed(images, b, cache_dir=cache)
    assert len(list(cache.iterdir())) == 1  # the copy hit the cache
    _descriptor_file(tmp_path / "renamed.pt", seed=1)  # other weights under the old name
    c = parse_features(f"torchscript:{tmp_path / 'renamed.pt'}")
    assert c.label != a.label
    embed(images, c, cache_dir=cache)
    assert len(list(cache.iterdir())) == 2


class _FakeFIDLayers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2048, 1)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3), keepdim=True)


class _FakeFIDNet(torch.nn.Module):
    """NVIDIA's layout: the graph under `layers`, fed (x - 128) / 128 at 299 x 299."""

    def __init__(self):
        super().__init__()
        self.layers = _FakeFIDLayers()

    def forward(self, x):
        return self.layers(x).reshape(-1, 2048)


def test_torchscript_fid_inception_form_is_fed_as_clean_fid_feeds_it(tmp_path):
    from cpaudit.auditing.networks import resize_299

    torch.manual_seed(0)
    net = _FakeFIDNet().eval()
    torch.jit.script(net).save(str(tmp_path / "inception-2015-12-05.pt"))
    images = torch.rand(2, 3, 8, 8) * 2 - 1
    for head, mode in (("inception", "clean"), ("inception-legacy", "legacy")):
        spec = parse_features(f"{head}:{tmp_path / 'inception-2015-12-05.pt'}")
        assert spec.resize == mode and mode in spec.label
        _, raw = embed(images, spec)
        with torch.no_grad():
            want = net.layers((resize_299((images + 1) * 127.5, mode) - 128) / 128).reshape(-1, 2048).numpy()
        assert np.allclose(raw, want, atol=1e-4)


def test_clean_resize_is_pil_bicubic_on_float_pixels():
    from PIL import Image

    from cpaudit.auditing.networks import resize_299

    x = torch.rand(1, 3, 32, 32) * 255
    got = resize_299(x, "clean")[0, 1].numpy()
    want = np.asarray(Image.fromarray(x[0, 1].numpy(), mode="F").resize((299, 299), Image.BICUBIC)).clip(0, 255)
    assert np.array_equal(got, want)


def test_fid_state_dict_form_loads_strictly_and_matches_pytorch_fid(tmp_path, monkeypatch):
    """pytorch-fid's architecture, checked against clean-fid's copy of it (an independent implementation)."""
    pytest.importorskip("torchvision", reason="the [fid] extra")
    from cpaudit.auditing.fid_inception import FIDInception

    torch.manual_seed(0)
    ours = FIDInception().eval()
    for m in ours.modules():  # random but non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = ours.net.state_dict()
    torch.save(state, tmp_path / "pt_inception.pth")
    spec = parse_features(f"inception-legacy:{tmp_path / 'pt_inception.pth'}")
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    _, raw = embed(images, spec)

    cleanfid = pytest.importorskip("cleanfid.inception_pytorch")
    monkeypatch.setattr(cleanfid, "load_state_dict_from_url", lambda *a, **k: state)
    from cpaudit.auditing.networks import resize_299

    ref = cleanfid.InceptionV3(
        output_blocks=[3], resize_input=False, normalize_input=True, use_fid_inception=True
    ).eval()
    with torch.no_grad():  # its input: [0, 1] at 299 x 299, bilinear as pytorch-fid resizes
        want = ref(resize_299((images + 1) * 127.5, "legacy") / 255)[0].flatten(1).numpy()
    assert np.allclose(raw, want, rtol=1e-4, atol=1e-4)

    partial = dict(list(state.items())[: len(state) * 2 // 3])
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(InputError, match="missing"):
        embed(images, parse_features(f"inception:{tmp_path / 'partial.pth'}"))
    from torchvision.models import inception_v3

    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), tmp_path / "imagenet.pth")
    with pytest.raises(InputError, match="FID Inception"):
        embed(images, parse_features(f"inception:{tmp_path / 'imagenet.pth'}"))


def test_truncated_or_foreign_weights_are_refused_in_one_line(tmp_path):
    _descriptor_file(tmp_path / "d.pt")
    data = (tmp_path / "d.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "foreign.pt").write_bytes(b"not a network" * 100)
    for name in ("truncated.pt", "foreign.pt"):
        for head in ("inception", "torchscript"):
            with pytest.raises(InputError) as e:
                embed(torch.zeros(1, 1, 8, 8), parse_features(f"{head}:{tmp_path / name}"))
            assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="not the FID Inception"):
        embed(torch.zeros(1, 1, 8, 8), parse_features(f"inception:{tmp_path / 'd.pt'}"))


def test_fid_command_on_two_sources(tmp_path):
    import json

    from typer.testing import CliRunner

    from cpaudit.cli.app import app

    r = CliRunner().invoke(app, ["fid", "digits", "digits", "--features", "pixel", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert abs(out["fid"]) < 1e-6 and out["n_a"] == out["n_b"] == 1797 and out["warning"] is None
    r = CliRunner().invoke(app, ["fid", "digits", str(tmp_path / "nope"), "--features", "pixel"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(app, ["fid", "digits", "digits", "--features", "inception:/nope.pt"])
    assert r.exit_code == 2 and "nope.pt" in r.output
