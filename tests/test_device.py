"""--device: parsing, the GPU a torchrun process takes, the process-group backend, and CPU results unchanged.

No GPU exists where the suite runs, so CUDA's presence is simulated (torch.cuda.is_available/device_count)
to check which device and backend would be chosen; the computation itself runs on the CPU.
"""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cpaudit import distributed
from cpaudit.cli.app import app
from cpaudit.device import describe, resolve_device
from cpaudit.errors import InputError
from cpaudit.pipelines.sample import SampleOptions, sample
from cpaudit.sampling.sampler import SamplerConfig

runner = CliRunner()


def _fake_gpus(monkeypatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_cpu_and_auto_without_cuda(monkeypatch):
    _fake_gpus(monkeypatch, 0)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("tpu", "expected auto, cpu, cuda or cuda:N"),
        ("cuda", "CUDA is not available"),
        ("cuda:0", "CUDA is not available"),
        ("mps", "expected auto, cpu, cuda or cuda:N"),
    ],
)
def test_unusable_devices_are_input_errors(monkeypatch, spec, needle):
    _fake_gpus(monkeypatch, 0)
    with pytest.raises(InputError, match=needle):
        resolve_device(spec)


def test_cuda_is_this_processs_gpu_under_torchrun(monkeypatch):
    _fake_gpus(monkeypatch, 2)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)  # an explicit index wins
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(InputError, match="LOCAL_RANK 2 but the machine has 2 GPU"):
        resolve_device("cuda")
    with pytest.raises(InputError, match="cuda:0 to cuda:1"):
        resolve_device("cuda:2")
    with pytest.raises(InputError, match="integer N"):
        resolve_device("cuda:x")


def test_backend_is_gloo_without_cuda_and_adds_nccl_with_it(monkeypatch):
    _fake_gpus(monkeypatch, 0)
    assert distributed.backend() == "gloo"
    chosen = []
    _fake_gpus(monkeypatch, 2)
    monkeypatch.setattr(torch.distributed, "is_nccl_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.backend() == "cpu:gloo,cuda:nccl"
    assert chosen == [1]  # nccl's collectives run on this process's own GPU


def test_describe_names_the_cpu():
    assert describe(torch.device("cpu")).startswith("cpu (")


def test_explicit_cpu_equals_auto_on_a_machine_without_cuda(tiny_model, tmp_path):
    cfg = SamplerConfig(steps=5)
    a = sample(
        SampleOptions(model=tiny_model, out=tmp_path / "a", n=6, seed=11, batch_size=4, sampler=cfg, write_png=False)
    )
    b = sample(
        SampleOptions(
            model=tiny_model, out=tmp_path / "b", n=6, seed=11, batch_size=4, sampler=cfg, write_png=False, device="cpu"
        )
    )
    assert np.array_equal(a.images, b.images)
    assert json.loads((tmp_path / "b" / "run.json").read_text())["device"] == describe(torch.device("cpu"))


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "--model", "{model}", "--out", "{out}"],
        ["train-diffusion", "digits", "--out", "{out}", "--steps", "1"],
        ["train-classifier", "digits", "--model", "{model}", "--out", "{out}", "--steps", "1"],
        ["audit", "--samples", "{model}", "--data", "digits", "--split", "{model}/split.json", "--out", "{out}"],
        ["demo", "--quick", "--out", "{out}"],
    ],
)
def test_cli_refuses_a_missing_gpu_before_writing(monkeypatch, tiny_model, tmp_path, argv):
    _fake_gpus(monkeypatch, 0)
    out = tmp_path / "out"
    args = [a.format(model=tiny_model, out=out) for a in argv] + ["--device", "cuda", "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --device:") and "CUDA is not available" in lines[0], r.output
    assert not out.exists()
