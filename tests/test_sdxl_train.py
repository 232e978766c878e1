"""`train-diffusion --text --arch sdxl`: a tiny SDXL-architecture pipeline trained on captioned members, written
as a folder that cpaudit's loader and diffusers' StableDiffusionXLPipeline both read; the training loop passes
SDXL's added conditions and drops captions to the unconditional input the sampler uses."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.models.conditioning import TextCond
from cpaudit.train.text_diffusion import caption_dropout

pytest.importorskip("diffusers")
pytest.importorskip("transformers")
runner = CliRunner()


@pytest.fixture(scope="module")
def sdxl_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sdxl") / "model"
    r = runner.invoke(
        app,
        [
            "train-diffusion",
            "captioned-digits",
            "--text",
            "--arch",
            "sdxl",
            "--out",
            str(out),
            "--n-members",
            "16",
            "--steps",
            "3",
            "--vae-steps",
            "3",
            "--batch-size",
            "8",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    return out


def test_sdxl_folder_loads_in_cpaudit_and_diffusers(sdxl_model):
    from diffusers import StableDiffusionXLPipeline

    from cpaudit.models.load import load_model

    index = json.loads((sdxl_model / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionXLPipeline" and index["force_zeros_for_empty_prompt"] is True
    meta = json.loads((sdxl_model / "cpaudit.json").read_text())
    assert meta["arch"] == "sdxl" and meta["n_members"] == 16 and meta["train"]["steps"] == 3
    lm = load_model(sdxl_model)
    assert lm.config["pipeline"] == "StableDiffusionXLPipeline" and lm.image_shape == (1, 32, 32)
    assert lm.config["time_ids"] == [32, 32, 0, 0, 32, 32]
    pipe = StableDiffusionXLPipeline.from_pretrained(str(sdxl_model))
    images = pipe("a photo of a shy brown fox", num_inference_steps=2, height=32, width=32, output_type="np").images
    assert images.shape == (1, 32, 32, 1)


def test_arch_needs_text_and_a_known_name(tmp_path):
    r = runner.invoke(app, ["train-diffusion", "digits", "--arch", "sdxl", "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "--arch" in r.output and "--text" in r.output
    r = runner.invoke(
        app, ["train-diffusion", "captioned-digits", "--text", "--arch", "sd4", "--out", str(tmp_path / "m")]
    )
    assert r.exit_code == 2 and "'sd4' is not one of sd, sdxl, sd3, flux" in r.output


def test_caption_dropout_takes_the_unconditional_half_with_its_pooled_embedding():
    embeds, pooled = torch.arange(1.0, 4.0)[:, None, None].expand(3, 2, 4), torch.arange(1.0, 4.0)[:, None].expand(3, 5)
    ids = torch.ones(3, 6)
    cond = TextCond(embeds, torch.zeros_like(embeds), 7.5, pooled, torch.zeros_like(pooled), ids)
    out = caption_dropout(cond, torch.tensor([False, True, False]))
    assert out.guidance_scale == 1.0 and torch.equal(out.time_ids, ids)
    assert out.prompt_embeds[:, 0, 0].tolist() == [1.0, 0.0, 3.0] and out.pooled_prompt_embeds[:, 0].tolist() == [
        1.0,
        0.0,
        3.0,
    ]
    sd = caption_dropout(TextCond(embeds, -embeds), torch.tensor([True, False, False]))
    assert sd.pooled_prompt_embeds is None and sd.prompt_embeds[:, 0, 0].tolist() == [-1.0, 2.0, 3.0]


def test_results_sdxl_section_equals_the_committed_benchmark():
    """benchmarks/RESULTS.md's SDXL section is benchmarks/results/sdxl_memorisation.json, rendered; its seeds are
    the evaluation seeds, apart from the tuning seeds every default was chosen on."""
    from benchmarks.sdxl_memorisation import EVAL_SEED, JSON_OUT, results_markdown

    root = Path(__file__).resolve().parent.parent
    record = json.loads((root / JSON_OUT).read_text())
    assert record["demo"]["sample_seed"] == EVAL_SEED == 7_000_000 and record["model"]["arch"] == "sdxl"
    assert results_markdown(record) in (root / "benchmarks" / "RESULTS.md").read_text()
    unprotected = json.loads(
        (root / "benchmarks" / "results" / "sdxl_demo" / "unprotected" / "results.json").read_text()
    )
    assert unprotected["attacks"]["prompted_extraction"]["auc"] == record["demo"]["table"][0]["extraction_auc"]
