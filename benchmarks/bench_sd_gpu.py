"""CPSample's cost at Stable Diffusion 1.5's size, on a GPU: unprotected against protected sampling.

    python benchmarks/bench_sd_gpu.py --out benchmarks/results/bench_sd_gpu.json [--batches 8,16] [--dtypes fp16,fp32]
    python benchmarks/bench_sd_gpu.py --tiny --device cpu    # a smoke run of the script itself

A randomly initialised pipeline with SD 1.5's dimensions (UNet2DConditionModel 860M parameters, 4x64x64
latents, a 12-layer 768-wide CLIP text encoder over 77 tokens, the 83M-parameter AutoencoderKL) through
cpaudit's own sampler (`draw_run`): 50 DDIM steps, classifier-free guidance 7.5 as one doubled batch, the
latents decoded at the end. Protected: CPSample's random-label classifier on the latents (width 64, channel
multipliers 1,2,2) with alpha 0.5, so that it guides at every step (a classifier forward and backward per
step: the worst case). Weights are random: time does not depend on them. Each configuration runs once as a
warm-up and then --repeats times, the fastest kept; peak GPU memory per configuration. Never run by the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._util import machine  # noqa: E402
from cpaudit.core.schedules import Schedule, Spacing  # noqa: E402
from cpaudit.models.classifier import ClassifierConfig, TimeClassifier  # noqa: E402
from cpaudit.models.codec import VaeCodec  # noqa: E402
from cpaudit.models.diffusers_denoiser import DiffusersDenoiser  # noqa: E402
from cpaudit.models.load import LoadedModel  # noqa: E402
from cpaudit.models.prompts import PromptEncoder  # noqa: E402
from cpaudit.models.tiny_sd import BOS, EOS, word_tokenizer  # noqa: E402
from cpaudit.sampling.conditions import Conditions  # noqa: E402
from cpaudit.sampling.draw import draw_run  # noqa: E402
from cpaudit.sampling.protection import Protection  # noqa: E402
from cpaudit.sampling.sampler import SamplerConfig  # noqa: E402

PROMPTS = ("a photo of a red fox in the snow", "an oil painting of a lighthouse at dusk")


def sd15(tiny: bool):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    w = (32, 64, 64, 64) if tiny else (320, 640, 1280, 1280)
    width, layers, tokens = (32, 2, 77) if tiny else (768, 12, 77)
    unet = UNet2DConditionModel(sample_size=8 if tiny else 64, block_out_channels=w, layers_per_block=2, cross_attention_dim=width,
                                attention_head_dim=8, norm_num_groups=32 if not tiny else 8)
    vae = AutoencoderKL(block_out_channels=(32, 32, 32, 32) if tiny else (128, 256, 512, 512), in_channels=3, out_channels=3,
                        latent_channels=4, down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        layers_per_block=2, norm_num_groups=32 if not tiny else 8, sample_size=64 if tiny else 512)
    tok = word_tokenizer(list(PROMPTS), tokens)
    vocab = tok.get_vocab()
    te = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=width, intermediate_size=4 * width,
                                      num_hidden_layers=layers, num_attention_heads=max(width // 64, 1), max_position_embeddings=tokens,
                                      bos_token_id=vocab[BOS], eos_token_id=vocab[EOS], pad_token_id=vocab[EOS]))
    schedule = Schedule("scaled_linear", 1000, 0.00085, 0.012)
    model = LoadedModel(DiffusersDenoiser(unet).eval().requires_grad_(False), schedule, {}, Path("."),
                        (3, 64 if tiny else 512, 64 if tiny else 512), VaeCodec(vae, batch_size=4), "text",
                        PromptEncoder(tok, te), spacing=Spacing("leading", 1, False))
    clf = TimeClassifier(ClassifierConfig(4, 8 if tiny else 64, 64, (1, 2, 2), 2)).eval().requires_grad_(False)
    return model, clf


def run_once(model, clf, n, steps, protected, device, dtype) -> float:
    conds = Conditions(PROMPTS, 7.5)
    prot = Protection("learned-bench", alpha=0.5, scale=10.0, space="x_t") if protected else None
    cast = torch.autocast("cuda", dtype=torch.float16) if dtype == "fp16" and device.type == "cuda" else contextlib.nullcontext()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with cast:
        draw_run(model, list(range(n)), SamplerConfig(steps=steps), conditions=conds, batch_size=n, protection=prot,
                 logit_fn=(lambda x, t: clf(x.float(), t)) if protected else None, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", default="8,16")
    ap.add_argument("--dtypes", default="fp16,fp32")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="a small model of the same architecture, to check the script")
    args = ap.parse_args()
    device = torch.device(args.device)
    model, clf = sd15(args.tiny)
    model.to(device)
    clf.to(device)
    n_unet = sum(p.numel() for p in model.model.parameters())
    n_clf = sum(p.numel() for p in clf.parameters())
    rows = []
    for dtype in args.dtypes.split(","):
        for n in (int(b) for b in args.batches.split(",")):
            times = {}
            for protected in (False, True):
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                run_once(model, clf, n, args.steps, protected, device, dtype)  # warm-up
                times[protected] = min(run_once(model, clf, n, args.steps, protected, device, dtype) for _ in range(args.repeats))
                peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
                rows.append({"dtype": dtype, "batch": n, "protected": protected, "seconds": round(times[protected], 3),
                             "peak_gib": None if peak is None else round(peak, 2)})
            ratio = times[True] / times[False]
            rows[-1]["ratio"] = rows[-2]["ratio"] = round(ratio, 3)
            print(f"{dtype} batch {n}: unprotected {times[False]:.2f} s, protected {times[True]:.2f} s, ratio {ratio:.3f}", flush=True)
    record = {"machine": machine(), "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
              "tiny": args.tiny, "unet_parameters": n_unet, "classifier_parameters": n_clf, "steps": args.steps,
              "guidance_scale": 7.5, "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
