"""Interrupting training (Ctrl-C or SIGKILL) keeps the last complete checkpoint, and --resume reaches the
same weights as an uninterrupted run with the same seed."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

# 600 steps (about 4 s of training on one thread): a wide window for the signal, sent once the checkpoint
# of step 30 exists, to land before training ends.
ARGS = [
    "train-diffusion",
    "digits",
    "--n-members",
    "8",
    "--steps",
    "600",
    "--channels",
    "8",
    "--res-blocks",
    "1",
    "--batch-size",
    "8",
    "--checkpoint-every",
    "10",
    "--seed",
    "4",
    "--quiet",
]


def _cli(*args):
    # A shell that starts a job in the background (nohup, `&`) hands it SIGINT ignored, and Python then keeps
    # ignoring it; restore the default handler so the child meets Ctrl-C as a user at a terminal does.
    return [
        sys.executable,
        "-c",
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from cpaudit.cli.app import app; app()",
        *args,
    ]


def _step(path):
    with safe_open(str(path), framework="pt") as f:
        return int(f.metadata()["step"])


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupt_then_resume_equals_uninterrupted(tmp_path, sig):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(_cli(*ARGS, "--out", str(out)), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = out / "training_state.safetensors"
    deadline = time.time() + 120
    while time.time() < deadline and not (state.is_file() and _step(state) >= 30):
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, "training finished before the signal arrived"
    assert b"Traceback" not in err
    reached = _step(state)  # the checkpoint left behind is complete and readable
    assert 30 <= reached < 600 and not (out / "model.safetensors").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")] or sig == signal.SIGKILL

    subprocess.run(_cli(*ARGS, "--out", str(out), "--resume"), env=env, check=True, capture_output=True)
    subprocess.run(_cli(*ARGS, "--out", str(tmp_path / "straight")), env=env, check=True, capture_output=True)
    a = load_file(str(out / "model.safetensors"))
    b = load_file(str(tmp_path / "straight" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
