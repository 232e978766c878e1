import torch
from safetensors.torch import load_file

from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, train_diffusion
from cpaudit.train.diffusion import DiffusionTrainConfig


def _opts(out, steps, resume=False):
    return TrainDiffusionOptions(
        data="digits",
        out=out,
        members=8,
        seed=1,
        base_channels=8,
        num_res_blocks=1,
        resume=resume,
        train=DiffusionTrainConfig(steps=steps, batch_size=8, checkpoint_every=5),
    )


def test_resume_continues_to_the_same_weights(tmp_path):
    train_diffusion(_opts(tmp_path / "straight", 10))
    train_diffusion(_opts(tmp_path / "split", 5))
    train_diffusion(_opts(tmp_path / "split", 10, resume=True))
    a = load_file(str(tmp_path / "straight" / "model.safetensors"))
    b = load_file(str(tmp_path / "split" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_and_files(tmp_path):
    train_diffusion(_opts(tmp_path / "a", 3))
    train_diffusion(_opts(tmp_path / "b", 3))
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert (tmp_path / "a" / "split.json").read_bytes() == (tmp_path / "b" / "split.json").read_bytes()
