"""DP-SGD training of the denoiser as in DPDM (Dockhorn et al., TMLR 2023, Algorithm 1).

Per step: Poisson-sample a batch (each member with probability q); for each example, average the
denoising loss over K noise draws (t_k, eps_k) ("noise multiplicity": K draws of ONE example, so K
costs no privacy); clip that example's gradient to norm C; sum, add N(0, sigma^2 C^2 I), divide by the
expected batch size qN. Per-example gradients come from torch.func (vmap over examples of grad of
a per-example K-draw loss), which Opacus' hooks cannot give for K rows of one example; the spent epsilon
comes from Opacus' RDP accountant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import functional_call, grad, vmap

from cpaudit.core.privacy import epsilon_spent, noise_for_budget
from cpaudit.core.schedules import Schedule, q_sample
from cpaudit.errors import InputError
from cpaudit.models.unet import UNet
from cpaudit.train.ema import EMA

Progress = Callable[[int, int, dict[str, float]], None]


@dataclass(frozen=True)
class DPConfig:
    epsilon: float = 10.0
    delta: float = 1e-3
    max_grad_norm: float = 1.0  # C; DPDM uses 1
    noise_multiplicity: int = 4  # K
    expected_batch_size: int = 16
    steps: int = 400
    lr: float = 3e-4
    ema_decay: float = 0.999


def check_dp_config(cfg: DPConfig, n: int) -> float:
    """Validate against the data size; return the sample rate q."""
    if not cfg.epsilon > 0:
        raise InputError("--epsilon", f"must be > 0, got {cfg.epsilon}")
    if not 0 < cfg.delta < 1 / n:
        raise InputError("--delta", f"must be in (0, 1/N) = (0, {1 / n:.3g}) for N = {n} members, got {cfg.delta}")
    if not 1 <= cfg.expected_batch_size <= n:
        raise InputError(
            "--batch-size", f"must be between 1 and the number of members ({n}), got {cfg.expected_batch_size}"
        )
    if cfg.max_grad_norm <= 0:
        raise InputError("--max-grad-norm", f"must be > 0, got {cfg.max_grad_norm}")
    if cfg.noise_multiplicity < 1:
        raise InputError("--noise-multiplicity", f"must be >= 1, got {cfg.noise_multiplicity}")
    return cfg.expected_batch_size / n


def per_example_grads(
    model: UNet,
    params: dict[str, torch.Tensor],
    x0: torch.Tensor,
    t: torch.Tensor,
    eps: torch.Tensor,
    abar: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """x0: (B, C, H, W); t: (B, K); eps: (B, K, C, H, W) -> one gradient per example, each (B, *param)."""

    def loss_one(p: dict[str, torch.Tensor], x: torch.Tensor, tk: torch.Tensor, ek: torch.Tensor) -> torch.Tensor:
        xs = x.unsqueeze(0).expand(tk.shape[0], *x.shape)  # the K noised copies of this one example
        x_t = q_sample(xs, abar[tk], ek)
        return (functional_call(model, p, (x_t, tk)) - ek).pow(2).mean()

    return vmap(grad(loss_one), in_dims=(None, 0, 0, 0))(params, x0, t, eps)


def clip_and_noise(
    grads: dict[str, torch.Tensor], C: float, sigma: float, expected_batch: float, gen: torch.Generator
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Clip each example's full gradient to norm C, sum, add Gaussian noise, normalise. Returns (grad, norms)."""
    flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    norms = flat.norm(dim=1)
    factor = (C / (norms + 1e-12)).clamp(max=1.0)
    out = {}
    for name, g in grads.items():
        summed = torch.einsum("b,b...->...", factor, g)
        noise = torch.randn(summed.shape, generator=gen).to(summed.device) * sigma * C  # CPU generator, any device
        out[name] = (summed + noise) / expected_batch
    return out, norms


def train_dp_denoiser(
    model: UNet,
    members: torch.Tensor,
    schedule: Schedule,
    cfg: DPConfig,
    gen: torch.Generator,
    progress: Progress | None = None,
    device: torch.device | str = "cpu",
) -> tuple[UNet, dict]:
    """Every draw (Poisson batch, t, eps, DP noise) comes from the CPU generator `gen`; compute is on `device`."""
    n = members.shape[0]
    q = check_dp_config(cfg, n)
    sigma = noise_for_budget(cfg.epsilon, cfg.delta, q, cfg.steps)
    model = model.to(device)
    members = members.to(device)
    abar = schedule.alphas_cumprod().float().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    ema = EMA(model, cfg.ema_decay)
    k = cfg.noise_multiplicity
    clipped = 0
    seen = 0
    for step in range(1, cfg.steps + 1):
        take = torch.rand(n, generator=gen) < q  # Poisson sampling
        x0 = members[take.to(device)]
        b = x0.shape[0]
        t = torch.randint(schedule.T, (b, k), generator=gen).to(device)
        eps = torch.randn((b, k, *members.shape[1:]), generator=gen).to(device)
        params = {name: p.detach() for name, p in model.named_parameters()}
        if b > 0:
            grads = per_example_grads(model, params, x0, t, eps, abar)
        else:
            grads = {name: torch.zeros((0, *p.shape), device=p.device) for name, p in params.items()}
        noisy, norms = clip_and_noise(grads, cfg.max_grad_norm, sigma, q * n, gen)
        clipped += int((norms > cfg.max_grad_norm).sum())
        seen += b
        opt.zero_grad(set_to_none=True)
        for name, p in model.named_parameters():
            p.grad = noisy[name]
        opt.step()
        ema.update(model)
        if progress is not None:
            progress(step, cfg.steps, {"batch": b})
    spent = epsilon_spent(sigma, q, cfg.steps, cfg.delta)
    info = {
        "epsilon": spent,
        "target_epsilon": cfg.epsilon,
        "delta": cfg.delta,
        "noise_multiplier": sigma,
        "sample_rate": q,
        "steps": cfg.steps,
        "max_grad_norm": cfg.max_grad_norm,
        "noise_multiplicity": k,
        "expected_batch_size": cfg.expected_batch_size,
        "clipped_fraction": clipped / max(seen, 1),
        "accountant": "rdp (opacus)",
    }
    return ema.model, info


def dp_budget(info: dict) -> str:
    """'epsilon 9.998 at delta 0.001': the accounted (epsilon, delta) pair, as every printed epsilon must read. An
    (epsilon, delta)-DP guarantee holds only with its delta (Dwork and Roth 2014, Definition 2.4); the delta is
    the one the accountant used (train_dp_denoiser's info)."""
    return f"epsilon {info['epsilon']:.3f} at delta {info['delta']:g}"


def dp_summary(info: dict) -> str:
    """The line `cpaudit train-diffusion --dp` prints: the budget spent, its target, and how it was spent."""
    return (
        f"differential privacy: {dp_budget(info)} spent (target epsilon {info['target_epsilon']:g}), noise multiplier "
        f"{info['noise_multiplier']:.3f}, sample rate {info['sample_rate']:.3f}, K = {info['noise_multiplicity']}"
    )
