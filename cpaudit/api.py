"""The Python API: the same functions the CLI calls, with keyword arguments named like its options."""

from __future__ import annotations

from pathlib import Path

from cpaudit.pipelines.sample import SampleOptions, SampleResult
from cpaudit.pipelines.sample import sample as _sample
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, TrainClassifierResult
from cpaudit.pipelines.train_classifier import train_classifier as _train_classifier
from cpaudit.pipelines.train_diffusion import TrainDiffusionOptions, TrainDiffusionResult
from cpaudit.pipelines.train_diffusion import train_diffusion as _train_diffusion
from cpaudit.sampling.protection import Protection
from cpaudit.sampling.sampler import Method, SamplerConfig
from cpaudit.train.classifier import ClassifierTrainConfig
from cpaudit.train.diffusion import DiffusionTrainConfig


def train_diffusion(
    data: str | Path, *, out: str | Path, members: int | None = 64, seed: int = 0, steps: int = 4000, resume: bool = False,
    device: str = "auto",
) -> TrainDiffusionResult:
    """`cpaudit train-diffusion DATA --out OUT`."""
    return _train_diffusion(TrainDiffusionOptions(
        data=str(data), out=Path(out), members=members, seed=seed, train=DiffusionTrainConfig(steps=steps), resume=resume,
        device=device))


def train_classifier(
    data: str | Path, *, out: str | Path, model: str | Path | None = None, members: int | None = 64, seed: int = 0,
    label_seed: int | None = None, steps: int = 3000, device: str = "auto",
) -> TrainClassifierResult:
    """`cpaudit train-classifier DATA --out OUT [--model DIR]`."""
    return _train_classifier(TrainClassifierOptions(
        data=str(data), out=Path(out), model=None if model is None else Path(model), members=members, seed=seed,
        label_seed=label_seed, train=ClassifierTrainConfig(steps=steps), device=device))


def sample(
    *, model: str | Path, out: str | Path, n: int = 256, steps: int = 50, seed: int = 0, method: Method = "ddim",
    eta: float = 0.0, batch_size: int = 256, protection: Protection | None = None,
    device: str = "auto",
) -> SampleResult:
    """`cpaudit sample --model DIR --out OUT [--protect ...]`."""
    return _sample(SampleOptions(
        model=Path(model), out=Path(out), n=n, seed=seed, batch_size=batch_size,
        sampler=SamplerConfig(steps=steps, method=method, eta=eta), protection=protection,
        device=device))
