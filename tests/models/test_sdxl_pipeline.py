"""Stable Diffusion XL pipeline folders (models/sdxl_pipeline.py): cpaudit's sampler against diffusers'
StableDiffusionXLPipeline on the same initial latents (one generator per sample), the prompt encoder against
`encode_prompt`, LoRA, `--scheduler native`, the one-line refusals of the families cpaudit does not sample,
and the text defences, prompted extraction and the audit on an SDXL folder."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.core.schedules import Schedule
from cpaudit.models.load import load_model
from cpaudit.models.tiny_sdxl import TinySDXLConfig, save_sdxl_pipeline, tiny_sdxl_components
from cpaudit.sampling.conditions import Conditions
from cpaudit.sampling.draw import draw_run
from cpaudit.sampling.sampler import SamplerConfig
from tests.models.test_sd_pipeline import _perturb, _random_classifier

diffusers = pytest.importorskip("diffusers")
pytest.importorskip("transformers")
runner = CliRunner()
PROMPTS = ["a photo of a red cat", "a photo of a blue dog", "a photo of a shy green owl"]
SD_SCHEDULE = Schedule("scaled_linear", 1000, 0.00085, 0.012)
CFG = TinySDXLConfig(
    vae_channels=(8, 16),
    unet_channels=(16, 32),
    text_width=16,
    text_width_2=16,
    projection_dim=16,
    attention_head_dim=4,
    addition_time_embed_dim=4,
)


def _build(
    folder: Path,
    scheduler=SD_SCHEDULE,
    captions=PROMPTS,
    image_size: int = 16,
    cfg: TinySDXLConfig = CFG,
    force_zeros: bool = True,
) -> Path:
    torch.manual_seed(0)
    unet, vae, te1, te2, tok1, tok2 = tiny_sdxl_components(captions, 1, image_size, cfg)
    _perturb(unet, 1)
    save_sdxl_pipeline(folder, unet, vae, te1, te2, tok1, tok2, scheduler, force_zeros_for_empty_prompt=force_zeros)
    return folder


@pytest.fixture(scope="module")
def sdxl_folder(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("sdxl"))


def _pipe(folder: Path):
    pipe = diffusers.StableDiffusionXLPipeline.from_pretrained(
        str(folder), local_files_only=True, add_watermarker=False
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _cpaudit_images(folder: Path, seeds, steps=6, g=3.0, negative=None, **load) -> torch.Tensor:
    lm = load_model(folder, **load)
    conds = Conditions(tuple(PROMPTS), g, negative)
    return draw_run(lm, list(seeds), SamplerConfig(steps=steps), conditions=conds).images.clamp(-1, 1)


def _diffusers_images(pipe, seeds, steps=6, g=3.0, negative=None) -> torch.Tensor:
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    out = pipe(
        PROMPTS,
        num_inference_steps=steps,
        guidance_scale=g,
        generator=gens,
        output_type="pt",
        eta=0.0,
        negative_prompt=None if negative is None else [negative] * len(PROMPTS),
    ).images
    return out * 2 - 1  # diffusers returns [0, 1]


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


def test_the_folder_loads_as_sdxl(sdxl_folder):
    lm = load_model(sdxl_folder)
    assert lm.conditioning == "text" and lm.config["pipeline"] == "StableDiffusionXLPipeline"
    assert lm.image_shape == (1, 16, 16) and lm.space_shape == (4, 8, 8)
    assert lm.config["time_ids"] == [16, 16, 0, 0, 16, 16] and lm.config["force_zeros_for_empty_prompt"] is True


@pytest.mark.parametrize("force_zeros,negative", [(True, None), (False, None), (True, "a photo of a blue dog")])
def test_the_prompt_encoder_is_encode_prompt(sdxl_folder, tmp_path, force_zeros, negative):
    folder = sdxl_folder
    if not force_zeros:
        folder = tmp_path / "nz"
        shutil.copytree(sdxl_folder, folder)
        index = json.loads((folder / "model_index.json").read_text())
        (folder / "model_index.json").write_text(json.dumps({**index, "force_zeros_for_empty_prompt": False}))
    cond = load_model(folder).prompts.condition(PROMPTS, 3.0, negative)
    pe, ne, pp, npp = _pipe(folder).encode_prompt(
        PROMPTS, device=torch.device("cpu"), do_classifier_free_guidance=True, negative_prompt=negative
    )
    for ours, theirs in (
        (cond.prompt_embeds, pe),
        (cond.uncond_embeds, ne),
        (cond.pooled_prompt_embeds, pp),
        (cond.pooled_uncond_embeds, npp),
    ):  # the negative prompt is encoded once here, per row there
        assert ours.shape == theirs.shape and torch.allclose(ours, theirs, rtol=0, atol=1e-6)
    assert bool(ne.abs().sum() == 0) == (force_zeros and negative is None)
    assert cond.prompt_embeds.shape == (3, CFG.max_length, CFG.cross_attention_dim)


def test_same_images_as_diffusers_sdxl_pipeline(sdxl_folder):
    pipe = _pipe(sdxl_folder)
    assert type(pipe.scheduler).__name__ == "DDIMScheduler"
    for seeds, g, neg in (([10, 11, 12], 3.0, None), ([3, 4, 5], 1.0, None), ([6, 7, 8], 2.0, "a photo of a red cat")):
        d = _max_diff(
            _cpaudit_images(sdxl_folder, seeds, g=g, negative=neg), _diffusers_images(pipe, seeds, g=g, negative=neg)
        )
        assert d < 1e-4, (g, neg, d)


def test_without_force_zeros_the_empty_prompt_is_the_uncond(sdxl_folder, tmp_path):
    folder = _build(tmp_path / "nz", force_zeros=False)
    assert load_model(folder).config["force_zeros_for_empty_prompt"] is False
    assert _max_diff(_cpaudit_images(folder, [1, 2, 3]), _diffusers_images(_pipe(folder), [1, 2, 3])) < 1e-4
    assert _max_diff(_cpaudit_images(folder, [1, 2, 3]), _cpaudit_images(sdxl_folder, [1, 2, 3])) > 1e-3


def _lora_layers(module: torch.nn.Module, targets: list[str]) -> dict:
    """A random LoRA on `module` through peft (as diffusers' train_dreambooth_lora_sdxl.py does), its state dict."""
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import get_peft_model_state_dict

    inject_adapter_in_model(LoraConfig(r=4, lora_alpha=4, target_modules=targets, init_lora_weights=False), module)
    return get_peft_model_state_dict(module)


def test_lora_applies_as_diffusers_applies_it(sdxl_folder, tmp_path):
    lm = load_model(sdxl_folder)
    unet, te1, te2 = lm.model.unet, lm.prompts.text_encoder, lm.prompts.text_encoder_2
    clip = ["q_proj", "k_proj", "v_proj", "out_proj"]
    lora_dir = tmp_path / "lora"
    diffusers.StableDiffusionXLPipeline.save_lora_weights(
        str(lora_dir),
        unet_lora_layers=_lora_layers(unet, ["to_q", "to_k", "to_v", "to_out.0"]),
        text_encoder_lora_layers=_lora_layers(te1, clip),
        text_encoder_2_lora_layers=_lora_layers(te2, clip),
    )
    lora_file = lora_dir / "pytorch_lora_weights.safetensors"
    pipe = _pipe(sdxl_folder)
    base = _diffusers_images(pipe, [1, 2, 3])
    pipe.load_lora_weights(str(lora_file))
    theirs = _diffusers_images(pipe, [1, 2, 3])
    ours = _cpaudit_images(sdxl_folder, [1, 2, 3], lora=lora_file)
    assert _max_diff(ours, theirs) < 1e-4 and _max_diff(theirs, base) > 1e-3
    info = load_model(sdxl_folder, lora=lora_file).config["lora"]
    assert info["unet_tensors"] > 0 and info["text_encoder_tensors"] > 0 and info["text_encoder_2_tensors"] > 0


def test_a_stable_diffusion_1_lora_is_refused_in_one_line(sdxl_folder, tmp_path):
    from cpaudit.models.tiny_sd import TinySDConfig, tiny_unet

    torch.manual_seed(0)
    sd_unet = tiny_unet(8, TinySDConfig(unet_channels=(16, 32), text_width=16, attention_head_dim=4))
    other = tmp_path / "sd1"
    diffusers.StableDiffusionPipeline.save_lora_weights(
        str(other), unet_lora_layers=_lora_layers(sd_unet, ["to_q", "to_k", "to_v"])
    )
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(sdxl_folder),
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
    _one_line_exit_2(r, "LoRA")
    assert not (tmp_path / "s").exists()


def test_an_sdxl_lora_is_refused_by_a_stable_diffusion_1_pipeline(tmp_path):
    from safetensors.torch import save_file

    from cpaudit.errors import InputError
    from cpaudit.models.sd_pipeline import apply_lora

    f = tmp_path / "xl_lora.safetensors"
    save_file({"text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(4, 16)}, str(f))
    with pytest.raises(InputError, match="a LoRA for SDXL"):
        apply_lora(f, torch.nn.Linear(1, 1), torch.nn.Linear(1, 1))


def test_native_scheduler_is_diffusers_sdxl_pipeline(sdxl_folder, tmp_path):
    from cpaudit.sampling.protection import Protection

    lm = load_model(sdxl_folder)
    conds = Conditions(tuple(PROMPTS), 3.0)
    prot = Protection("learned", alpha=0.5, scale=30.0, space="x_t")
    for protection, logit_fn in ((None, None), (prot, _random_classifier())):  # CPSample through the wrapped UNet too
        a, b = (
            draw_run(
                lm,
                [4, 5, 6],
                SamplerConfig(steps=4),
                conditions=conds,
                protection=protection,
                logit_fn=logit_fn,
                scheduler=s,
            )
            for s in ("cpaudit", "native")
        )
        assert _max_diff(a.images.clamp(-1, 1), b.images) < 1e-4
        assert torch.equal(a.fired, b.fired) and int(a.fired.sum()) == (12 if protection else 0)
    euler = tmp_path / "euler"
    shutil.copytree(sdxl_folder, euler)
    cfg_path = euler / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(
        json.dumps(
            {**diffusers.EulerDiscreteScheduler.from_config(cfg).config, "_class_name": "EulerDiscreteScheduler"}
        )
    )
    index = json.loads((euler / "model_index.json").read_text())
    (euler / "model_index.json").write_text(json.dumps({**index, "scheduler": ["diffusers", "EulerDiscreteScheduler"]}))
    pipe = _pipe(euler)
    assert type(pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    ours = draw_run(load_model(euler), [1, 2, 3], SamplerConfig(steps=5), conditions=conds, scheduler="native").images
    assert _max_diff(ours, _diffusers_images(pipe, [1, 2, 3], steps=5)) < 1e-4


def test_v_prediction_zero_snr_trailing_matches_diffusers(sdxl_folder, tmp_path):
    folder = tmp_path / "zsnr"
    shutil.copytree(sdxl_folder, folder)
    cfg_path = folder / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg_path.write_text(
        json.dumps(
            {**cfg, "prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing"}
        )
    )
    pipe = _pipe(folder)
    assert pipe.scheduler.config.rescale_betas_zero_snr and pipe.scheduler.config.timestep_spacing == "trailing"
    for g in (1.0, 3.0):
        assert _max_diff(_cpaudit_images(folder, [7, 8, 9], g=g), _diffusers_images(pipe, [7, 8, 9], g=g)) < 1e-4


def _one_line_exit_2(r, *needles):
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    for n in needles:
        assert n in r.output, r.output


def _edit_index(src: Path, dst: Path, **changes) -> Path:
    shutil.copytree(src, dst)
    index = json.loads((dst / "model_index.json").read_text())
    (dst / "model_index.json").write_text(json.dumps({k: v for k, v in {**index, **changes}.items() if v != "DELETE"}))
    return dst


def _index_only(dst: Path, index: dict) -> Path:
    dst.mkdir(parents=True)
    (dst / "model_index.json").write_text(json.dumps(index))
    return dst


def test_refusals_are_one_line(sdxl_folder, tmp_path):
    def sample(model):
        return runner.invoke(
            app,
            [
                "sample",
                "--model",
                str(model),
                "--out",
                str(tmp_path / "out"),
                "--n",
                "1",
                "--steps",
                "2",
                "--prompt",
                "a cat",
            ],
        )

    refiner = _edit_index(
        sdxl_folder,
        tmp_path / "refiner",
        _class_name="StableDiffusionXLImg2ImgPipeline",
        requires_aesthetics_score=True,
        text_encoder=[None, None],
        tokenizer=[None, None],
    )
    shutil.rmtree(refiner / "text_encoder")
    _one_line_exit_2(sample(refiner), "refiner", "SDXL base StableDiffusionXLPipeline")

    cascade = _index_only(
        tmp_path / "cascade",
        {
            "_class_name": "StableCascadeDecoderPipeline",
            "decoder": ["diffusers", "StableCascadeUNet"],
            "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
            "tokenizer": ["transformers", "CLIPTokenizerFast"],
            "vqgan": ["diffusers", "PaellaVQModel"],
            "scheduler": ["diffusers", "DDPMWuerstchenScheduler"],
        },
    )
    _one_line_exit_2(sample(cascade), "Stable Cascade", "supports")

    svd = _index_only(
        tmp_path / "svd",
        {
            "_class_name": "StableVideoDiffusionPipeline",
            "unet": ["diffusers", "UNetSpatioTemporalConditionModel"],
            "vae": ["diffusers", "AutoencoderKLTemporalDecoder"],
            "scheduler": ["diffusers", "EulerDiscreteScheduler"],
            "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
        },
    )
    (svd / "unet").mkdir()
    (svd / "unet" / "config.json").write_text(
        json.dumps({"_class_name": "UNetSpatioTemporalConditionModel", "_diffusers_version": "0.42.1"})
    )
    _one_line_exit_2(sample(svd), "video", "supports")
    animate = _index_only(
        tmp_path / "animatediff",
        {
            "_class_name": "AnimateDiffPipeline",
            "unet": ["diffusers", "UNetMotionModel"],
            "motion_adapter": ["diffusers", "MotionAdapter"],
            "text_encoder": ["transformers", "CLIPTextModel"],
        },
    )
    _one_line_exit_2(sample(animate), "video")

    no_tok2 = _edit_index(sdxl_folder, tmp_path / "no_tok2")
    shutil.rmtree(no_tok2 / "tokenizer_2")
    _one_line_exit_2(sample(no_tok2), "tokenizer_2", "missing")

    unknown = tmp_path / "unknown_prediction"
    shutil.copytree(sdxl_folder, unknown)
    cfg_path = unknown / "scheduler" / "scheduler_config.json"
    cfg_path.write_text(json.dumps({**json.loads(cfg_path.read_text()), "prediction_type": "flow_prediction"}))
    _one_line_exit_2(sample(unknown), "prediction_type", "flow_prediction")

    sd3 = _index_only(
        tmp_path / "sd3",
        {
            "_class_name": "StableDiffusion3Pipeline",
            "transformer": ["diffusers", "SD3Transformer2DModel"],
            "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
            "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        },
    )
    _one_line_exit_2(sample(sd3), "flow-matching")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def captioned_sdxl(tmp_path_factory) -> Path:
    """An SDXL folder over captioned-digits' words (32x32 images), with a split.json of 8 members, 8 held out."""
    from cpaudit.data.load import load_data
    from cpaudit.data.split import make_split, write_split

    data = load_data("captioned-digits")
    folder = tmp_path_factory.mktemp("captioned") / "sdxl"
    _build(
        folder,
        captions=list(data.captions),
        image_size=32,
        cfg=TinySDXLConfig(
            vae_channels=(8, 16, 16),
            unet_channels=(16, 32),
            text_width=16,
            text_width_2=16,
            projection_dim=16,
            attention_head_dim=4,
            addition_time_embed_dim=4,
        ),
    )
    write_split(folder / "split.json", data, make_split(data, members=8, seed=0, holdout=8))
    return folder


@pytest.mark.parametrize("defence", ["embedding-noise", "random-tokens", "prompt-optimisation"])
def test_prompt_defences_run_on_sdxl(captioned_sdxl, tmp_path, defence):
    out = tmp_path / defence
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(captioned_sdxl),
            "--prompt",
            "a photo of a shy brown fox",
            "--out",
            str(out),
            "--n",
            "2",
            "--steps",
            "2",
            "--prompt-defence",
            defence,
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads((out / "run.json").read_text())["conditions"]["prompt_defence"]["kind"] == defence


def test_exact_protection_samples_sdxl(captioned_sdxl, tmp_path):
    out = tmp_path / "p"
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(captioned_sdxl),
            "--prompt",
            "a photo of a shy brown fox",
            "--out",
            str(out),
            "--n",
            "2",
            "--steps",
            "2",
            "--guidance-scale",
            "3",
            "--protect",
            "--classifier",
            "exact",
            "--alpha",
            "0.5",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    run = json.loads((out / "run.json").read_text())
    assert run["protection"]["classifier"] == "exact" and run["n"] == 2


def test_prompted_extraction_and_the_audit_run_on_sdxl(captioned_sdxl, tmp_path):
    samples = tmp_path / "s"
    r = runner.invoke(
        app,
        [
            "sample",
            "--model",
            str(captioned_sdxl),
            "--extraction",
            "--per-caption",
            "1",
            "--out",
            str(samples),
            "--steps",
            "2",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads((samples / "run.json").read_text())["n"] == 16
    r = runner.invoke(
        app,
        [
            "audit",
            "--samples",
            str(samples),
            "--split",
            str(captioned_sdxl / "split.json"),
            "--out",
            str(tmp_path / "a"),
            "--model",
            str(captioned_sdxl),
            "--permutations",
            "20",
            "--mia-t",
            "100",
            "--mia-draws",
            "1",
            "--attack-nulls",
            "40",
            "--report-only",
            "--json",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    attacks = json.loads(r.output)["attacks"]
    assert attacks["detector"]["threat_model"] == "sampler" and "loss_caption" in attacks
