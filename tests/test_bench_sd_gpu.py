"""benchmarks/bench_sd_gpu.py works: its --tiny SDXL, SD3.5-medium and FLUX modes end to end on the CPU
(seconds), and its real-size builds have SDXL base's, SD3.5-medium's and FLUX.1-dev's dimensions (built on the
meta device: no memory, no computation). The real-size benchmark itself never runs here."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_sd_gpu.py"


def test_tiny_sdxl_run_writes_the_json(tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--arch",
        "sdxl",
        "--tiny",
        "--device",
        "cpu",
        "--steps",
        "2",
        "--warmup-steps",
        "1",
        "--batches",
        "2",
        "--repeats",
        "1",
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| dtype | batch | unprotected s | protected s | ratio |" in proc.stdout
    record = json.loads(out.read_text())
    assert {
        "machine",
        "device",
        "arch",
        "tiny",
        "command",
        "parameters",
        "unet_parameters",
        "classifier_parameters",
        "latent_shape",
        "image_shape",
        "steps",
        "guidance_scale",
        "dtypes",
        "batches",
        "peak_gib_by_dtype",
        "summary",
        "rows",
    } <= set(record)
    assert record["arch"] == "sdxl" and record["tiny"] is True and record["device"] == "cpu"
    assert set(record["parameters"]) == {"unet", "vae", "text_encoder", "text_encoder_2"}
    assert record["latent_shape"] == [4, 8, 8] and record["image_shape"] == [3, 64, 64]
    assert record["dtypes"] == ["fp16", "bf16"]  # sdxl's default precisions
    assert set(record["peak_gib_by_dtype"]) == {"fp16", "bf16"}
    assert [(s["dtype"], s["batch"]) for s in record["summary"]] == [("fp16", 2), ("bf16", 2)]
    for s in record["summary"]:
        assert {
            "unprotected_s",
            "protected_s",
            "ratio",
            "sampling_ratio",
            "peak_gib_unprotected",
            "peak_gib_protected",
            "peak_sampling_gib_unprotected",
            "peak_sampling_gib_protected",
        } <= set(s)
        # The JSON rounds times and ratio to 3 decimals: a ratio recomputed from the rounded times may differ by
        # as much as that rounding propagates (half a millisecond in each time, half a unit in the ratio's last place).
        u, p = s["unprotected_s"], s["protected_s"]
        assert abs(s["ratio"] - p / u) <= 5e-4 * (1 / u + p / u**2) + 5e-4 + 1e-9
        assert s["peak_gib_protected"] is None  # no GPU memory on the CPU
    assert len(record["rows"]) == 4
    for row in record["rows"]:
        assert {
            "dtype",
            "batch",
            "protected",
            "seconds",
            "sampling_seconds",
            "decode_seconds",
            "peak_gib",
            "peak_sampling_gib",
            "peak_decode_gib",
            "guided_steps",
            "finite_samples",
            "ratio",
        } <= set(row)
        assert row["finite_samples"] == 2
        assert row["guided_steps"] == (2 if row["protected"] else 0)  # protected guides at every step


def test_real_size_sdxl_has_sdxl_base_dimensions():
    """Built on the meta device: parameter counts of stabilityai/stable-diffusion-xl-base-1.0's components."""
    import torch

    spec = importlib.util.spec_from_file_location("bench_sd_gpu", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model, parts = bench.sdxl(False, torch.device("meta"))
    counts = {k: sum(p.numel() for p in m.parameters()) for k, m in parts.items()}
    assert counts == {
        "unet": 2_567_463_684,
        "vae": 83_653_863,
        "text_encoder": 123_060_480,
        "text_encoder_2": 694_659_840,
    }
    assert model.space_shape == (4, 128, 128) and model.image_shape == (3, 1024, 1024)
    assert model.prompts.time_ids == (1024, 1024, 0, 0, 1024, 1024)
    unet = parts["unet"].config
    assert unet.cross_attention_dim == 2048 and unet.projection_class_embeddings_input_dim == 2816
    assert tuple(unet.transformer_layers_per_block) == (1, 2, 10) and tuple(unet.attention_head_dim) == (5, 10, 20)


def _tiny_run(tmp_path, arch: str, steps: int) -> dict:
    out = tmp_path / f"{arch}.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--arch",
        arch,
        "--tiny",
        "--device",
        "cpu",
        "--steps",
        str(steps),
        "--warmup-steps",
        "1",
        "--batches",
        "2",
        "--repeats",
        "1",
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| dtype | batch | unprotected s | protected s | ratio |" in proc.stdout and "warning" not in proc.stdout
    return json.loads(out.read_text())


@pytest.mark.parametrize(
    "arch, encoders",
    [("sd35m", {"text_encoder", "text_encoder_2", "text_encoder_3"}), ("flux", {"text_encoder", "text_encoder_2"})],
)
def test_tiny_flow_run_writes_the_json(tmp_path, arch, encoders):
    """The flow transformers through cpaudit's sampler in bf16 (their default); CPSample guides at every step but
    the first, sigma = 1, where x_t is pure noise."""
    record = _tiny_run(tmp_path, arch, steps=3)
    assert record["arch"] == arch and record["tiny"] is True and record["dtypes"] == ["bf16"] and record["steps"] == 3
    assert set(record["parameters"]) == {"transformer", "vae"} | encoders and record["transformer_parameters"] > 0
    assert record["latent_shape"] == [16, 8, 8] and record["image_shape"] == [3, 64, 64]
    assert record["guidance_scale"] == {"sd35m": 7.0, "flux": 3.5}[arch] and record["guidable_steps"] == 2
    assert [(s["dtype"], s["batch"]) for s in record["summary"]] == [("bf16", 2)]
    for row in record["rows"]:
        assert row["finite_samples"] == 2 and row["guided_steps"] == (2 if row["protected"] else 0)


def _bench():
    spec = importlib.util.spec_from_file_location("bench_sd_gpu", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_real_size_flow_models_have_their_dimensions():
    """On the meta device: SD3.5-medium's transformer (2.47B with its pos_embed buffer, the model card's 2.5B);
    FLUX.1-dev's at its full depth is its 11,901,408,320 parameters; the default depth, 5 and 10 blocks."""
    import torch

    bench = _bench()
    model, parts = bench.build(bench.parse(["--arch", "sd35m"]), torch.device("meta"))
    t = parts["transformer"]
    assert sum(p.numel() for p in t.parameters()) + t.pos_embed.pos_embed.numel() == 2_469_663_936
    assert t.pos_embed.pos_embed.shape == (1, 384 * 384, 1536) and tuple(t.config.dual_attention_layers) == tuple(
        range(13)
    )
    assert model.space_shape == (16, 128, 128) and model.config["image_seq_len"] == 4096
    assert sum(p.numel() for p in parts["text_encoder_2"].parameters()) == 694_659_840  # CLIP-G, as SDXL's
    _, parts = bench.build(
        bench.parse(["--arch", "flux", "--double-blocks", "19", "--single-blocks", "38"]), torch.device("meta")
    )
    assert sum(p.numel() for p in parts["transformer"].parameters()) == 11_901_408_320
    _, parts = bench.build(bench.parse(["--arch", "flux"]), torch.device("meta"))
    assert (parts["transformer"].config.num_layers, parts["transformer"].config.num_single_layers) == (5, 10)
