"""Stable-Diffusion-style pipeline folders: cpaudit's own sampler against diffusers' StableDiffusionPipeline
on the same initial latents (one generator per sample), folders written by either loading in the other,
v-prediction, LoRA, and the one-line refusals."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.core.schedules import Schedule
from cpaudit.models.load import load_model
from cpaudit.models.tiny_sd import TinySDConfig, save_pipeline, tiny_text_encoder, tiny_unet, tiny_vae, word_tokenizer
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.draw import draw_run
from cpaudit.sampling.sampler import SamplerConfig

diffusers = pytest.importorskip("diffusers")
pytest.importorskip("transformers")
runner = CliRunner()
PROMPTS = ["a photo of a red cat", "a photo of a blue dog", "a photo of a shy green owl"]
SD_SCHEDULE = Schedule("scaled_linear", 1000, 0.00085, 0.012)


def _components(seed: int = 0):
    torch.manual_seed(seed)
    cfg = TinySDConfig(vae_channels=(8, 16), unet_channels=(16, 32), text_width=16, attention_head_dim=4)
    tok = word_tokenizer(PROMPTS, cfg.max_length)
    return tiny_unet(8, cfg), tiny_vae(1, 16, cfg), tiny_text_encoder(tok, cfg), tok


def _perturb(module: torch.nn.Module, seed: int) -> None:
    """Random weights everywhere (diffusers zero-initialises some output layers)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sd")
    unet, vae, te, tok = _components()
    _perturb(unet, 1)
    save_pipeline(folder, unet, vae, te, tok, SD_SCHEDULE)
    return folder


def _cpaudit_images(folder: Path, seeds, steps=8, g=3.0, **load) -> torch.Tensor:
    lm = load_model(folder, **load)
    conds = Conditions(tuple(PROMPTS), g)
    return draw_run(lm, list(seeds), SamplerConfig(steps=steps), conditions=conds).images


def _diffusers_images(pipe, seeds, steps=8, g=3.0) -> torch.Tensor:
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    out = pipe(PROMPTS, num_inference_steps=steps, guidance_scale=g, generator=gens, output_type="pt", eta=0.0).images
    return out * 2 - 1  # diffusers returns [0, 1]


def test_same_images_as_diffusers_stable_diffusion_pipeline(pipeline_folder):
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(str(pipeline_folder), local_files_only=True)
    assert type(pipe.scheduler).__name__ == "DDIMScheduler"
    ours = _cpaudit_images(pipeline_folder, [10, 11, 12]).clamp(-1, 1)
    theirs = _diffusers_images(pipe, [10, 11, 12])
    assert ours.shape == theirs.shape == (3, 1, 16, 16)
    assert (ours - theirs).abs().max() < 1e-4
    # Guidance scale 1 is the prompt alone, on both sides.
    assert (
        _cpaudit_images(pipeline_folder, [3, 4, 5], g=1.0).clamp(-1, 1) - _diffusers_images(pipe, [3, 4, 5], g=1.0)
    ).abs().max() < 1e-4


def test_a_folder_diffusers_saves_loads_in_cpaudit(tmp_path):
    unet, vae, te, tok = _components(seed=3)
    _perturb(unet, 4)
    pndm = diffusers.PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        set_alpha_to_one=False,
        skip_prk_steps=True,
        steps_offset=1,
    )
    pipe = diffusers.StableDiffusionPipeline(
        vae=vae,
        text_encoder=te,
        tokenizer=tok,
        unet=unet,
        scheduler=pndm,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(tmp_path), safe_serialization=True)
    lm = load_model(tmp_path)
    assert lm.conditioning == "text" and lm.space_shape == (4, 8, 8) and lm.image_shape == (1, 16, 16)
    assert lm.schedule == SD_SCHEDULE and lm.spacing.kind == "leading" and lm.spacing.steps_offset == 1
    # cpaudit's sampler is DDIM on the folder's own betas and spacing, never clipping latents: diffusers' DDIM
    # from the same config.
    pipe.scheduler = diffusers.DDIMScheduler.from_config(pipe.scheduler.config, clip_sample=False)
    assert (_cpaudit_images(tmp_path, [0, 1, 2]).clamp(-1, 1) - _diffusers_images(pipe, [0, 1, 2])).abs().max() < 1e-4


def test_v_prediction_samples_equal_their_eps_conversion(pipeline_folder, tmp_path):
    v_folder = tmp_path / "v"
    shutil.copytree(pipeline_folder, v_folder)
    cfg_path = v_folder / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(json.dumps({**cfg, "prediction_type": "v_prediction"}))
    lm = load_model(v_folder)
    x, t = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0)), torch.tensor([10, 700])
    emb = lm.prompts.embed(PROMPTS[:2])
    with torch.no_grad():
        v = lm.model.unet(x, t, encoder_hidden_states=emb).sample
        a = lm.schedule.alphas_cumprod()[t].float().view(-1, 1, 1, 1)
        assert torch.allclose(lm.denoiser(x, t, emb).eps, a.sqrt() * v + (1 - a).sqrt() * x, atol=1e-6)
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(str(v_folder), local_files_only=True)
    assert pipe.scheduler.config.prediction_type == "v_prediction"
    assert (_cpaudit_images(v_folder, [7, 8, 9]).clamp(-1, 1) - _diffusers_images(pipe, [7, 8, 9])).abs().max() < 1e-4


def test_lora_applies_as_diffusers_applies_it(pipeline_folder, tmp_path):
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = load_model(pipeline_folder).model.unet
    unet.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False)
    )
    lora_dir = tmp_path / "lora"
    diffusers.StableDiffusionPipeline.save_lora_weights(str(lora_dir), unet_lora_layers=get_peft_model_state_dict(unet))
    lora_file = lora_dir / "pytorch_lora_weights.safetensors"
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(str(pipeline_folder), local_files_only=True)
    base = _diffusers_images(pipe, [1, 2, 3])
    pipe.load_lora_weights(str(lora_file))
    theirs = _diffusers_images(pipe, [1, 2, 3])
    ours = _cpaudit_images(pipeline_folder, [1, 2, 3], lora=lora_file).clamp(-1, 1)
    assert (ours - theirs).abs().max() < 1e-4 and (theirs - base).abs().max() > 1e-3
    assert load_model(pipeline_folder, lora=lora_file).config["lora"]["unet_tensors"] > 0

    # A LoRA for another base (other widths): bad input, one line.
    other = tmp_path / "other"
    unet2, vae2, te2, tok2 = _components()
    big = diffusers.UNet2DConditionModel(
        **{**dict(unet2.config), "block_out_channels": (32, 64), "cross_attention_dim": 16}
    )
    big.add_adapter(LoraConfig(r=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False))
    diffusers.StableDiffusionPipeline.save_lora_weights(str(other), unet_lora_layers=get_peft_model_state_dict(big))
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(pipeline_folder),
            "--lora",
            str(other / "pytorch_lora_weights.safetensors"),
            "--prompt",
            "a red cat",
            "--out",
            str(tmp_path / "s"),
            "--n",
            "1",
            "--steps",
            "2",
        ],
    )
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "LoRA" in r.output, r.output
    assert not (tmp_path / "s").exists()


def test_sample_cli_records_each_prompt(pipeline_folder, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(pipeline_folder),
            "--prompts",
            str(prompts),
            "--out",
            str(tmp_path / "s"),
            "--steps",
            "3",
            "--guidance-scale",
            "2",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "s" / "run.json").read_text())
    assert run["n"] == 3 and run["conditioning"] == "text" and run["image_shape"] == [1, 16, 16]
    assert run["conditions"]["prompt_of_seed"] == {"0": PROMPTS[0], "1": PROMPTS[1], "2": PROMPTS[2]}
    assert np.load(tmp_path / "s" / "samples.npz")["images"].shape == (3, 16, 16, 1)


def _one_line_exit_2(r, *needles):
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    for n in needles:
        assert n in r.output, r.output


def test_refusals_are_one_line(pipeline_folder, tmp_path):
    def sample(model, *extra):
        return runner.invoke(
            app, ["sample", "--model", str(model), "--out", str(tmp_path / "out"), "--n", "1", "--steps", "2", *extra]
        )

    xl = tmp_path / "xl"
    shutil.copytree(pipeline_folder, xl)
    index = json.loads((xl / "model_index.json").read_text())
    (xl / "model_index.json").write_text(
        json.dumps(
            {
                **index,
                "_class_name": "StableDiffusionXLPipeline",
                "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
            }
        )
    )
    _one_line_exit_2(sample(xl, "--prompt", "a cat"), "SDXL", "Stable Diffusion 1.x/2.x")

    flow = tmp_path / "flow"
    (flow / "scheduler").mkdir(parents=True)
    (flow / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusion3Pipeline",
                "transformer": ["diffusers", "SD3Transformer2DModel"],
                "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
            }
        )
    )
    _one_line_exit_2(sample(flow, "--prompt", "a cat"), "flow-matching", "supports")

    pickled = tmp_path / "pickled"
    shutil.copytree(pipeline_folder, pickled)
    w = pickled / "unet" / "diffusion_pytorch_model.safetensors"
    w.rename(w.with_suffix(".bin"))
    _one_line_exit_2(sample(pickled, "--prompt", "a cat"), ".bin", "never loaded")

    bad = tmp_path / "bad_prompts.txt"
    bad.write_text("a red cat\n\na blue dog\n")
    _one_line_exit_2(sample(pipeline_folder, "--prompts", str(bad)), "line 2", "bad_prompts.txt")

    _one_line_exit_2(sample(pipeline_folder), "--prompt")
    assert not (tmp_path / "out").exists()


def _random_classifier():
    from cpaudit.models.classifier import ClassifierConfig, TimeClassifier

    torch.manual_seed(5)
    net = TimeClassifier(ClassifierConfig(4, 8, 8, (1, 2), 1)).eval()
    _perturb(net, 6)
    return lambda x, t: net(x, t)


def test_native_scheduler_matches_cpaudits_sampler_with_and_without_guidance(pipeline_folder):
    from cpaudit.sampling.protection import Protection

    lm = load_model(pipeline_folder)
    conds = Conditions(tuple(PROMPTS), 3.0)
    prot = Protection("learned", alpha=0.5, scale=30.0, space="x_t")
    for protection, logit_fn in ((None, None), (prot, _random_classifier())):
        a, b = (
            draw_run(
                lm,
                [4, 5, 6],
                SamplerConfig(steps=6),
                conditions=conds,
                protection=protection,
                logit_fn=logit_fn,
                scheduler=s,
            )
            for s in ("cpaudit", "native")
        )
        assert (a.images.clamp(-1, 1) - b.images).abs().max() < 1e-4
        assert torch.equal(a.fired, b.fired) and int(a.fired.sum()) == (18 if protection else 0)
    plain = draw_run(lm, [4, 5, 6], SamplerConfig(steps=6), conditions=conds).images
    assert (plain - a.images).abs().max() > 1e-3  # the guidance moved the samples


def test_native_euler_scheduler_samples_protected(pipeline_folder, tmp_path):
    from cpaudit.sampling.protection import Protection

    folder = tmp_path / "euler"
    shutil.copytree(pipeline_folder, folder)
    cfg_path = folder / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(
        json.dumps(
            {**diffusers.EulerDiscreteScheduler.from_config(cfg).config, "_class_name": "EulerDiscreteScheduler"}
        )
    )
    lm = load_model(folder)
    b = draw_run(
        lm,
        [1, 2],
        SamplerConfig(steps=5),
        conditions=Conditions(tuple(PROMPTS[:2]), 3.0),
        scheduler="native",
        protection=Protection("learned", alpha=0.5, scale=30.0, space="x_t"),
        logit_fn=_random_classifier(),
    )
    assert b.images.shape == (2, 1, 16, 16) and bool(b.finite.all()) and b.fired.tolist() == [5, 5]
