"""Two CPU processes under torchrun (gloo) give the one-process result: samples, classifier, MIA scores."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cpaudit.distributed import World
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier
from cpaudit.models.load import load_classifier

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")


def test_shards_cover_every_row_once_in_order():
    for n in (0, 1, 7, 64):
        for size in (1, 2, 3, 5):
            rows = [i for r in range(size) for i in range(n)[World(r, size).shard(n)]]
            assert rows == list(range(n))


def test_shard_gradients_sum_to_the_full_batch_gradient():
    """What the all-reduce in train_random_label_classifier relies on, checked in one process."""
    torch.manual_seed(0)
    model = TimeClassifier(ClassifierConfig(1, 8, 8, (1, 2), 1))
    g = torch.Generator().manual_seed(1)
    x, t, y = (
        torch.randn(32, 1, 8, 8, generator=g),
        torch.randint(1000, (32,), generator=g),
        torch.randint(2, (32,), generator=g),
    )

    def grads(rows: slice) -> torch.Tensor:
        model.zero_grad()
        (F.binary_cross_entropy_with_logits(model(x[rows], t[rows]), y[rows].float(), reduction="sum") / 32).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    full = grads(slice(0, 32))
    shards = grads(World(0, 3).shard(32)) + grads(World(1, 3).shard(32)) + grads(World(2, 3).shard(32))
    assert torch.allclose(shards, full, atol=1e-6 * float(full.abs().max()))


def _run(nproc: int, model, out) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    if nproc == 1:
        cmd = [sys.executable, WORKER, str(model), str(out)]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            WORKER,
            str(model),
            str(out),
        ]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]


@pytest.mark.slow
def test_two_processes_equal_one(tiny_model, tmp_path):
    _run(1, tiny_model, tmp_path / "one")
    _run(2, tiny_model, tmp_path / "two")
    one, two = tmp_path / "one", tmp_path / "two"

    # Sampling: every image depends on its seed alone, and both runs batch the same seeds together.
    a, b = (np.load(d / "samples" / "samples.npz") for d in (one, two))
    assert np.array_equal(a["seeds"], b["seeds"]) and np.array_equal(a["images"], b["images"])
    assert json.loads((two / "samples" / "run.json").read_text())["world_size"] == 2

    # Classifier: same predictions. (Conv biases followed by GroupNorm have a true gradient of 0; Adam turns
    # float-order noise there into lr-sized steps, so those weights wander without changing any output.)
    ca, cb = (load_classifier(d / "classifier").model for d in (one, two))
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.arange(0, 1000, 1000 // 32)[:32]
    with torch.no_grad():
        np.testing.assert_allclose(ca(x, t).numpy(), cb(x, t).numpy(), atol=1e-4)
    assert json.loads((two / "classifier" / "config.json").read_text())["world_size"] == 2

    # MIA: each rank scores its block of images with the noise one process draws for them.
    ra, rb = (np.load(d / "audit" / "audit_data.npz") for d in (one, two))
    for key in ("attack_loss_pos", "attack_loss_neg", "attack_loss_protected_pos", "attack_loss_protected_neg"):
        np.testing.assert_allclose(ra[key], rb[key], rtol=1e-4, atol=1e-6, err_msg=key)
    ja, jb = (json.loads((d / "audit" / "results.json").read_text()) for d in (one, two))
    for key in ("loss", "loss_protected"):
        assert ja["attacks"][key]["auc"] == pytest.approx(jb["attacks"][key]["auc"], abs=1e-9)
    assert ja["nn"] == jb["nn"] and ja["permutation"] == jb["permutation"]
