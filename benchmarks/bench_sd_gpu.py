"""CPSample's cost at Stable Diffusion's real sizes, on a GPU: unprotected against protected sampling, side by side.

    python benchmarks/bench_sd_gpu.py --arch sdxl --out benchmarks/results/bench_sdxl_gpu.json
    python benchmarks/bench_sd_gpu.py --arch sd15 --out benchmarks/results/bench_sd_gpu.json [--batches 8,16] [--dtypes fp16,fp32]
    python benchmarks/bench_sd_gpu.py --arch sd35m --out benchmarks/results/bench_sd35m_gpu.json
    python benchmarks/bench_sd_gpu.py --arch flux --out benchmarks/results/bench_flux_gpu.json [--double-blocks 19 --single-blocks 38]
    python benchmarks/bench_sd_gpu.py --arch sdxl --tiny --device cpu --steps 3 --batches 2 --repeats 1   # a smoke run

NOT RUN YET at real size: no GPU has been lent to this work so far. The first command above is the one to run
on a CUDA machine (defaults for sdxl: --dtypes fp16,bf16 --batches 1,4 --steps 50 --repeats 2; it prints a
table and writes the JSON); commit the JSON and put its table in benchmarks/RESULTS.md. Expected to take a few
minutes on an H100/H200-class GPU (an estimate, not a measurement); `--batches 4 --repeats 1` halves it.

Architectures, built from configs with random weights (time does not depend on them; nothing is downloaded):

- sdxl: stabilityai/stable-diffusion-xl-base-1.0's dimensions, as diffusers' configs give them (unet/config.json;
  diffusers/loaders/single_file_utils.py `create_unet_diffusers_config_from_ldm` derives the same fields from
  sd_xl_base.yaml). UNet2DConditionModel: block_out_channels (320, 640, 1280), down blocks (DownBlock2D,
  CrossAttnDownBlock2D, CrossAttnDownBlock2D), up blocks the mirror, layers_per_block 2,
  transformer_layers_per_block (1, 2, 10), attention_head_dim (5, 10, 20) (diffusers' name for the number of
  heads: 64 channels each), use_linear_projection, cross_attention_dim 2048, addition_embed_type "text_time",
  addition_time_embed_dim 256, projection_class_embeddings_input_dim 2816 (1280 pooled + 6 time ids x 256),
  sample_size 128: 4x128x128 latents, 1024x1024 images, 2,567,463,684 parameters. Text encoders: CLIPTextModel
  (768 wide, 12 layers, 12 heads, quick_gelu: 123M) and CLIPTextModelWithProjection (1280 wide, 32 layers, 20
  heads, gelu, projection 1280: 695M), their penultimate hidden states concatenated (models/prompts.py
  SDXLPromptEncoder), over in-memory word tokenizers (77 tokens; the embedding tables keep CLIP's 49,408 rows).
  AutoencoderKL (128, 256, 512, 512), scaling_factor 0.13025 (84M). Guidance scale 5.0 (the pipeline's default).
- sd15: Stable Diffusion 1.5's: UNet2DConditionModel 860M, 4x64x64 latents, a 12-layer 768-wide CLIP text
  encoder, the 83M-parameter AutoencoderKL. Guidance scale 7.5.
- sd35m: stabilityai/stable-diffusion-3.5-medium's dimensions; flux: FLUX.1-dev's widths at 5 double and 10
  single blocks of its 19 and 38 (3.2B of its 11.9B transformer parameters; --double-blocks / --single-blocks
  set the depth), both with a T5 encoder of T5-XXL's layer shape but 2 of its 24 layers (it runs once a prompt,
  not once a step). Every dimension and where it comes from: benchmarks/_flow_gpu.py. bf16 by default; the
  pipelines' 28 steps; SD3's guidance scale 7.0 (a doubled batch a step), FLUX.1-dev's distilled guidance 3.5
  (one transformer call a step). NOT RUN YET at real size either.

The UNets go through cpaudit's own sampler (`draw_run`): --steps DDIM steps (leading spacing, offset 1, scaled-linear
betas, as both pipelines' schedulers), classifier-free guidance as one doubled batch, the latents decoded at the
end; the flow transformers too (models/flow_denoiser.py's FlowDenoiser, models/flow_prompts.py's encoders), at
the pipelines' own sampling sigmas (core/flow.py; CPSample cannot guide at the first, sigma = 1, where x_t is pure
noise: `guidable_steps`). Precision: fp16 and bf16 hold the UNet (the transformer) and the text encoders in that dtype (as a pipeline loaded with
`torch_dtype` does: latents cast to the UNet's dtype at each call, its output read back in float32); the VAE
decodes in float32 (SDXL's VAE has force_upcast, and the SDXL pipeline upcasts it). Protected: CPSample with a
random-label classifier on the latents (cpaudit's TimeClassifier, width 64, channel multipliers 1,2,2, two
res blocks; float32 weights, run under autocast in the dtype), alpha 0.5 so that it guides at every step (a
gradient-free forward, then a forward and a backward per step: the worst case); each row records the guided
steps per sample to show it did. Each configuration runs once as a short warm-up (--warmup-steps) and then
--repeats times, the fastest kept; peak GPU memory (torch.cuda.max_memory_allocated) of the timed runs, over the
whole run and over the sampling loop alone (the float32 VAE decode can set the overall peak). Never run by the
tests; `--tiny` (a small model of the same architecture) is, by tests/test_bench_sd_gpu.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import _flow_gpu  # noqa: E402
from benchmarks._util import machine  # noqa: E402
from cpaudit.core.schedules import Schedule, Spacing  # noqa: E402
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier  # noqa: E402
from cpaudit.models.codec import VaeCodec  # noqa: E402
from cpaudit.models.diffusers_denoiser import DiffusersDenoiser  # noqa: E402
from cpaudit.models.load import LoadedModel  # noqa: E402
from cpaudit.models.prompts import PromptEncoder, SDXLPromptEncoder  # noqa: E402
from cpaudit.models.sdxl_pipeline import add_time_ids  # noqa: E402
from cpaudit.models.tiny_sd import BOS, EOS, word_tokenizer  # noqa: E402
from cpaudit.models.tiny_sdxl import SDXL_PAD, SDXL_VAE_SCALING  # noqa: E402
from cpaudit.sampling.conditions import Conditions  # noqa: E402
from cpaudit.sampling.draw import draw_run  # noqa: E402
from cpaudit.sampling.protection import Protection  # noqa: E402
from cpaudit.sampling.sampler import SamplerConfig  # noqa: E402

PROMPTS = ("a photo of a red fox in the snow", "an oil painting of a lighthouse at dusk")
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Each pipeline's own defaults: num_inference_steps and guidance_scale of its __call__ (on FLUX.1-dev the distilled
# guidance its transformer embeds: one call a step, no doubled batch).
DEFAULTS = {
    "sd15": {"batches": "8,16", "dtypes": "fp16,fp32", "guidance": 7.5, "steps": 50},
    "sdxl": {"batches": "1,4", "dtypes": "fp16,bf16", "guidance": 5.0, "steps": 50},
    "sd35m": {"batches": "1,4", "dtypes": "bf16", "guidance": 7.0, "steps": 28},
    "flux": {"batches": "1,4", "dtypes": "bf16", "guidance": 3.5, "steps": 28},
}
CLIP_VOCAB = 49408  # CLIP's tokenizer vocabulary: the real embedding tables' rows
TOKENS = 77


class InDtype(torch.nn.Module):
    """The UNet held in `dtype`: floating inputs cast to it, the output read back as float32 (a pipeline loaded
    with torch_dtype casts its float32 latents to the UNet's dtype at each call)."""

    def __init__(self, unet: torch.nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x, t, encoder_hidden_states=None, added_cond_kwargs=None, **kw):
        dtype = self.unet.dtype
        cast = lambda v: v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v  # noqa: E731
        added = None if added_cond_kwargs is None else {k: cast(v) for k, v in added_cond_kwargs.items()}
        out = self.unet(cast(x), t, encoder_hidden_states=cast(encoder_hidden_states), added_cond_kwargs=added, **kw)
        return SimpleNamespace(sample=out.sample.float())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class SplitCodec(VaeCodec):
    """VaeCodec that records the decode's wall time and the peak GPU memory before it (the sampling loop's)
    and during it."""

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        dev = next(self.vae.parameters()).device
        cuda = dev.type == "cuda"
        _sync(dev)
        self.peak_sampling = torch.cuda.max_memory_allocated(dev) if cuda else None
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        t0 = time.perf_counter()
        out = super().decode(x0)
        _sync(dev)
        self.decode_seconds = time.perf_counter() - t0
        self.peak_decode = torch.cuda.max_memory_allocated(dev) if cuda else None
        return out


def clip_config(tok, width: int, layers: int, heads: int, act: str, tiny: bool, **extra):
    from transformers import CLIPTextConfig

    vocab = tok.get_vocab()
    return CLIPTextConfig(
        vocab_size=len(vocab) if tiny else max(CLIP_VOCAB, len(vocab)),
        hidden_size=width,
        intermediate_size=4 * width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=TOKENS,
        hidden_act=act,
        bos_token_id=vocab[BOS],
        eos_token_id=vocab[EOS],
        pad_token_id=vocab[tok.pad_token],
        **extra,
    )


def vae_kl(tiny: bool, image_size: int, latent_channels: int = 4, **extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(32, 32, 32, 32) if tiny else (128, 256, 512, 512),
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        norm_num_groups=8 if tiny else 32,
        sample_size=image_size,
        **extra,
    )


def sd15(tiny: bool, device: torch.device) -> tuple[LoadedModel, dict]:
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    w = (32, 64, 64, 64) if tiny else (320, 640, 1280, 1280)
    width, layers = (32, 2) if tiny else (768, 12)
    image = 64 if tiny else 512
    tok = word_tokenizer(list(PROMPTS), TOKENS)
    with torch.device(device):  # random initialisation on the device itself (seconds, not minutes, at real size)
        unet = UNet2DConditionModel(
            sample_size=8 if tiny else 64,
            block_out_channels=w,
            layers_per_block=2,
            cross_attention_dim=width,
            attention_head_dim=8,
            norm_num_groups=8 if tiny else 32,
        )
        vae = vae_kl(tiny, image)
        te = CLIPTextModel(clip_config(tok, width, layers, max(width // 64, 1), "quick_gelu", tiny))
    prompts = PromptEncoder(tok, te)
    return _loaded(unet, vae, prompts, image), {"unet": unet, "vae": vae, "text_encoder": te}


def sdxl(tiny: bool, device: torch.device) -> tuple[LoadedModel, dict]:
    """SDXL base's dimensions (module docstring), or a small model of the same architecture (`tiny`)."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    w1, l1, h1 = (32, 2, 4) if tiny else (768, 12, 12)
    w2, l2, h2 = (32, 2, 4) if tiny else (1280, 32, 20)
    time_dim = 8 if tiny else 256
    tok1, tok2 = word_tokenizer(list(PROMPTS), TOKENS), word_tokenizer(list(PROMPTS), TOKENS, pad_token=SDXL_PAD)
    image = 64 if tiny else 1024
    with torch.device(device):
        te1 = CLIPTextModel(clip_config(tok1, w1, l1, h1, "quick_gelu", tiny, projection_dim=w1))
        te2 = CLIPTextModelWithProjection(clip_config(tok2, w2, l2, h2, "gelu", tiny, projection_dim=w2))
        unet = UNet2DConditionModel(
            sample_size=8 if tiny else 128,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(32, 64, 64) if tiny else (320, 640, 1280),
            layers_per_block=2,
            transformer_layers_per_block=(1, 1, 2) if tiny else (1, 2, 10),
            attention_head_dim=(2, 4, 4) if tiny else (5, 10, 20),
            use_linear_projection=True,
            cross_attention_dim=w1 + w2,
            addition_embed_type="text_time",
            addition_time_embed_dim=time_dim,
            projection_class_embeddings_input_dim=w2 + 6 * time_dim,
            norm_num_groups=8 if tiny else 32,
        )
        vae = vae_kl(tiny, image, scaling_factor=SDXL_VAE_SCALING, force_upcast=True)
    time_ids = add_time_ids(unet, vae, int(te2.config.projection_dim), Path("."))
    prompts = SDXLPromptEncoder(tok1, tok2, te1, te2, time_ids, force_zeros_for_empty_prompt=True)
    return _loaded(unet, vae, prompts, image), {"unet": unet, "vae": vae, "text_encoder": te1, "text_encoder_2": te2}


def _loaded(unet, vae, prompts, image: int) -> LoadedModel:
    schedule = Schedule("scaled_linear", 1000, 0.00085, 0.012)
    return LoadedModel(
        DiffusersDenoiser(InDtype(unet.eval().requires_grad_(False))),
        schedule,
        {},
        Path("."),
        (3, image, image),
        SplitCodec(vae, batch_size=4),
        "text",
        prompts,
        spacing=Spacing("leading", 1, False),
    )


def set_dtype(parts: dict, dtype: torch.dtype) -> None:
    """The UNet and the text encoders to `dtype`; the VAE stays float32."""
    for name, module in parts.items():
        if name != "vae":
            module.to(dtype)


def run_once(model, clf, n, steps, protected, device, dtype: torch.dtype, guidance: float) -> dict:
    conds = Conditions(PROMPTS, guidance)
    prot = Protection("learned-bench", alpha=0.5, scale=10.0, space="x_t") if protected else None
    half = dtype != torch.float32

    def logit_fn(x, t):
        with torch.autocast(device.type, dtype=dtype, enabled=half):
            return clf(x.float(), t).float()

    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)  # from here: the weights plus this run's own allocations
    t0 = time.perf_counter()
    batch = draw_run(
        model,
        list(range(n)),
        SamplerConfig(steps=steps),
        conditions=conds,
        batch_size=n,
        protection=prot,
        logit_fn=logit_fn if protected else None,
        device=device,
    )
    _sync(device)
    seconds = time.perf_counter() - t0
    codec = model.codec
    gib = lambda b: None if b is None else round(b / 2**30, 2)  # noqa: E731
    peaks = [p for p in (codec.peak_sampling, codec.peak_decode) if p is not None]
    return {
        "seconds": seconds,
        "sampling_seconds": seconds - codec.decode_seconds,
        "decode_seconds": codec.decode_seconds,
        "peak_gib": gib(max(peaks)) if peaks else None,
        "peak_sampling_gib": gib(codec.peak_sampling),
        "peak_decode_gib": gib(codec.peak_decode),
        "guided_steps": round(batch.fired.float().mean().item(), 2),
        "finite_samples": int(batch.finite.sum()),
    }


def table(summary: list[dict]) -> str:
    head = (
        "| dtype | batch | unprotected s | protected s | ratio | ratio, sampling alone | peak GiB unprotected "
        "| peak GiB protected | peak GiB sampling, unprot. / prot. |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for s in summary:
        lines.append(
            f"| {s['dtype']} | {s['batch']} | {s['unprotected_s']:.2f} | {s['protected_s']:.2f} | {s['ratio']:.3f} "
            f"| {s['sampling_ratio']:.3f} | {s['peak_gib_unprotected']} | {s['peak_gib_protected']} "
            f"| {s['peak_sampling_gib_unprotected']} / {s['peak_sampling_gib_protected']} |"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--arch",
        choices=sorted(DEFAULTS),
        default="sd15",
        help="sd15, sdxl (UNets), sd35m (SD3.5-medium), flux (FLUX.1-dev's widths, fewer blocks)",
    )
    ap.add_argument("--out", type=Path)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", help="comma-separated batch sizes (default: sd15 8,16; the others 1,4)")
    ap.add_argument(
        "--dtypes",
        help="comma-separated, of fp32, fp16, bf16 (default: sd15 fp16,fp32; sdxl fp16,bf16; sd35m and flux bf16)",
    )
    ap.add_argument("--steps", type=int, help="default: the pipeline's (sd15, sdxl 50; sd35m, flux 28)")
    ap.add_argument("--warmup-steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--double-blocks", type=int, default=_flow_gpu.DOUBLE_BLOCKS, help="flux: double-stream blocks (FLUX.1-dev 19)"
    )
    ap.add_argument(
        "--single-blocks", type=int, default=_flow_gpu.SINGLE_BLOCKS, help="flux: single-stream blocks (FLUX.1-dev 38)"
    )
    ap.add_argument("--tiny", action="store_true", help="a small model of the same architecture, to check the script")
    args = ap.parse_args(argv)
    defaults = DEFAULTS[args.arch]
    args.steps = args.steps or defaults["steps"]
    args.dtypes = (args.dtypes or defaults["dtypes"]).split(",")
    args.batches = [int(b) for b in (args.batches or defaults["batches"]).split(",")]
    unknown = [d for d in args.dtypes if d not in DTYPES]
    if unknown:
        ap.error(f"unknown dtype(s) {unknown}; choose from {sorted(DTYPES)}")
    return args


def build(args: argparse.Namespace, device: torch.device) -> tuple[LoadedModel, dict]:
    """--arch's model (--tiny: a small one of the same architecture) on `device`, random weights from seed 0."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        if args.arch in ("sd15", "sdxl"):
            return (sdxl if args.arch == "sdxl" else sd15)(args.tiny, device)
        kit = SimpleNamespace(
            prompts=list(PROMPTS), tokens=TOKENS, clip_config=clip_config, vae_kl=vae_kl, codec=SplitCodec
        )
        if args.arch == "sd35m":
            return _flow_gpu.sd35m(args.tiny, device, kit)
        return _flow_gpu.flux(args.tiny, device, kit, args.double_blocks, args.single_blocks)


def guidable_steps(model, steps: int) -> int:
    """Steps at which CPSample can guide: those with alpha_t > 0 (cpaudit/sampling/protection.py protect_pred skips a
    zero-SNR step; on a flow path the first, at sigma = 1, is one: x_t is pure noise there)."""
    path, _, n = model.sampling_path(steps)
    return steps if path.kind != "flow" else int((path.alpha > 0).sum())


def measure(model, clf, n: int, args, device: torch.device, name: str, guidance: float) -> tuple[list[dict], dict]:
    """Unprotected then protected at batch `n` in dtype `name`: a warm-up, then --repeats timed runs each (the
    fastest's times, the peaks over all); their two rows and the summary comparing them."""
    dtype, res, rows = DTYPES[name], {}, []
    for protected in (False, True):
        run_once(model, clf, n, min(args.warmup_steps, args.steps), protected, device, dtype, guidance)
        runs = [run_once(model, clf, n, args.steps, protected, device, dtype, guidance) for _ in range(args.repeats)]
        best = dict(min(runs, key=lambda r: r["seconds"]))
        for key in ("peak_gib", "peak_sampling_gib", "peak_decode_gib"):
            best[key] = None if best[key] is None else max(r[key] for r in runs)
        res[protected] = best
        rows.append(
            {
                "dtype": name,
                "batch": n,
                "protected": protected,
                **{k: round(v, 3) if isinstance(v, float) else v for k, v in best.items()},
            }
        )
        if protected and best["guided_steps"] < guidable_steps(model, args.steps):
            print(
                f"warning: {name} batch {n}: the guidance ran at {best['guided_steps']} of {args.steps} steps "
                f"per sample (non-finite samples: {n - best['finite_samples']})",
                flush=True,
            )
    s = {
        "dtype": name,
        "batch": n,
        "unprotected_s": round(res[False]["seconds"], 3),
        "protected_s": round(res[True]["seconds"], 3),
        "ratio": round(res[True]["seconds"] / res[False]["seconds"], 3),
        "sampling_ratio": round(res[True]["sampling_seconds"] / res[False]["sampling_seconds"], 3),
        "peak_gib_unprotected": res[False]["peak_gib"],
        "peak_gib_protected": res[True]["peak_gib"],
        "peak_sampling_gib_unprotected": res[False]["peak_sampling_gib"],
        "peak_sampling_gib_protected": res[True]["peak_sampling_gib"],
    }
    for row in rows:
        row["ratio"] = s["ratio"]
    print(
        f"{name} batch {n}: unprotected {s['unprotected_s']:.2f} s, protected {s['protected_s']:.2f} s, "
        f"ratio {s['ratio']:.3f}, peak {s['peak_gib_unprotected']} / {s['peak_gib_protected']} GiB",
        flush=True,
    )
    return rows, s


def architecture(args: argparse.Namespace, parts: dict) -> dict:
    """What the record says about the model beyond its parameter counts."""
    if args.arch == "flux":
        return {
            "double_blocks": args.double_blocks,
            "single_blocks": args.single_blocks,
            "t5_layers": _flow_gpu.T5_LAYERS,
            "guidance": "distilled (guidance_embeds): one transformer call a step",
        }
    if args.arch == "sd35m":
        return {"t5_layers": _flow_gpu.T5_LAYERS, "guidance": "classifier-free, one doubled batch a step"}
    return {"guidance": "classifier-free, one doubled batch a step"}


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    guidance = DEFAULTS[args.arch]["guidance"]
    device = torch.device(args.device)
    try:
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.set_verbosity_error()  # not the note on casting with to(), which is what this script means to do
    except ImportError:
        pass
    model, parts = build(args, device)
    latent = model.space_shape
    with torch.device(device), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(1)
        clf = (
            TimeClassifier(ClassifierConfig(latent[0], latent[-1], 8 if args.tiny else 64, (1, 2, 2), 2))
            .eval()
            .requires_grad_(False)
        )
    model.to(device)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    rows, summary = [], []
    for name in args.dtypes:
        set_dtype(parts, DTYPES[name])
        if device.type == "cuda":
            torch.cuda.empty_cache()
        for n in args.batches:
            r, s = measure(model, clf, n, args, device, name, guidance)
            rows += r
            summary.append(s)
    peak_by_dtype = {
        d: max((r["peak_gib"] for r in rows if r["dtype"] == d and r["peak_gib"] is not None), default=None)
        for d in args.dtypes
    }
    denoiser = "unet" if "unet" in parts else "transformer"
    record = {
        "machine": machine(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "arch": args.arch,
        "tiny": args.tiny,
        "command": " ".join(["python", "benchmarks/bench_sd_gpu.py", *(sys.argv[1:] if argv is None else argv)]),
        "parameters": {k: count(m) for k, m in parts.items()},
        f"{denoiser}_parameters": count(parts[denoiser]),
        "architecture": architecture(args, parts),
        "classifier_parameters": count(clf),
        "latent_shape": list(latent),
        "image_shape": list(model.image_shape),
        "steps": args.steps,
        "guidable_steps": guidable_steps(model, args.steps),
        "warmup_steps": min(args.warmup_steps, args.steps),
        "repeats": args.repeats,
        "guidance_scale": guidance,
        "dtypes": args.dtypes,
        "batches": args.batches,
        "precision": f"{'UNet' if denoiser == 'unet' else 'transformer'} and text encoders in the dtype; VAE float32; "
        "classifier float32 under autocast in the dtype",
        "protection": {
            "classifier": "random-label TimeClassifier on the latents",
            "alpha": 0.5,
            "scale": 10.0,
            "space": "x_t",
        },
        "peak_gib_by_dtype": peak_by_dtype,
        "summary": summary,
        "rows": rows,
    }
    print(table(summary), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
