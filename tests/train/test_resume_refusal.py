"""--resume continues only the run it finds: another seed or split design is refused before anything is written."""

from dataclasses import replace

import pytest

from cpaudit.errors import InputError
from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, train_diffusion
from cpaudit.train.diffusion import DiffusionTrainConfig


def _opts(out, **kw):
    return TrainDiffusionOptions(
        data="digits",
        out=out,
        members=8,
        seed=1,
        base_channels=8,
        num_res_blocks=1,
        train=DiffusionTrainConfig(steps=1, batch_size=8),
        **kw,
    )


@pytest.mark.parametrize("change", [{"seed": 2}, {"split_design": "poisson"}])
def test_resume_with_another_seed_or_split_design_is_refused(tmp_path, change):
    train_diffusion(_opts(tmp_path))
    split_before = (tmp_path / "split.json").read_bytes()
    with pytest.raises(InputError, match="other data, seed or split design"):
        train_diffusion(replace(_opts(tmp_path, resume=True), **change))
    assert (tmp_path / "split.json").read_bytes() == split_before


def test_resume_into_an_empty_folder_trains_from_scratch(tmp_path):
    result = train_diffusion(_opts(tmp_path / "new", resume=True))
    assert result.steps == 1 and (tmp_path / "new" / "model.safetensors").is_file()
