"""CLiD (auditing/attacks/clid.py) against the authors' scoring, ported below from zhaisf/CLiD (commit
4a0400852d3acc0517d7e20095c8c551b5019dd3): the per-image losses of mia_mtcl_denoise (mia_CLiD_clip.py, the same
function in mia_CLiD_impt.py), its caption thirds (tokenize_captions_multi), its timesteps (construct_t_array and
the clip script's t_to_eval), and cal_clid_th.py's score (get_l_clidavg_last3, RobustScaler, deal_data_weight_avg).
Both run the same toy text-conditional denoiser on the same images and noise; the null test, and CLiD on a tiny
Stable Diffusion folder and on the tiny SD3 and FLUX transformers cpaudit loads."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cpaudit.auditing.attacks.base import AttackContext
from cpaudit.auditing.attacks.clid import (
    ALPHAS,
    FORMS,
    WINDOWS,
    CLiDAttack,
    clid_denoiser,
    form_denoiser,
    grid_timesteps,
    reduced_captions,
    robust_scale,
    variant_scores,
    window_losses,
)
from cpaudit.auditing.attacks.loss import image_noise
from cpaudit.core.attack_stats import auc
from cpaudit.core.paths import vp_path
from cpaudit.models.conditioning import TextCond
from cpaudit.models.denoise import PairModel
from cpaudit.seeding import derive_seed

diffusers = pytest.importorskip("diffusers")

CAPTIONS = [
    "a photo of a red cat",
    "two blue dogs",
    "a shy green owl on a branch",
    "x",
    "a large orange 7",
    "the digit three in white",
    "",
    "a photo of a seven",
]


# ---- the reference, ported ------------------------------------------------------------------------------
def ref_thirds(captions):
    """mia_CLiD_clip.py tokenize_captions_multi: the strings its three reduced inputs tokenize, and the null one."""
    return (
        [e[: int(len(e) / 3)] for e in captions],
        [e[int(len(e) / 3) : int(2 * len(e) / 3)] for e in captions],
        [e[int(2 * len(e) / 3) :] for e in captions],
        ["" for e in captions],
    )


def ref_construct_t_array(Tmid, even_num, max_n_samples):
    """mia_CLiD_impt.py construct_t_array."""
    array = []
    count = 0
    while len(array) < max_n_samples:
        array.append(Tmid + count * even_num)
        if len(array) < max_n_samples:
            array.insert(0, Tmid - (count + 1) * even_num)
        count += 1
    return array


def ref_clip_t_to_eval(T=1000, even_num=10, max_n_samples=3):
    """mia_CLiD_clip.py mi_mtcl_denoise's timesteps."""
    start = T // 2 - (even_num * max_n_samples // 2)
    return list(range(start, T, even_num))[:max_n_samples]


@torch.no_grad()
def ref_mi_mtcl_denoise(model, latents, captions, text_encoder, scheduler, Noise, t_to_eval):
    """mia_CLiD_clip.py mi_mtcl_denoise, its body unchanged but for: captions in place of token ids (the
    toy text encoder takes strings), any latent shape (the reference asserts SD's 4 x 64 x 64), max_clid_samples =
    max_n_samples = len(t_to_eval) and trials_eacht = 1 (the scripts' settings), and Noise's cursor kept locally."""
    Noise_usedidx = 0
    max_clid_samples = len(t_to_eval)
    start_idx = len(t_to_eval) // 2 - max_clid_samples // 2
    t_to_eval = np.array(t_to_eval)
    t_clid_to_eval = list(t_to_eval[[start_idx + i for i in list(range(max_clid_samples))]])
    c1, c2, c3, cnull = ref_thirds(captions)
    batch_loss = {"cond0": [], "cond1_dif": [], "cond2_dif": [], "cond3_dif": [], "condNull_dif": []}
    shape = tuple(latents.shape[1:])
    for latent, input_ids, input_ids_1, input_ids_2, input_ids_3, input_ids_null in zip(
        latents, captions, c1, c2, c3, cnull
    ):
        ts = torch.tensor(np.concatenate([t_to_eval] * 1)).long()
        ts_other = torch.tensor(np.concatenate([t_clid_to_eval] * 1)).long()
        pixel_mtcl = latent.view(-1, *shape).expand(len(t_to_eval), *shape)
        noise = Noise[Noise_usedidx : Noise_usedidx + len(t_to_eval)]
        noise_other = noise[[start_idx + i for i in list(range(max_clid_samples))]]
        x_mtcl = scheduler.add_noise(pixel_mtcl, noise, ts)
        emd_mtcl = text_encoder([input_ids] * len(t_to_eval))
        noise_pred_emd_ori = model(x_mtcl, ts, emd_mtcl).sample
        loss_emd_ori = F.mse_loss(noise_pred_emd_ori.float(), noise.float(), reduction="mean")
        batch_loss["cond0"].append(float(loss_emd_ori.detach().cpu()))
        for input_ids_other, dict_name in zip(
            [input_ids_1, input_ids_2, input_ids_3, input_ids_null],
            ["cond1_dif", "cond2_dif", "cond3_dif", "condNull_dif"],
        ):
            pixel_mtcl_other = latent.view(-1, *shape).expand(len(t_clid_to_eval), *shape)
            x_mtcl_other = scheduler.add_noise(pixel_mtcl_other, noise_other, ts_other)
            emd_mtcl_other = text_encoder([input_ids_other] * len(t_clid_to_eval))
            noise_pred_emd_other = model(x_mtcl_other, ts_other, emd_mtcl_other).sample
            loss_emd_other = F.mse_loss(noise_pred_emd_other.float(), noise_other.float(), reduction="mean")
            batch_loss[dict_name].append(float(loss_emd_other.detach().cpu()) - float(loss_emd_ori.detach().cpu()))
        Noise_usedidx += len(t_to_eval)
    return batch_loss


class RefRobustScaler:
    """sklearn.preprocessing.RobustScaler's defaults (with_centering, with_scaling, quantile_range (25, 75)):
    fit sets center_ = nanmedian, scale_ = the quantile range with zeros replaced by 1 (_handle_zeros_in_scale);
    transform is (X - center_) / scale_ (sklearn/preprocessing/_data.py; sklearn is not a dependency here)."""

    def fit(self, X):
        X = np.asarray(X, dtype=np.float64)
        self.center_ = np.nanmedian(X, axis=0)
        q = np.nanpercentile(X, (25.0, 75.0), axis=0)
        scale = q[1] - q[0]
        self.scale_ = np.where(scale == 0.0, 1.0, scale)
        return self

    def transform(self, X):
        return (np.asarray(X, dtype=np.float64) - self.center_) / self.scale_


def ref_get_l_clidavg_last3(train, test):
    """cal_clid_th.py."""
    train_out = [[e[0], -sum(e[1:]) / len(e[1:])] for e in train]
    test_out = [[e[0], -sum(e[1:]) / len(e[1:])] for e in test]
    return train_out, test_out


def ref_deal_data_weight_avg(train, test, alpha):
    """cal_clid_th.py."""
    assert len(train[0]) == 2
    train = [(1 - alpha) * e[0] + alpha * e[1] for e in train]
    test = [(1 - alpha) * e[0] + alpha * e[1] for e in test]
    return np.array(train), np.array(test)


def ref_scores(train_rows, test_rows, alpha):
    """cal_clid_th.py's __main__ for one alpha, the scaler fitted on the scored model's own candidates (the
    reference fits it on a shadow model's): lower = member."""
    tr, te = ref_get_l_clidavg_last3(train_rows, test_rows)
    scale = RefRobustScaler().fit(np.concatenate((tr, te)))
    return ref_deal_data_weight_avg(scale.transform(tr), scale.transform(te), alpha)


# ---- one toy text-conditional denoiser, seen by both ---------------------------------------------------
def toy_embed(captions):
    """(N, 4): a deterministic embedding of each string (its characters' codes, position-weighted)."""
    rows = []
    for c in captions:
        codes = [ord(ch) * (i + 1) for i, ch in enumerate(c)]
        rows.append([(sum(codes) % 97) / 97, len(c) / 30, (sum(codes[::2]) % 13) / 13, 1.0 if c else 0.0])
    return torch.tensor(rows, dtype=torch.float32)


def toy_net(x, t, emb):
    """eps_hat(x_t, t, c): depends on all three; emb (N, 4) one value per latent channel."""
    e = emb.reshape(x.shape[0], -1)[:, :, None, None]
    s = (t.float() / 1000).reshape(-1, 1, 1, 1)
    return 0.7 * x + 0.3 * torch.tanh(x * (1 + e)) * (1 - s) + 0.2 * e * s


class ToyPrompts:
    def condition(self, prompts, guidance_scale, negative_prompt=None):
        e = toy_embed(prompts)[:, None, :]
        return TextCond(e, toy_embed([""]).expand(len(prompts), 4)[:, None, :], guidance_scale)


def toy_scheduler():
    return diffusers.DDIMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"
    )


def toy_model(scheduler, net=toy_net):
    path = vp_path(scheduler.alphas_cumprod.double())
    pairs = PairModel(lambda x, t, c: net(x, t, c.prompt_embeds[:, 0]), path)
    return SimpleNamespace(prompts=ToyPrompts(), denoiser=pairs, path=path)


def images(n, seed):
    """float64 latents, so that both sides noise them at one precision: the scheduler's add_noise computes its
    coefficients in the latents' dtype, cpaudit's path in float64; in float32 they differ by ~1e-7 relative."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 4, 3, 3, generator=g) * torch.linspace(0.5, 2.0, n).reshape(-1, 1, 1, 1)).double()


def context(members, holdout, seed=0):
    return AttackContext(
        seed=seed,
        sample_emb=np.zeros((1, 2)),
        member_emb=np.zeros((1, 2)),
        holdout_emb=np.zeros((1, 2)),
        threshold=0.97,
        members=members,
        holdout=holdout,
    )


# ---- tests ----------------------------------------------------------------------------------------------
def test_reduced_captions_and_timesteps_are_the_references():
    thirds = ref_thirds(CAPTIONS)
    for i, c in enumerate(CAPTIONS):
        assert reduced_captions(c) == [thirds[k][i] for k in range(4)]
    assert WINDOWS == (tuple(ref_construct_t_array(450, 10, 3)), tuple(ref_clip_t_to_eval()))
    assert grid_timesteps(WINDOWS[0], 1000) == (440, 450, 460)
    assert grid_timesteps(WINDOWS[0], 100) == (44, 45, 46)
    assert ALPHAS == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def test_robust_scale_golden():
    np.testing.assert_allclose(robust_scale(np.array([1.0, 2.0, 3.0, 4.0, 100.0])), [-1.0, -0.5, 0.0, 0.5, 48.5])
    np.testing.assert_array_equal(robust_scale(np.array([2.0, 2.0, 2.0])), [0.0, 0.0, 0.0])


def reference_rows(sched, x, caps, role, window_index, seed=0):
    """The reference's per-image [cond0, cond1_dif, cond2_dif, cond3_dif, condNull_dif] with the noise the attack
    draws for these images (image_noise, seeded as CLiDAttack seeds it), fed in as its Noise stream."""
    unet = lambda x, t, emb: SimpleNamespace(sample=toy_net(x, t, emb))  # noqa: E731
    noise = image_noise(derive_seed(seed, f"clid-{role}"), range(len(x)), 6, tuple(x.shape[1:]))
    w = 3 * window_index
    Noise = torch.cat(
        [noise[w : w + 3, i] for i in range(len(x))]
    ).double()  # image by image, as the reference reads it
    loss = ref_mi_mtcl_denoise(unet, x, caps, toy_embed, sched, Noise, list(WINDOWS[window_index]))
    return np.array(list(zip(*loss.values())))


def cpaudit_losses(sched, xm, xh, m_caps, h_caps, seed=0) -> np.ndarray:
    """(windows, forms, N) of clid.window_losses on the attack's noise, members then held-out images."""
    den = clid_denoiser(toy_model(sched), m_caps, h_caps, torch.device("cpu"))
    cols = []
    for role, x in (("members", xm), ("holdout", xh)):
        noise = image_noise(derive_seed(seed, f"clid-{role}"), range(len(x)), 6, tuple(x.shape[1:]))
        forms = [form_denoiser(den, role, f, range(len(x))) for f in FORMS]
        cols.append(
            torch.stack(
                [window_losses(forms, x, noise[3 * w : 3 * w + 3], WINDOWS[w], den.path) for w in range(len(WINDOWS))]
            ).numpy()
        )
    return np.concatenate(cols, axis=2)


def as_rows(losses: np.ndarray, w: int) -> np.ndarray:
    """(N, 5) [L, L_1 - L, ..., L_null - L]: the reference's file rows, from (windows, forms, N) losses."""
    lw = losses[w]
    return np.concatenate([lw[:1], lw[1:] - lw[:1]]).T


M_CAPS, H_CAPS = CAPTIONS[:4], CAPTIONS[4:]


def test_losses_equal_the_references():
    """Same images, captions and noise: the reference's cond0 and discrepancies, image by image, to 1e-6 (they
    differ by its float32 reduction, ~1e-7)."""
    sched = toy_scheduler()
    xm, xh = images(4, 1), images(4, 2)
    losses = cpaudit_losses(sched, xm, xh, M_CAPS, H_CAPS)
    for w in range(len(WINDOWS)):
        ref = np.concatenate(
            [reference_rows(sched, xm, M_CAPS, "members", w), reference_rows(sched, xh, H_CAPS, "holdout", w)]
        )
        np.testing.assert_allclose(as_rows(losses, w), ref, rtol=0, atol=1e-6)
        assert np.abs(ref[:, 1:]).max() > 1e-3  # the toy's captions matter


def test_scores_equal_the_reference_scoring():
    """The reference's losses scored by cal_clid_th.py (ported) and by cpaudit, every alpha and window, to 1e-6."""
    sched = toy_scheduler()
    xm, xh = images(4, 1), images(4, 2)
    rows = {
        w: (reference_rows(sched, xm, M_CAPS, "members", w), reference_rows(sched, xh, H_CAPS, "holdout", w))
        for w in range(len(WINDOWS))
    }
    # the same numbers as (windows, forms, N) losses: L and L_k = L + diff_k
    losses = np.stack(
        [
            np.concatenate(
                [np.concatenate(rows[w])[:, :1], np.concatenate(rows[w])[:, :1] + np.concatenate(rows[w])[:, 1:]], 1
            ).T
            for w in range(len(WINDOWS))
        ]
    )
    variants, pos, neg = variant_scores(losses, 4)
    compared = 0
    for w, window in enumerate(WINDOWS):
        for alpha in ALPHAS:
            train, test = ref_scores(*rows[w], alpha)
            k = variants.index(
                f"t={window[0]}-{window[-1]}/1000, "
                + ("loss only" if alpha == 0 else f"all reduced, alpha={alpha:.1f}")
            )
            np.testing.assert_allclose(pos[k], -train, rtol=0, atol=1e-6)
            np.testing.assert_allclose(neg[k], -test, rtol=0, atol=1e-6)
            compared += 1
        # the empty caption alone: the reference's scoring on [cond0, condNull_dif]
        train, test = ref_scores(rows[w][0][:, [0, 4]], rows[w][1][:, [0, 4]], 0.5)
        k = variants.index(f"t={window[0]}-{window[-1]}/1000, empty reduced, alpha=0.5")
        np.testing.assert_allclose(pos[k], -train, rtol=0, atol=1e-6)
        np.testing.assert_allclose(neg[k], -test, rtol=0, atol=1e-6)
    assert compared == 2 * 11
    assert len(variants) == 2 * (1 + 2 * 10)


def test_the_attack_scores_its_losses():
    """CLiDAttack.scores is variant_scores of window_losses on the noise the loss test fed the reference."""
    sched = toy_scheduler()
    xm, xh = images(4, 1), images(4, 2)
    s = CLiDAttack().scores(context(xm, xh), clid_denoiser(toy_model(sched), M_CAPS, H_CAPS, torch.device("cpu")))
    variants, pos, neg = variant_scores(cpaudit_losses(sched, xm, xh, M_CAPS, H_CAPS), 4)
    assert s.variants == variants and s.queries_per_image == 6 * 5
    np.testing.assert_allclose(s.pos, pos, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.neg, neg, rtol=0, atol=1e-12)
    other = CLiDAttack().scores(
        context(xm, xh, seed=1), clid_denoiser(toy_model(sched), M_CAPS, H_CAPS, torch.device("cpu"))
    )
    assert not np.allclose(other.pos, s.pos)  # the noise comes from ctx.seed


def test_a_model_that_ignores_its_caption_gives_no_discrepancy():
    """Null: eps_hat independent of the caption, so every reduced loss equals the true one; the pure discrepancy
    (alpha = 1) is the same number for every image, AUC exactly 0.5, whatever the images."""
    sched = toy_scheduler()
    blind = toy_model(sched, net=lambda x, t, emb: toy_net(x, t, torch.zeros_like(emb)))
    xm, xh = images(6, 3), images(6, 4) * 0.3
    s = CLiDAttack().scores(context(xm, xh), clid_denoiser(blind, CAPTIONS[:6], CAPTIONS[2:8], torch.device("cpu")))
    pure = [k for k, v in enumerate(s.variants) if v.endswith("alpha=1.0")]
    assert len(pure) == 4  # two windows x two reductions
    for k in pure:
        assert np.all(s.pos[k] == 0) and np.all(s.neg[k] == 0)
        assert auc(s.pos[k], s.neg[k]) == 0.5
    loss_only = s.variants.index("t=440-460/1000, loss only")
    assert auc(s.pos[loss_only], s.neg[loss_only]) != 0.5  # the loss still sees the images' scales


def _run_on_folder(folder, captions):
    from cpaudit.models.load import load_model

    lm = load_model(folder)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, *lm.image_shape, generator=g) * 2 - 1
    z = lm.codec.encode(x)
    s = CLiDAttack().scores(context(z[:4], z[4:]), clid_denoiser(lm, captions[:4], captions[4:], torch.device("cpu")))
    assert s.pos.shape == s.neg.shape == (len(s.variants), 4)
    assert np.isfinite(s.pos).all() and np.isfinite(s.neg).all()
    pure = s.variants.index("t=440-460/1000, all reduced, alpha=1.0")
    assert np.ptp(np.concatenate([s.pos[pure], s.neg[pure]])) > 0  # its captions reach the denoiser
    return s


SD_CAPTIONS = [
    "a photo of a red cat",
    "a photo of a blue dog",
    "a photo of a shy green owl",
    "a red dog",
    "a blue cat",
    "a shy owl",
    "a green photo",
    "a photo of a cat",
]


@pytest.mark.slow  # 30 queries of 8 images per model: 10-120 s on 2 shared cores
def test_clid_runs_on_a_stable_diffusion_folder(tmp_path):
    from cpaudit.models.tiny_sd import save_pipeline
    from tests.models.test_sd_pipeline import SD_SCHEDULE, _components, _perturb

    unet, vae, te, tok = _components()
    _perturb(unet, 1)
    save_pipeline(tmp_path, unet, vae, te, tok, SD_SCHEDULE)
    _run_on_folder(tmp_path, SD_CAPTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["sd3", "flux"])
def test_clid_runs_on_the_flow_transformers(tmp_path, family):
    from tests.models.test_flow_pipeline import FLUX_CFG, SD3_CFG, _build

    folder = _build(tmp_path / family, SD3_CFG if family == "sd3" else FLUX_CFG)
    _run_on_folder(folder, SD_CAPTIONS)
