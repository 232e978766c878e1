import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 16-member digits denoiser trained for a few steps: fast, deterministic, not memorising."""
    from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, train_diffusion
    from cpaudit.train.diffusion import DiffusionTrainConfig

    out = tmp_path_factory.mktemp("tiny_model")
    train_diffusion(
        TrainDiffusionOptions(
            data="digits", out=out, members=16, seed=3, base_channels=16, num_res_blocks=1,
            train=DiffusionTrainConfig(steps=20, batch_size=16, checkpoint_every=10),
        )
    )
    return out


@pytest.fixture(scope="session")
def tiny_classifier(tiny_model, tmp_path_factory) -> Path:
    from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
    from cpaudit.train.classifier import ClassifierTrainConfig

    out = tmp_path_factory.mktemp("tiny_classifier")
    train_classifier(
        TrainClassifierOptions(
            data="digits", out=out, model=tiny_model, seed=3, base_channels=16, num_res_blocks=1,
            train=ClassifierTrainConfig(steps=20, batch_size=32, eval_every=10, eval_draws=1),
        )
    )
    return out


def write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
