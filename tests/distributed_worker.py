"""Run under torchrun by tests/test_distributed.py: sample, train a classifier and score the MIA in one go.

argv: MODEL_DIR OUT_DIR. Each rank computes its shard; rank 0 writes OUT_DIR/{samples,classifier,audit}.
"""

import sys
from pathlib import Path

import torch

from cpaudit.pipelines.audit import AuditOptions, audit
from cpaudit.pipelines.sample import SampleOptions, sample
from cpaudit.pipelines.train_classifier import TrainClassifierOptions, train_classifier
from cpaudit.sampling.sampler import SamplerConfig
from cpaudit.train.classifier import ClassifierTrainConfig

torch.set_num_threads(1)
model, out = Path(sys.argv[1]), Path(sys.argv[2])
sample(
    SampleOptions(model=model, out=out / "samples", n=8, batch_size=4, sampler=SamplerConfig(steps=5), write_png=False)
)
train_classifier(
    TrainClassifierOptions(
        data="digits",
        out=out / "classifier",
        model=model,
        seed=3,
        base_channels=8,
        num_res_blocks=1,
        train=ClassifierTrainConfig(steps=6, batch_size=32, eval_every=3, eval_draws=1),
    )
)
audit(
    AuditOptions(
        samples=out / "samples",
        data="digits",
        split=model / "split.json",
        out=out / "audit",
        model=model,
        classifier=str(out / "classifier"),
        mia_t=(100,),
        mia_draws=2,
        permutations=50,
        alpha=0.3,
    )
)
