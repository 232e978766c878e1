"""diffusers-format models from a local folder: a tiny UNet2DModel the test builds and saves."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.core.schedules import Schedule
from cpaudit.models.load import load_model

diffusers = pytest.importorskip("diffusers")  # part of the dev extra; skipped only for a bare install
runner = CliRunner()


def _tiny_unet() -> "diffusers.UNet2DModel":
    torch.manual_seed(0)
    return diffusers.UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )


def save_unet_only(folder: Path, scheduler=None) -> "diffusers.UNet2DModel":
    unet = _tiny_unet()
    unet.save_pretrained(folder)
    (scheduler or diffusers.DDPMScheduler(num_train_timesteps=1000)).save_pretrained(folder)
    return unet


@pytest.fixture(scope="module")
def unet_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("diffusers_unet")
    save_unet_only(folder)
    return folder


def test_unet_only_layout_loads_and_predicts_like_diffusers(unet_folder):
    reference = _tiny_unet().eval()
    lm = load_model(unet_folder)
    assert lm.image_shape == (1, 8, 8)
    assert lm.data_fingerprint is None and lm.config["format"] == "diffusers"
    assert lm.schedule == Schedule("linear", 1000, 1e-4, 0.02)
    x, t = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 350, 999])
    with torch.no_grad():
        assert torch.allclose(lm.model(x, t), reference(x, t).sample, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, kind",
    [
        ({"beta_schedule": "linear"}, "linear"),
        ({"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}, "scaled_linear"),
        ({"beta_schedule": "squaredcos_cap_v2"}, "cosine"),
    ],
)
def test_pipeline_layout_takes_the_schedule_from_the_scheduler(tmp_path, kwargs, kind):
    _tiny_unet().save_pretrained(tmp_path / "unet")
    sched = diffusers.DDIMScheduler(num_train_timesteps=500, **kwargs)
    sched.save_pretrained(tmp_path / "scheduler")
    lm = load_model(tmp_path)
    assert lm.schedule.kind == kind and lm.schedule.T == 500
    # abar_t equals diffusers' own (it computes in float32).
    assert torch.allclose(lm.schedule.alphas_cumprod().float(), sched.alphas_cumprod, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["v_prediction", "sample"])
def test_v_and_x0_predictions_become_the_pair(tmp_path, kind):
    save_unet_only(tmp_path / kind, diffusers.DDPMScheduler(prediction_type=kind))
    lm, ref = load_model(tmp_path / kind), _tiny_unet().eval()
    assert lm.prediction == kind
    x, t = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(2)), torch.tensor([5, 900])
    a = lm.schedule.alphas_cumprod()[t].float().view(-1, 1, 1, 1)
    with torch.no_grad():
        out = ref(x, t).sample
        pred = lm.denoiser(x, t)
    if kind == "v_prediction":  # eps = sqrt(abar) v + sqrt(1 - abar) x_t, x0 = sqrt(abar) x_t - sqrt(1 - abar) v
        assert torch.allclose(pred.eps, a.sqrt() * out + (1 - a).sqrt() * x, atol=1e-6)
        assert torch.allclose(pred.x0, a.sqrt() * x - (1 - a).sqrt() * out, atol=1e-6)
    else:
        assert torch.equal(pred.x0, out)
        assert torch.allclose(pred.eps, (x - a.sqrt() * out) / (1 - a).sqrt(), atol=1e-5)


def test_zero_snr_and_trained_betas_load(tmp_path):
    save_unet_only(tmp_path / "z", diffusers.DDPMScheduler(prediction_type="v_prediction", rescale_betas_zero_snr=True))
    lm = load_model(tmp_path / "z")
    assert lm.schedule.zero_snr and lm.path.at(999)[0] == 0.0 and lm.path.at(999)[1] == 1.0
    betas = torch.linspace(1e-4, 0.02, 1000).tolist()
    save_unet_only(tmp_path / "tb", diffusers.DDPMScheduler(trained_betas=betas))
    lm = load_model(tmp_path / "tb")
    assert lm.schedule.kind == "trained" and torch.allclose(
        lm.schedule.betas(), torch.tensor(betas, dtype=torch.float64)
    )


def test_refuses_what_it_cannot_reproduce(tmp_path):
    save_unet_only(tmp_path / "x0")
    cfg = json.loads((tmp_path / "x0" / "scheduler_config.json").read_text())
    (tmp_path / "x0" / "scheduler_config.json").write_text(json.dumps({**cfg, "prediction_type": "velocity"}))
    r = runner.invoke(app, ["sample", "--model", str(tmp_path / "x0"), "--out", str(tmp_path / "s"), "--n", "1"])
    assert r.exit_code == 2 and "prediction_type 'velocity'" in r.output and "scheduler_config.json" in r.output
    assert "epsilon, v_prediction, sample" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "s").exists()
    # Flow matching, and zero terminal SNR with eps-prediction: one line naming what is supported.
    for name, extra in (
        ("flow", {"_class_name": "FlowMatchEulerDiscreteScheduler"}),
        ("zsnr", {"rescale_betas_zero_snr": True}),
    ):
        save_unet_only(tmp_path / name)
        cfg = json.loads((tmp_path / name / "scheduler_config.json").read_text())
        (tmp_path / name / "scheduler_config.json").write_text(json.dumps({**cfg, **extra}))
        r = runner.invoke(app, ["sample", "--model", str(tmp_path / name), "--out", str(tmp_path / "s"), "--n", "1"])
        assert r.exit_code == 2 and "supports" in r.output and len(r.output.strip().splitlines()) == 1, r.output
    # Pickled weights only: refused, never unpickled.
    save_unet_only(tmp_path / "bin")
    (tmp_path / "bin" / "diffusion_pytorch_model.safetensors").rename(tmp_path / "bin" / "diffusion_pytorch_model.bin")
    r = runner.invoke(app, ["sample", "--model", str(tmp_path / "bin"), "--out", str(tmp_path / "s"), "--n", "1"])
    assert r.exit_code == 2 and "diffusion_pytorch_model.safetensors: no such file" in r.output


def test_sample_train_classifier_protect_and_audit_a_diffusers_model(unet_folder, tmp_path):
    plain, prot, clf, aud = (tmp_path / d for d in ("plain", "prot", "clf", "audit"))
    r = runner.invoke(
        app, ["sample", "--model", str(unet_folder), "--out", str(plain), "--n", "4", "--steps", "5", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    run = json.loads((plain / "run.json").read_text())
    assert run["model_format"] == "diffusers" and run["image_shape"] == [1, 8, 8]
    # Same seed, other batch size: same images (the sampler's per-seed generators apply to any eps model).
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(unet_folder),
            "--out",
            str(tmp_path / "b1"),
            "--n",
            "4",
            "--steps",
            "5",
            "--batch-size",
            "1",
            "--quiet",
        ],
    )
    assert r.exit_code == 0
    a, b = (np.load(p / "samples.npz")["images"] for p in (plain, tmp_path / "b1"))
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1

    # The model records no members: without --split, train-classifier refuses instead of guessing them.
    r = runner.invoke(
        app,
        [
            "train-classifier",
            "digits",
            "--model",
            str(unet_folder),
            "--out",
            str(clf),
            "--n-members",
            "16",
            "--steps",
            "5",
            "--channels",
            "8",
        ],
    )
    assert (
        r.exit_code == 2
        and "--split" in r.output
        and "never guesses" in r.output
        and len(r.output.strip().splitlines()) == 1
    )
    assert not clf.exists()
    # The user's word for the members: a split.json; the classifier takes the model's schedule.
    from cpaudit.data.load import load_data
    from cpaudit.data.split import make_split, write_split

    digits = load_data("digits")
    write_split(tmp_path / "split.json", digits, make_split(digits, members=16, seed=0))
    r = runner.invoke(
        app,
        [
            "train-classifier",
            "digits",
            "--model",
            str(unet_folder),
            "--out",
            str(clf),
            "--split",
            str(tmp_path / "split.json"),
            "--steps",
            "5",
            "--channels",
            "8",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads((clf / "config.json").read_text())["schedule"] == load_model(unet_folder).schedule.to_dict()
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(unet_folder),
            "--out",
            str(prot),
            "--n",
            "4",
            "--steps",
            "5",
            "--protect",
            "--classifier",
            str(clf),
            "--alpha",
            "0.5",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads((prot / "run.json").read_text())["fired_fraction"] == 1.0  # alpha 0.5 fires at every step

    r = runner.invoke(
        app,
        [
            "audit",
            "--samples",
            str(plain),
            "--data",
            "digits",
            "--split",
            str(clf / "split.json"),
            "--out",
            str(aud),
            "--model",
            str(unet_folder),
            "--classifier",
            str(clf),
            "--mia-t",
            "100",
            "--mia-draws",
            "1",
            "--permutations",
            "20",
            "--json",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["attacks"]["loss"]["by_variant"][0]["variant"] == "t=100" and "loss_protected" in res["attacks"]
    assert res["setup"]["model_config"]["format"] == "diffusers"

    # --classifier exact needs members the model does not record.
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(unet_folder),
            "--out",
            str(tmp_path / "x"),
            "--n",
            "1",
            "--protect",
            "--classifier",
            "exact",
        ],
    )
    assert r.exit_code == 2 and "records no training data" in r.output
