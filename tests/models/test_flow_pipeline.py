"""SD3 and FLUX.1 pipeline folders (models/flow_pipeline.py): the prompt encoders against the pipelines'
`encode_prompt`, the velocity against a direct transformer call with the pipelines' conventions, cpaudit's
sampler against StableDiffusion3Pipeline and FluxPipeline from the same initial latents (with and without
guidance, FLUX's distilled guidance and true CFG, a LoRA), and the one-line refusals. Tiny random components
from models/tiny_flow.py, saved with save_pretrained (safetensors)."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cpaudit.cli.app import app
from cpaudit.errors import InputError
from cpaudit.models.conditioning import TextCond
from cpaudit.models.flow_denoiser import latent_image_ids, pack_latents, unpack_latents
from cpaudit.models.load import load_model
from cpaudit.sampling.sampler import SamplerConfig, sample_batch
from cpaudit.seeding import torch_generator
from tests.models.test_sd_pipeline import _perturb
from tests.models.test_sdxl_pipeline import _edit_index, _one_line_exit_2

diffusers = pytest.importorskip("diffusers")
pytest.importorskip("transformers")
from cpaudit.models.tiny_flow import (
    TinyFluxConfig,
    TinySD3Config,
    flow_vae,
    save_flow_pipeline,
    tiny_flow_components,
)

runner = CliRunner()
PROMPTS = ["a photo of a red cat", "a photo of a blue dog", "a photo of a shy green owl"]
NEGATIVE = "a photo of a blue dog"
SIZE = 16  # images 16x16, latents 4 x 8 x 8: 16 tokens (SD3's 2x2 patches, FLUX's 2x2 packing)
SMALL = {
    "text_width": 16,
    "text_layers": 1,
    "text_heads": 2,
    "t5_layers": 1,
    "t5_heads": 2,
    "t5_ff": 32,
    "vae_channels": (8, 16),
    "layers": 1,
    "heads": 2,
    "head_dim": 16,
}
SD3_CFG = TinySD3Config(**SMALL, t5=True, t5_width=48, joint_attention_dim=48, projection_dim=16)
FLUX_CFG = TinyFluxConfig(**SMALL, t5_width=32, joint_attention_dim=32, single_layers=1, axes_dims_rope=(4, 6, 6))
VAE_FACTORS = {"sd3": (0.0609, 1.5305), "flux": (0.1159, 0.3611)}  # shift_factor, scaling_factor of the real VAEs


def _build(folder: Path, cfg, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    parts = tiny_flow_components(PROMPTS, 3, SIZE, cfg)
    parts["vae"] = flow_vae(3, SIZE, cfg, *VAE_FACTORS[cfg.family])
    _perturb(parts["transformer"], seed + 1)
    save_flow_pipeline(folder, cfg.family, **parts)
    if cfg.family == "flux":  # FLUX's default image is 128 latent pixels a side; these tests sample 16x16 images
        (folder / "cpaudit.json").write_text(json.dumps({"image_size": SIZE}))
    return folder


@pytest.fixture(scope="module")
def sd3(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("sd3") / "sd3", SD3_CFG)


@pytest.fixture(scope="module")
def sd3_no_t5(tmp_path_factory) -> Path:
    return _build(
        tmp_path_factory.mktemp("sd3") / "no_t5", TinySD3Config(**SMALL, joint_attention_dim=48, projection_dim=16)
    )


@pytest.fixture(scope="module")
def flux_dev(tmp_path_factory) -> Path:
    """FLUX.1-dev's shape: distilled guidance embedded, dynamic shift."""
    from dataclasses import replace

    return _build(tmp_path_factory.mktemp("flux") / "dev", replace(FLUX_CFG, guidance_embeds=True, dynamic_shift=True))


@pytest.fixture(scope="module")
def flux_schnell(tmp_path_factory) -> Path:
    """FLUX.1-schnell's shape: no guidance embedding, static shift 1."""
    from dataclasses import replace

    return _build(tmp_path_factory.mktemp("flux") / "schnell", replace(FLUX_CFG, guidance_embeds=False, shift=1.0))


def _pipe(folder: Path):
    index = json.loads((folder / "model_index.json").read_text())
    if index["_class_name"] == "FluxPipeline":
        pipe = diffusers.FluxPipeline.from_pretrained(str(folder), local_files_only=True)
    else:
        no_t5 = {} if index.get("text_encoder_3", [None])[0] else {"text_encoder_3": None, "tokenizer_3": None}
        pipe = diffusers.StableDiffusion3Pipeline.from_pretrained(str(folder), local_files_only=True, **no_t5)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-6) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    d = float((a - b).abs().max())
    assert d < tol, d
    return d


def test_the_folders_load_as_flow_models(sd3, sd3_no_t5, flux_dev, flux_schnell):
    for folder, family, t5 in (
        (sd3, "sd3", True),
        (sd3_no_t5, "sd3", False),
        (flux_dev, "flux", True),
        (flux_schnell, "flux", True),
    ):
        m = load_model(folder)
        assert m.conditioning == "text" and m.prediction == "flow" and m.model.prediction_type == "flow"
        assert m.image_shape == (3, SIZE, SIZE) and m.space_shape == (4, 8, 8)
        rec = m.config
        assert rec["family"] == family and rec["latent_shape"] == [4, 8, 8] and rec["image_seq_len"] == 16
        assert rec["has_t5"] is t5 and rec["schedule"]["pipeline"] == family and rec["prediction_type"] == "flow"
        assert rec["max_sequence_length"] == (256 if family == "sd3" else 512)
    assert (
        load_model(flux_dev).config["guidance_embeds"] is True
        and load_model(flux_schnell).config["guidance_embeds"] is False
    )
    assert load_model(flux_dev).schedule.dynamic and not load_model(sd3).schedule.dynamic


def test_absent_t5_keys_and_sharded_weights_load(sd3_no_t5, flux_dev, tmp_path):
    """SD3 without text_encoder_3 / tokenizer_3 in model_index.json at all; a transformer saved in shards with
    its diffusion_pytorch_model.safetensors.index.json, as large checkpoints are."""
    from safetensors.torch import load_file, save_file

    absent = _edit_index(sd3_no_t5, tmp_path / "absent", text_encoder_3="DELETE", tokenizer_3="DELETE")
    assert load_model(absent).config["has_t5"] is False
    sharded = _edit_index(flux_dev, tmp_path / "sharded")
    single = sharded / "transformer" / "diffusion_pytorch_model.safetensors"
    state = load_file(str(single))
    keys = sorted(state)
    shards = {
        "diffusion_pytorch_model-00001-of-00002.safetensors": keys[: len(keys) // 2],
        "diffusion_pytorch_model-00002-of-00002.safetensors": keys[len(keys) // 2 :],
    }
    for name, ks in shards.items():
        save_file({k: state[k] for k in ks}, str(single.parent / name))
    weight_map = {k: name for name, ks in shards.items() for k in ks}
    (single.parent / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"weight_map": weight_map})
    )
    single.unlink()
    ours, base = load_model(sharded).model.transformer.state_dict(), load_model(flux_dev).model.transformer.state_dict()
    assert all(torch.equal(ours[k], base[k]) for k in base)


def test_text_conditions_carry_the_distilled_guidance():
    e, p = torch.randn(4, 5, 3), torch.randn(4, 2)
    cond = TextCond(e, -e, 2.0, p, -p, guidance=3.5)
    for c in (
        cond.rows(slice(0, 2)),
        cond.to("cpu"),
        cond.prompt_only(),
        cond.uncond_only(),
        cond.doubled(),
        cond.with_prompt_embeds(e + 1),
    ):
        assert c.guidance == 3.5
    assert cond.guided and not cond.prompt_only().guided and TextCond(e, e).guidance is None
    assert torch.equal(cond.uncond_only().pooled_prompt_embeds, -p) and cond.doubled().prompt_embeds.shape == (8, 5, 3)


@pytest.mark.parametrize("negative", [None, NEGATIVE])
def test_the_sd3_prompt_encoder_is_encode_prompt(sd3, sd3_no_t5, negative):
    for folder in (sd3, sd3_no_t5):
        cond = load_model(folder).prompts.condition(PROMPTS, 3.0, negative)
        with torch.no_grad():  # as __call__ runs it (with grad, CPU attention may take another kernel)
            pe, ne, pp, npp = _pipe(folder).encode_prompt(
                PROMPTS,
                None,
                None,
                device=torch.device("cpu"),
                do_classifier_free_guidance=True,
                negative_prompt=negative,
            )
        for ours, theirs in (
            (cond.prompt_embeds, pe),
            (cond.uncond_embeds, ne),
            (cond.pooled_prompt_embeds, pp),
            (cond.pooled_uncond_embeds, npp),
        ):
            _close(ours, theirs)
        assert cond.prompt_embeds.shape == (3, 16 + 256, 48) and cond.guidance_scale == 3.0 and cond.guidance is None
    no_t5 = load_model(sd3_no_t5).prompts.embed(PROMPTS)
    assert bool((no_t5[:, 16:] == 0).all()) and bool(
        (no_t5[:, :16, 32:] == 0).all()
    )  # zero T5 tokens, CLIP zero-padded


@pytest.mark.parametrize("negative", [None, NEGATIVE])
def test_the_flux_prompt_encoder_is_encode_prompt(flux_dev, negative):
    prompts = load_model(flux_dev).prompts
    pipe = _pipe(flux_dev)
    with torch.no_grad():
        pe, pp, _ = pipe.encode_prompt(PROMPTS, device=torch.device("cpu"))
        ne, npp, _ = pipe.encode_prompt([negative or ""] * 3, device=torch.device("cpu"))
    cond = prompts.condition(PROMPTS, 3.5, negative, true_cfg_scale=2.0)
    for ours, theirs in (
        (cond.prompt_embeds, pe),
        (cond.pooled_prompt_embeds, pp),
        (cond.uncond_embeds, ne),
        (cond.pooled_uncond_embeds, npp),
    ):
        _close(ours, theirs)
    assert cond.prompt_embeds.shape == (3, 512, 32) and cond.guidance == 3.5
    assert cond.guidance_scale == (2.0 if negative else 1.0)  # true CFG only with a negative prompt (`do_true_cfg`)
    _close(prompts.embed(PROMPTS), pe)


def test_packing_is_the_pipelines():
    x = torch.randn(2, 4, 8, 6)
    packed = diffusers.FluxPipeline._pack_latents(x, 2, 4, 8, 6)
    assert torch.equal(pack_latents(x), packed)
    assert torch.equal(unpack_latents(packed, 8, 6), diffusers.FluxPipeline._unpack_latents(packed, 16, 12, 2))
    assert torch.equal(unpack_latents(pack_latents(x), 8, 6), x)
    assert torch.equal(
        latent_image_ids(4, 3, "cpu", torch.float32),
        diffusers.FluxPipeline._prepare_latent_image_ids(2, 4, 3, "cpu", torch.float32),
    )


def _inputs(seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 4, 8, 8, generator=g)
    t = torch.full((3,), 1000 * 0.7, dtype=torch.float64)
    return x, t


@pytest.mark.parametrize("g", [1.0, 4.0])
def test_the_sd3_velocity_is_the_transformer_call(sd3, g):
    m = load_model(sd3)
    x, t = _inputs()
    cond = m.prompts.condition(PROMPTS, g, NEGATIVE)
    tr = m.model.transformer

    def call(xx, emb, pooled):
        return tr(
            hidden_states=xx,
            timestep=t.float().repeat(len(xx) // 3),
            encoder_hidden_states=emb,
            pooled_projections=pooled,
            return_dict=False,
        )[0]

    with torch.no_grad():
        if g == 1.0:
            expected = call(x, cond.prompt_embeds, cond.pooled_prompt_embeds)
        else:
            u, c = call(
                torch.cat([x, x]),
                torch.cat([cond.uncond_embeds, cond.prompt_embeds]),
                torch.cat([cond.pooled_uncond_embeds, cond.pooled_prompt_embeds]),
            ).chunk(2)
            expected = u + g * (c - u)
        _close(m.model(x, t, cond), expected)


@pytest.mark.parametrize("kind", ["distilled", "true_cfg", "schnell"])
def test_the_flux_velocity_is_the_transformer_call(flux_dev, flux_schnell, kind):
    m = load_model(flux_schnell if kind == "schnell" else flux_dev)
    x, t = _inputs()
    negative, true_cfg = (NEGATIVE, 3.0) if kind == "true_cfg" else (None, 1.0)
    cond = m.prompts.condition(PROMPTS, 3.5, negative, true_cfg_scale=true_cfg)
    tr = m.model.transformer
    guidance = None if kind == "schnell" else torch.full([1], 3.5, dtype=torch.float32).expand(3)
    img_ids = diffusers.FluxPipeline._prepare_latent_image_ids(3, 4, 4, "cpu", torch.float32)

    def call(emb, pooled):
        out = tr(
            hidden_states=diffusers.FluxPipeline._pack_latents(x, 3, 4, 8, 8),
            timestep=t.float() / 1000,
            guidance=guidance,
            pooled_projections=pooled,
            encoder_hidden_states=emb,
            txt_ids=torch.zeros(emb.shape[1], 3),
            img_ids=img_ids,
            return_dict=False,
        )[0]
        return diffusers.FluxPipeline._unpack_latents(out, SIZE, SIZE, 2)

    with torch.no_grad():
        expected = call(cond.prompt_embeds, cond.pooled_prompt_embeds)
        if kind == "true_cfg":
            neg = call(cond.uncond_embeds, cond.pooled_uncond_embeds)
            expected = neg + true_cfg * (expected - neg)
        _close(m.model(x, t, cond), expected)
    assert (cond.guidance is None) == (kind == "schnell")


def _x_T(seeds, shape=(4, 8, 8)) -> torch.Tensor:
    """x_T as cpaudit's sampler draws it: one generator per seed, on the CPU (sampling/sampler.py `_noise`)."""
    return torch.stack([torch.randn(shape, generator=torch_generator(s)) for s in seeds])


def _cpaudit_images(
    folder: Path, seeds, steps: int, g: float, negative=None, true_cfg: float = 1.0, **load
) -> torch.Tensor:
    m = load_model(folder, **load)
    path, spacing, steps = m.sampling_path(steps)
    kwargs = {"true_cfg_scale": true_cfg} if m.config["family"] == "flux" else {}
    cond = m.prompts.condition(PROMPTS, g, negative, **kwargs)
    b = sample_batch(
        m.pair_fn(cond), path, m.space_shape, list(seeds), SamplerConfig(steps=steps, clip=False), spacing=spacing
    )
    return m.codec.decode(b.images).clamp(-1, 1)


def _diffusers_images(pipe, seeds, steps: int, g: float, negative=None, true_cfg: float = 1.0) -> torch.Tensor:
    x_T = _x_T(seeds)
    neg = None if negative is None else [negative] * len(PROMPTS)
    if isinstance(pipe, diffusers.FluxPipeline):
        out = pipe(
            PROMPTS,
            height=SIZE,
            width=SIZE,
            num_inference_steps=steps,
            guidance_scale=g,
            true_cfg_scale=true_cfg,
            negative_prompt=neg,
            latents=pack_latents(x_T),
            output_type="pt",
        ).images
    else:
        out = pipe(
            PROMPTS, num_inference_steps=steps, guidance_scale=g, negative_prompt=neg, latents=x_T, output_type="pt"
        ).images
    return out * 2 - 1  # diffusers returns [0, 1]


@pytest.mark.parametrize("g,negative", [(1.0, None), (4.0, None), (3.0, NEGATIVE)])
def test_same_images_as_stable_diffusion_3_pipeline(sd3, g, negative):
    _close(
        _cpaudit_images(sd3, [1, 2, 3], 4, g, negative), _diffusers_images(_pipe(sd3), [1, 2, 3], 4, g, negative), 1e-4
    )


def test_same_images_as_stable_diffusion_3_pipeline_without_t5(sd3_no_t5):
    _close(_cpaudit_images(sd3_no_t5, [4, 5, 6], 4, 4.0), _diffusers_images(_pipe(sd3_no_t5), [4, 5, 6], 4, 4.0), 1e-4)


@pytest.mark.parametrize("kind", ["distilled", "true_cfg", "schnell"])
def test_same_images_as_flux_pipeline(flux_dev, flux_schnell, kind):
    folder = flux_schnell if kind == "schnell" else flux_dev
    negative, true_cfg = (NEGATIVE, 3.0) if kind == "true_cfg" else (None, 1.0)
    ours = _cpaudit_images(folder, [7, 8, 9], 4, 3.5, negative, true_cfg)
    _close(ours, _diffusers_images(_pipe(folder), [7, 8, 9], 4, 3.5, negative, true_cfg), 1e-4)
    if kind == "distilled":  # the distilled guidance scale is a real input
        assert float((ours - _cpaudit_images(folder, [7, 8, 9], 4, 1.0)).abs().max()) > 1e-3


def _lora_layers(module: torch.nn.Module, targets: list[str]) -> dict:
    """A random LoRA on `module` through peft (as diffusers' train_dreambooth_lora_sd3.py / _flux.py do)."""
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import get_peft_model_state_dict

    inject_adapter_in_model(LoraConfig(r=4, lora_alpha=4, target_modules=targets, init_lora_weights=False), module)
    return get_peft_model_state_dict(module)


ATTN = ["to_q", "to_k", "to_v", "to_out.0"]
CLIP = ["q_proj", "k_proj", "v_proj", "out_proj"]


def _save_lora(folder: Path, out: Path) -> Path:
    """A LoRA on the transformer and the CLIP encoder(s), saved with the pipeline's save_lora_weights."""
    m = load_model(folder)
    layers = {
        "transformer_lora_layers": _lora_layers(m.model.transformer, ATTN),
        "text_encoder_lora_layers": _lora_layers(m.prompts.text_encoder, CLIP),
    }
    if m.config["family"] == "sd3":
        layers["text_encoder_2_lora_layers"] = _lora_layers(m.prompts.text_encoder_2, CLIP)
    cls = diffusers.FluxPipeline if m.config["family"] == "flux" else diffusers.StableDiffusion3Pipeline
    cls.save_lora_weights(str(out), **layers)
    return out / "pytorch_lora_weights.safetensors"


@pytest.mark.parametrize("which", ["sd3", "flux"])
def test_lora_applies_as_diffusers_applies_it(sd3, flux_dev, tmp_path, which):
    folder = sd3 if which == "sd3" else flux_dev
    lora = _save_lora(folder, tmp_path / "lora")
    pipe = _pipe(folder)
    base = _diffusers_images(pipe, [1, 2, 3], 3, 3.0)
    pipe.load_lora_weights(str(lora))
    theirs = _diffusers_images(pipe, [1, 2, 3], 3, 3.0)
    _close(_cpaudit_images(folder, [1, 2, 3], 3, 3.0, lora=lora), theirs, 1e-4)
    assert float((theirs - base).abs().max()) > 1e-3
    info = load_model(folder, lora=lora).config["lora"]
    assert info["transformer_tensors"] > 0 and info["text_encoder_tensors"] > 0
    assert which == "flux" or info["text_encoder_2_tensors"] > 0


def test_foreign_loras_are_refused_in_one_line(sd3, flux_dev, tmp_path):
    from safetensors.torch import save_file

    sd_lora = tmp_path / "sd.safetensors"
    save_file({"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight": torch.zeros(4, 16)}, str(sd_lora))
    r = _sample(flux_dev, tmp_path, "--lora", str(sd_lora))
    _one_line_exit_2(r, "Stable Diffusion 1.x/2.x or SDXL", "FLUX.1")
    sd3_lora = _save_lora(sd3, tmp_path / "sd3_lora")
    with pytest.raises(InputError, match="text_encoder_2"):
        load_model(flux_dev, lora=sd3_lora)
    wide = tmp_path / "wide.safetensors"  # a layer FLUX has, at another base model's width: shapes do not fit
    save_file(
        {
            "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": torch.zeros(4, 64),
            "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": torch.zeros(64, 4),
        },
        str(wide),
    )
    with pytest.raises(InputError, match="another base model"):
        load_model(flux_dev, lora=wide)
    partial = tmp_path / "partial.safetensors"  # one layer matches, one names no layer of SD3's transformer
    save_file(
        {
            "transformer.transformer_blocks.0.attn.to_q.lora_A.weight": torch.zeros(4, 32),
            "transformer.transformer_blocks.0.attn.to_q.lora_B.weight": torch.zeros(32, 4),
            "transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": torch.zeros(4, 32),
            "transformer.single_transformer_blocks.0.attn.to_q.lora_B.weight": torch.zeros(32, 4),
        },
        str(partial),
    )
    with pytest.raises(InputError, match="2 of 4 LoRA tensors match no layer"):
        load_model(sd3, lora=partial)
    pickled = tmp_path / "lora.bin"
    pickled.write_bytes(b"not read")
    with pytest.raises(InputError, match="pickled"):
        load_model(sd3, lora=pickled)


def _sample(model: Path, tmp_path: Path, *extra: str):
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
            *extra,
        ],
    )


def _edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize(
    "name",
    [
        "FluxKontextPipeline",
        "FluxFillPipeline",
        "FluxControlPipeline",
        "FluxPriorReduxPipeline",
        "FluxImg2ImgPipeline",
        "FluxInpaintPipeline",
        "FluxControlNetPipeline",
        "Flux2Pipeline",
    ],
)
def test_other_flux_pipelines_are_refused(flux_dev, tmp_path, name):
    _one_line_exit_2(
        _sample(_edit_index(flux_dev, tmp_path / "f", _class_name=name), tmp_path), name, "FluxPipeline", "supports"
    )


@pytest.mark.parametrize(
    "name",
    [
        "StableDiffusion3Img2ImgPipeline",
        "StableDiffusion3InpaintPipeline",
        "StableDiffusion3ControlNetPipeline",
        "PixArtSigmaPipeline",
    ],
)
def test_other_transformer_pipelines_are_refused(sd3, tmp_path, name):
    _one_line_exit_2(_sample(_edit_index(sd3, tmp_path / "s", _class_name=name), tmp_path), name, "supports")


def test_refusals_are_one_line(sd3, flux_dev, tmp_path):
    no_t5 = _edit_index(flux_dev, tmp_path / "no_t5", text_encoder_2=[None, None], tokenizer_2=[None, None])
    _one_line_exit_2(_sample(no_t5, tmp_path), "text_encoder_2", "T5")
    absent = _edit_index(flux_dev, tmp_path / "absent", text_encoder_2="DELETE")
    _one_line_exit_2(_sample(absent, tmp_path), "text_encoder_2", "missing")

    half_t5 = _edit_index(sd3, tmp_path / "half_t5", tokenizer_3=[None, None])
    _one_line_exit_2(_sample(half_t5, tmp_path), "tokenizer_3")

    pickled = _edit_index(sd3, tmp_path / "pickled")
    weights = pickled / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_suffix(".bin"))
    _one_line_exit_2(_sample(pickled, tmp_path), "pickled")

    karras = _edit_index(flux_dev, tmp_path / "karras")
    _edit_json(karras / "scheduler" / "scheduler_config.json", use_karras_sigmas=True)
    _one_line_exit_2(_sample(karras, tmp_path), "use_karras_sigmas")
    euler = _edit_index(sd3, tmp_path / "euler")
    _edit_json(euler / "scheduler" / "scheduler_config.json", _class_name="EulerDiscreteScheduler")
    _one_line_exit_2(_sample(euler, tmp_path), "EulerDiscreteScheduler", "FlowMatchEulerDiscreteScheduler")

    fill = _edit_index(flux_dev, tmp_path / "fill")  # a Fill / Control transformer's wider input, under FluxPipeline
    _edit_json(fill / "transformer" / "config.json", in_channels=64)
    _one_line_exit_2(_sample(fill, tmp_path), "in_channels")

    normalised = _edit_index(sd3, tmp_path / "latents_mean")
    _edit_json(normalised / "vae" / "config.json", latents_mean=[0.0] * 4, latents_std=[1.0] * 4)
    _one_line_exit_2(_sample(normalised, tmp_path), "latents_mean")

    odd = _edit_index(flux_dev, tmp_path / "odd")
    (odd / "cpaudit.json").write_text(json.dumps({"image_size": 18}))
    _one_line_exit_2(_sample(odd, tmp_path), "image_size")
    assert not (tmp_path / "out").exists()
