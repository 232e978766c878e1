"""CLiD, the conditional likelihood discrepancy attack on text-to-image models (Zhai et al., "Membership
Inference on Text-to-image Diffusion Models via Conditional Likelihood Discrepancy", NeurIPS 2024; code:
zhaisf/CLiD, mia_CLiD_clip.py and mia_CLiD_impt.py for the losses, cal_clid_th.py for the score).

A fine-tuned model overfits the *conditional* likelihood of its training pairs more than the marginal one,
so for a member the noise-prediction loss with its true caption c drops further below the loss with a
reduced caption c* than for a held-out image. Per image (mia_mtcl_denoise in both scripts):

- one noise draw eps_t per timestep t of a window of three (mia_CLiD_impt.py: Tmid 450 +- 10, construct_t_array;
  mia_CLiD_clip.py: 485, 495, 505), x_t = alpha_t x_0 + sigma_t eps_t (scheduler.add_noise);
- L(c) = mean over the window and every latent entry of (eps_hat(x_t, t, c) - eps_t)^2 (F.mse_loss, 'mean');
- the same x_t and noise with each reduced caption: the caption's three thirds by characters
  (e[:len/3], e[len/3:2len/3], e[2len/3:], mia_CLiD_clip.py tokenize_captions_multi) and the empty caption;
  diff_k = L(c*_k) - L(c).

The threshold score (cal_clid_th.py): the features [L(c), -mean_k diff_k] (get_l_clidavg_last3, which
averages all four reductions despite its name), each column robust-scaled (sklearn's RobustScaler: minus the
median, over the interquartile range), combined (1 - alpha) L + alpha CLiD (deal_data_weight_avg); lower is
a member, so cpaudit's score (higher = member) is its negative. alpha = 0 is the loss attack on the window,
alpha = 1 pure discrepancy.

Where this differs from the reference, and why:
- The reference fits the scaler on a shadow model's candidates and picks alpha in 0, 0.1, ..., 1 by the shadow's
  AUC. No shadow model exists in an audit: the scaler is fitted on the candidates themselves without their
  labels (a relabelling leaves it unchanged, so the chance band stays valid), and alpha, the window and the
  reduction (all four, or the empty caption alone) are variants the cross-fit chooses among on one half of
  the images (core/crossfit.py), like every other attack's hyper-parameters.
- mia_CLiD_impt.py's reductions mask the caption's most important words by a per-caption importance file the
  repository does not include (data/impt_metadata/*.jsonl); the character-thirds reductions of
  mia_CLiD_clip.py need nothing beyond the caption and are the ones used here.
- Timesteps are the reference's on SD's 1000-step grid, mapped to the model's own grid (round(t T / 1000)),
  and queried through the model's path (core/paths.py): eps_hat is the Denoiser's, so the same code runs on
  SD, SDXL, SD3 and FLUX (a flow velocity converted to eps at the boundary).
- cal_clid_xgb.py's CLiD_vec trains a classifier on a shadow model's features; not ported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from cpaudit.auditing.attacks.base import AttackContext, AttackScores, Denoiser, Role, score_images
from cpaudit.auditing.attacks.loss import image_noise
from cpaudit.core.paths import GaussianPath, noise_to
from cpaudit.models.conditioning import TextCond
from cpaudit.seeding import derive_seed

REFERENCE_T = 1000  # the grid the reference's timesteps are on (SD's DDPM scheduler)
# Three timesteps 10 apart: around 450 (mia_CLiD_impt.py, Tmid = 450) and around 495 (mia_CLiD_clip.py).
WINDOWS: tuple[tuple[int, ...], ...] = ((440, 450, 460), (485, 495, 505))
ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))  # cal_clid_th.py's grid
REDUCED_FORMS = ("first third", "second third", "last third", "empty")
FORMS = ("true",) + REDUCED_FORMS
REDUCTIONS = {"all": tuple(range(len(REDUCED_FORMS))), "empty": (REDUCED_FORMS.index("empty"),)}


def reduced_captions(caption: str) -> list[str]:
    """The reference's condition-reduced captions, in REDUCED_FORMS order (mia_CLiD_clip.py): the three
    character thirds, int(len / 3) and int(2 len / 3) the cuts, and the empty caption."""
    n = len(caption)
    a, b = int(n / 3), int(2 * n / 3)
    return [caption[:a], caption[a:b], caption[b:], ""]


def grid_timesteps(window: tuple[int, ...], T: int) -> tuple[int, ...]:
    """The reference's timesteps (on a 1000-step grid) as indices of a T-step grid."""
    return tuple(min(T - 1, max(0, round(t * T / REFERENCE_T))) for t in window)


def form_key(role: str, form: str) -> str:
    """The Denoiser.conds key of a role's conditions for one caption form ('true' is the role itself)."""
    return role if form == "true" else f"{role}/{form}"


def clid_conditions(condition: Callable[[list[str], float], TextCond], captions: list[str]) -> dict[str, TextCond]:
    """form -> the conditions of every caption in that form, at guidance scale 1 (the prompt alone, as the
    reference's unet(x_t, t, text_encoder(ids)) call). `condition` is a LoadedModel's prompts.condition."""
    reduced = [reduced_captions(c) for c in captions]
    out = {"true": condition(list(captions), 1.0)}
    for k, form in enumerate(REDUCED_FORMS):
        out[form] = condition([r[k] for r in reduced], 1.0)
    return out


def clid_denoiser(lm, m_captions: list[str], h_captions: list[str], device: torch.device) -> Denoiser:
    """The plain denoiser of a text model with, per role, each candidate's true caption and its reduced
    captions (keys form_key(role, form)): what CLiDAttack queries. lm is a models.load.LoadedModel."""
    conds: dict = {}
    for role, caps in (("members", m_captions), ("holdout", h_captions)):
        for form, cond in clid_conditions(lm.prompts.condition, caps).items():
            conds[form_key(role, form)] = cond.to(device)
    pairs = lm.denoiser
    return Denoiser(pairs.bind(None), lm.path, device, cond_model=pairs, conds=conds)


def form_denoiser(denoiser: Denoiser, role: Role, form: str, rows: range) -> Denoiser:
    """The denoiser bound to candidates `rows` of `role` in one caption form."""
    assert denoiser.conds is not None  # clid_denoiser's: every role's conditions in every form
    return replace(denoiser, conds={role: denoiser.conds[form_key(role, form)]}).bound(role, rows)


def window_losses(
    forms: list[Denoiser], x0: torch.Tensor, noise: torch.Tensor, ts: tuple[int, ...], path: GaussianPath
) -> torch.Tensor:
    """(len(forms), B): per image, the mean over timesteps ts and latent entries of (eps_hat - eps)^2 with each
    form's denoiser; noise (len(ts), B, ...) is eps per timestep, the same for every form (as the reference's
    noise_other)."""
    out = torch.zeros(len(forms), x0.shape[0], dtype=torch.float64, device=x0.device)
    for j, t in enumerate(ts):
        eps = noise[j]
        x_t = noise_to(x0, eps, *path.at(t))
        for f, den in enumerate(forms):
            # float64 from the difference on: the discrepancy is a small difference of two losses
            out[f] += (den.eps(x_t, t).double() - eps.double()).pow(2).flatten(1).mean(1)
    return out / len(ts)


def robust_scale(v: np.ndarray) -> np.ndarray:
    """sklearn's RobustScaler on one column (the reference's Scale): (v - median) / (q75 - q25), a zero
    range left at 1 (sklearn's _handle_zeros_in_scale)."""
    q25, q75 = np.percentile(v, [25, 75])
    iqr = q75 - q25
    return (v - np.median(v)) / (iqr if iqr != 0 else 1.0)


def clid_score(loss: np.ndarray, reduced_loss: np.ndarray, alpha: float) -> np.ndarray:
    """Higher = member. loss (N,): L(c) of every candidate (members and held-out images together: the scaler's
    fit); reduced_loss (R, N): L(c*_k). -((1 - alpha) s(L) + alpha s(-mean_k (L(c*_k) - L(c)))), s = robust_scale
    (cal_clid_th.py get_l_clidavg_last3, RobustScaler, deal_data_weight_avg)."""
    clid = -(reduced_loss - loss[None]).mean(0)
    return -((1 - alpha) * robust_scale(loss) + alpha * robust_scale(clid))


def variant_scores(losses: np.ndarray, n_members: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(variants, pos, neg) from losses (windows, forms, N) of the members (first n_members columns) then the
    held-out images: every window x reduction x alpha, alpha = 0 (the window's loss alone) once per window."""
    names, rows = [], []
    for w, window in enumerate(WINDOWS):
        for red, idx in REDUCTIONS.items():
            for alpha in ALPHAS:
                if alpha == 0 and red != "all":
                    continue
                rows.append(clid_score(losses[w, 0], losses[w, 1:][list(idx)], alpha))
                names.append(
                    f"t={window[0]}-{window[-1]}/{REFERENCE_T}, "
                    + ("loss only" if alpha == 0 else f"{red} reduced, alpha={alpha:.1f}")
                )
    scores = np.stack(rows)
    return names, scores[:, :n_members], scores[:, n_members:]


class CLiDAttack:
    name = "clid"
    title = "CLiD (Zhai et al. 2024)"
    target = "denoiser"

    def scores(self, ctx: AttackContext, denoiser: Denoiser | None) -> AttackScores:
        assert denoiser is not None and ctx.members is not None and ctx.holdout is not None
        assert denoiser.conds is not None and form_key("members", "empty") in denoiser.conds, (
            "CLiD needs the reduced captions' conditions: build its denoiser with clid_denoiser"
        )
        ctx.step("CLiD" + (" (protected)" if denoiser.protected else "") + denoiser.title)
        windows = [grid_timesteps(w, denoiser.path.T) for w in WINDOWS]
        ts = [t for w in windows for t in w]
        parts = []
        for role, x in (("members", ctx.members), ("holdout", ctx.holdout)):
            seed = derive_seed(ctx.seed, f"clid-{role}")

            def score(xb: torch.Tensor, idx: range, role=role, seed=seed) -> torch.Tensor:
                noise = image_noise(seed, idx, len(ts), tuple(xb.shape[1:])).to(xb.device)
                forms = [form_denoiser(denoiser, role, f, idx) for f in FORMS]
                starts = np.cumsum([0] + [len(w) for w in windows])
                return torch.cat(
                    [
                        window_losses(forms, xb, noise[starts[w] : starts[w + 1]], window, denoiser.path)
                        for w, window in enumerate(windows)
                    ]
                )

            parts.append(score_images(x, score, denoiser.device))
        losses = np.concatenate(parts, axis=1).reshape(len(WINDOWS), len(FORMS), -1)
        variants, pos, neg = variant_scores(losses, ctx.members.shape[0])
        return AttackScores(
            variants,
            pos,
            neg,
            queries_per_image=len(ts) * len(FORMS),
            extra={
                "clid_timesteps": [list(w) for w in windows],
                "clid_reduced_captions": list(REDUCED_FORMS),
                "clid_alphas": list(ALPHAS),
            },
        )
