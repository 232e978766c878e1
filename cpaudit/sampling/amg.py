"""Anti-memorisation guidance (AMG) for text-to-image models: Chen, Liu & Xu, "Towards Memorization-Free Diffusion
Models", CVPR 2024 (arXiv 2404.00922), Sec. 3, as the authors' Stable Diffusion code forms it
(github.com/chenchen-usyd/AMG-sd, ldm/models/diffusion/ddim.py, p_sample_ddim; scripts/txt2img.py, cond_fn).

At each step the classifier-free-guided prediction eps = u + w (c - u) (u, c: the unconditional and prompt
outputs) gives x0_hat; sigma_t is its similarity to the nearest training image N. Where sigma_t exceeds the
threshold lambda the three guidances act on that sample:

- despecification G_spe: the prompt's pull lowered, u + (w - s_spe)(c - u), s_spe = min(c1 sigma_t, w - 1)
  (the code's g2_scale = min(6.5, 6.5/0.5 sigma_t) at w = 7.5: c1 = 13, the cap w - 1 keeps the prompt's
  own prediction);
- caption deduplication G_dup: + s_dup (u - eps(x_t, y_N)), away from the nearest image's caption y_N, with
  s_dup = (w - 1 - s_spe) min(1, c2 sigma_t) (the code's g3_scale, c2 = 1/0.3): one more network call;
- dissimilarity G_sim: eps + s_sim sigma_t-path (sigma / alpha) grad_{x0} sigma_t(x0_hat, N), x0_hat moved away
  from N with eps held fixed (the code's cond_fn backpropagates to x_t through x0_hat with e_t detached), at
  s_sim = c3 (sigma_t - lambda) exp((1 - t / T) 1000 / 170) (the code's `(simscore2 - 0.3) *
  np.exp((1000 - t) / 170)` times its dissimilarity scale 100).

What differs from the paper, as the data allow:
- similarity is the Pearson correlation of x0_hat with the members in the model's own space (their latents on
  a latent model; sampling/repulsion.py's embedding), not SSCD on the decoded image, so no backward pass
  through the VAE and an exact nearest member instead of a LAION kNN service;
- one constant threshold lambda on that correlation for all three guidances, where the code uses the SSCD
  schedule lambda_t = 0.3 + 0.1 exp(-0.005 t) for G_dup and G_sim and applies G_spe wherever sigma_t > 0;
- G_dup takes the nearest member's own caption (members' captions from the split), where the paper takes a
  caption only when it is duplicated among the neighbour's 1000 kNN (> 20 copies): in a fine-tune's small
  training set the nearest member's caption is the one the model has tied to that image;
- the classifier-free combination and each term work on any prediction type (eps, v, x0, flow velocity):
  they are affine in the network's output, so they are formed on the outputs and the prediction pair is taken
  where x0_hat is needed (core/paths.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from cpaudit.core.paths import GaussianPath, Pred, PredictionType, output_of_pair, prediction_pair
from cpaudit.data.members import Membership, membership_names, model_members, require_model_shape
from cpaudit.errors import ConfigError
from cpaudit.models.conditioning import TextCond
from cpaudit.sampling.repulsion import centred_unit, correlation_gradient

# c1 and c2 are the authors' (code above, at their w = 7.5). The threshold and c3 (their dissimilarity scale, for
# SSCD on decoded images) are `cpaudit tune`'s choice on the text demo's model for latent correlations
# (benchmarks/text_guidance_tune.py, second round; tuning seeds 2,000,000 on): the lowest pixel FID among points
# extracting no more training captions than held-out ones: threshold 0.7, c3 100 (0 of 64 at 1.07x unprotected;
# 0.8 left 4 of 64 at c3 100).
DEFAULT_AMG = {"threshold": 0.7, "spe": 13.0, "dup": 1 / 0.3, "sim": 100.0}
TIME_DECAY = 170.0  # exp((1000 - t) / 170): the code's growth of the dissimilarity scale toward t = 0


@dataclass(frozen=True)
class Amg:
    threshold: float = DEFAULT_AMG["threshold"]  # lambda: guide where the nearest member's correlation exceeds it
    spe: float = DEFAULT_AMG["spe"]  # c1: despecification per unit of similarity
    dup: float = DEFAULT_AMG["dup"]  # c2: caption deduplication per unit of similarity (of what G_spe leaves)
    sim: float = DEFAULT_AMG["sim"]  # c3: dissimilarity guidance's scale

    def __post_init__(self) -> None:
        if not -1.0 <= self.threshold <= 1.0:
            raise ConfigError(f"amg threshold must be a correlation in [-1, 1], got {self.threshold}")
        for name in ("spe", "dup", "sim"):
            v = getattr(self, name)
            if not (0.0 <= v < math.inf):
                raise ConfigError(f"amg {name} scale must be a finite number >= 0, got {v}")

    def to_dict(self) -> dict:
        return {
            "kind": "anti-memorisation guidance",
            "threshold": self.threshold,
            "spe": self.spe,
            "dup": self.dup,
            "sim": self.sim,
        }


def _col(v: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor | float:
    """A per-row value as a column broadcasting against `like` (N, ...); a float stays a float."""
    if isinstance(v, torch.Tensor):
        return v.to(like.device, like.dtype).reshape(-1, *([1] * (like.dim() - 1)))
    return v


def nearest_member(x0: torch.Tensor, members_unit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(r, index) of each row's most correlated member; members_unit: (M, D) centred unit rows."""
    unit, _ = centred_unit(x0.float())
    best, idx = (unit @ members_unit.T).max(dim=1)
    return best, idx


def dissimilarity_pred(
    pred: Pred,
    x_t: torch.Tensor,
    alpha: float,
    sigma: float,
    members_unit: torch.Tensor,
    idx: torch.Tensor,
    scale: torch.Tensor,
) -> Pred:
    """G_sim: eps + s sigma / alpha grad_{x0} r(x0_hat, N) per row (scale (N,), 0 where it does not act), x0 on
    the path; nothing at alpha = 0, where x0_hat does not depend on x_t."""
    if alpha <= 0 or not bool((scale > 0).any()):
        return pred
    _, grad = correlation_gradient(pred.x0.float(), members_unit[idx])
    step = scale.to(grad.dtype).reshape(-1, *([1] * (grad.dim() - 1))) * (sigma / alpha) * grad
    eps = pred.eps + step.to(pred.eps.dtype)
    return Pred((x_t - sigma * eps) / alpha, eps)


class AmgGuidance:
    """The guidance hook a TextCond carries (models/conditioning.py, GuidanceHook): called by the denoiser in
    place of its own classifier-free combination, it returns the guided network output. `members` are in the
    model's own space; `captions` theirs (None: no caption deduplication); `encode` turns captions into a
    TextCond (the model's prompt encoder). Counts the sample-steps where it fired (`fired`)."""

    def __init__(
        self,
        amg: Amg,
        members: torch.Tensor,
        captions: list[str] | None,
        encode: Callable[[list[str]], TextCond] | None,
        path: GaussianPath,
        prediction: PredictionType,
        time_range: float = 1000.0,
    ) -> None:
        self.amg = amg
        self.members_unit, _ = centred_unit(members.float())
        self.captions = captions
        self.encode = encode
        self.path = path
        self.prediction = prediction
        self.time_range = float(time_range)
        self.fired = 0

    def __call__(self, denoiser: Any, x: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        """The guided output at (x_t, t) for a batch at one time (the samplers' case)."""
        if not bool((t == t.reshape(-1)[0]).all()):
            raise ValueError("anti-memorisation guidance guides a batch at one time")
        u, c = denoiser.halves(x, t, cond)
        n = x.shape[0]
        w = torch.as_tensor(cond.scale_at(t), dtype=torch.float64).reshape(-1).expand(n).to(x.device)
        alpha, sigma = (float(v) for v in self.path.coefficients(t[:1]))
        out = u + _col(w, u) * (c - u)
        pred = prediction_pair(out, x, alpha, sigma, self.prediction)
        self.members_unit = self.members_unit.to(x.device)
        r, idx = nearest_member(pred.x0, self.members_unit)
        fired = r > self.amg.threshold
        self.fired += int(fired.sum())
        if not bool(fired.any()):
            return out
        room = (w - 1).clamp(min=0)  # what guidance adds beyond the prompt's own prediction
        s_spe = torch.minimum(self.amg.spe * r.double(), room) * fired
        out = u + _col(w - s_spe, u) * (c - u)
        s_dup = (room - s_spe) * (self.amg.dup * r.double()).clamp(0, 1) * fired
        out = self._deduplicate(denoiser, x, t, cond, out, u, idx, s_dup)
        return self._dissimilar(x, t, (alpha, sigma), out, r, idx, fired)

    def _deduplicate(
        self,
        denoiser: Any,
        x: torch.Tensor,
        t: torch.Tensor,
        cond: TextCond,
        out: torch.Tensor,
        u: torch.Tensor,
        idx: torch.Tensor,
        s_dup: torch.Tensor,
    ) -> torch.Tensor:
        """G_dup: + s_dup (u - eps(x_t, caption of the nearest member)) on the rows where s_dup > 0."""
        rows = (s_dup > 0).nonzero().squeeze(1)
        if self.captions is None or self.encode is None or len(rows) == 0:
            return out
        member_cond = self.encode([self.captions[int(i)] for i in idx[rows]])
        member_cond = TextCond(
            member_cond.prompt_embeds,
            member_cond.prompt_embeds,
            1.0,
            member_cond.pooled_prompt_embeds,
            member_cond.pooled_prompt_embeds,
            member_cond.time_ids,
            cond.guidance,
        )
        e_nn = denoiser(x[rows], t[rows], member_cond)
        out = out.clone()
        out[rows] = out[rows] + _col(s_dup[rows], u[rows]) * (u[rows] - e_nn)
        return out

    def _dissimilar(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        at: tuple[float, float],
        out: torch.Tensor,
        r: torch.Tensor,
        idx: torch.Tensor,
        fired: torch.Tensor,
    ) -> torch.Tensor:
        """G_sim on the fired rows, at the code's time-growing scale; back to the network's output."""
        alpha, sigma = at
        frac = t.double().reshape(-1).to(r.device) / self.time_range
        scale = self.amg.sim * (r.double() - self.amg.threshold) * torch.exp((1 - frac) * 1000 / TIME_DECAY) * fired
        if self.amg.sim == 0 or alpha <= 0:
            return out
        pred = prediction_pair(out, x, alpha, sigma, self.prediction)
        guided = dissimilarity_pred(pred, x, alpha, sigma, self.members_unit, idx, scale)
        return output_of_pair(guided, alpha, sigma, self.prediction).to(out.dtype)


def amg_for_model(model, amg: Amg, membership: Membership = None, device: torch.device | str = "cpu") -> AmgGuidance:
    """AMG's hook for a loaded text model: its members (the user's, else those the folder records; data/members.py)
    in the model's own space, their captions where the data hold them, the model's prompt encoder."""
    data, split = model_members(model.folder, model.config, membership)
    require_model_shape(data, model.image_shape, membership_names(membership, data.source))
    members = model.codec.to(device).encode(data.take(split.member_idx).to(device)).to(device)
    captions = None if data.captions is None else [data.captions[int(i)] for i in split.member_idx]
    prompts = model.prompts
    encode = None if prompts is None else (lambda caps: prompts.condition(caps, 1.0))
    return AmgGuidance(amg, members, captions, encode, model.path, model.prediction, float(model.schedule.T))
