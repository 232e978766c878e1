import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

# CPAUDIT_TEST_THREADS lets CI run the suite once more on one thread: another reduction order, as on another machine.
torch.set_num_threads(int(os.environ.get("CPAUDIT_TEST_THREADS", max(1, min(2, os.cpu_count() or 1)))))

# Floating-point kernels differ between machines of one kind (AVX-512 or AVX2 only, oneDNN and MKL code paths
# chosen by batch size and instruction set, thread count), so float32 results agree only to rounding there.
# Sampled images in [-1, 1] from the same seed have differed by at most 4.8e-5 between a batch and one by one
# (10 DDIM steps of the tiny UNet; measured on AVX-512 and AVX2 machines and under ONEDNN_MAX_CPU_ISA=SSE41).
# Per network call, float32 sums of a few hundred terms reordered by another kernel differ by ~1e-6 relative;
# DDIM's first steps divide the eps error by sqrt(abar_t) (>= 0.0064 at t = 999), so 10 steps leave ~1e-5 to 1e-4.
# SAMPLE_ATOL = 2e-4 covers that with a margin and is still 1/40 of one grey level (2/255): a wrong seed or
# a batch mix-up moves pixels by O(1) and fails it.
SAMPLE_ATOL = 2e-4


def assert_within_one_grey_level(a: np.ndarray, b: np.ndarray) -> None:
    """Written uint8 images from the same seeds: a float difference of SAMPLE_ATOL can cross a rounding
    boundary, so a pixel may differ by one grey level, never more, and only rarely."""
    a, b = np.asarray(a, dtype=np.int16), np.asarray(b, dtype=np.int16)
    assert a.shape == b.shape
    diff = np.abs(a - b)
    assert diff.max(initial=0) <= 1, f"pixels differ by up to {diff.max()} grey levels"
    assert (diff > 0).mean() <= 0.01, f"{(diff > 0).mean():.1%} of pixels differ"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 16-member digits denoiser trained for a few steps: fast, deterministic, not memorising."""
    from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, train_diffusion
    from cpaudit.train.diffusion import DiffusionTrainConfig

    out = tmp_path_factory.mktemp("tiny_model")
    train_diffusion(
        TrainDiffusionOptions(
            data="digits",
            out=out,
            members=16,
            seed=3,
            base_channels=16,
            num_res_blocks=1,
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
            data="digits",
            out=out,
            model=tiny_model,
            seed=3,
            base_channels=16,
            num_res_blocks=1,
            train=ClassifierTrainConfig(steps=20, batch_size=32, eval_every=10, eval_draws=1),
        )
    )
    return out


def write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
