import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from cpaudit.audit.features import embed, parse_features
from cpaudit.errors import InputError


def test_timm_features_from_a_local_weights_file(tmp_path):
    import timm

    torch.manual_seed(0)
    net = timm.create_model("resnet18", pretrained=False, num_classes=0)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "w.safetensors"))
    spec = parse_features(f"timm:resnet18:{tmp_path / 'w.safetensors'}")
    assert spec.pretrained and spec.label == "timm:resnet18"
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
