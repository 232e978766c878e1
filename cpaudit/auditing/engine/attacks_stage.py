"""The audit's membership-attack stage: candidates, the denoisers to attack, every registered attack that
applies, and the selection-adjusted strongest attack per threat model (auditing/strongest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cpaudit.auditing.attacks import ATTACKS
from cpaudit.auditing.attacks.base import AttackContext, AttackScores, Denoiser, measures_of, summarise, threat_model_of
from cpaudit.auditing.engine.stages import AuditRun, model_conditioning_of, sampling_protected
from cpaudit.auditing.strongest import threat_model_section
from cpaudit.core.threat_models import ThreatModel, in_scope
from cpaudit.errors import InputError
from cpaudit.models.conditioning import Cond
from cpaudit.models.load import load_model, require_pixel_unconditional
from cpaudit.sampling.guides import resolve_logit_fn
from cpaudit.sampling.protection import Protection


def candidates(run: AuditRun) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the attacked members (a seeded subset beyond --mia-members) and as many held-out images.
    The attacks' cost is linear in them; 10,000 members pin an AUC to about +-0.01."""
    opts = run.opts
    m_idx = np.arange(len(run.members))
    if len(run.members) > opts.mia_members:
        m_idx = np.sort(run.rng("mia-members").choice(len(run.members), opts.mia_members, replace=False))
    n_h = min(len(run.holdout), opts.mia_holdout or len(m_idx))
    h_idx = run.rng("mia-holdout").choice(len(run.holdout), n_h, replace=False)
    return m_idx, h_idx


def attacks_stage(run: AuditRun, _sections: dict) -> dict:
    """`attacks` and `threat_models`: every attack on the samples, and with --model on the plain and the
    protected denoiser; the strongest attack of each threat model, selection-adjusted."""
    m_idx, h_idx = candidates(run)
    emb = run.embedded
    ctx = AttackContext(
        seed=run.opts.seed,
        sample_emb=emb.samples,
        member_emb=np.asarray(emb.members[m_idx]),
        holdout_emb=np.asarray(emb.holdout[h_idx]),
        threshold=run.threshold,
        mia_t=run.opts.mia_t,
        mia_draws=run.opts.mia_draws,
        step=run.step,
    )
    run_prot = (run.samples.run or {}).get("protection")
    denoisers: list[Denoiser] = []
    run.classifier = run.opts.classifier
    if model_conditioning_of(run.opts) == "class":
        run.model_config, denoisers = class_denoisers(run, m_idx, h_idx)
        ctx.members, ctx.holdout = run.members.take(m_idx), run.holdout.take(h_idx)
    elif run.opts.model is not None:
        run.model_config, run.classifier, denoisers = pixel_denoisers(run, run_prot)
        ctx.members, ctx.holdout = run.members.take(m_idx), run.holdout.take(h_idx)
    attacks = run_attacks(run, ctx, denoisers, sampling_protected(run_prot))
    return threat_model_sections(run, attacks)


def threat_model_sections(run: AuditRun, attacks: dict[str, dict]) -> dict:
    run.step("strongest attack by threat model")
    tms = threat_model_section(run.scores, attacks, run.opts.release, run.rng, run.opts.attack_nulls, run.split.design)
    return {"release": run.opts.release, "threat_models": tms, "attacks": attacks}


def pixel_denoisers(run: AuditRun, run_prot: dict | None) -> tuple[dict, str | None, list[Denoiser]]:
    """The plain denoiser and, given a classifier (--classifier, else the sampling run's), the protected one
    as the sampling run applied it: its classifier, alpha, scale, rule, guide_when and label seed."""
    opts, data, device = run.opts, run.data, run.device
    assert opts.model is not None  # attacks_stage builds denoisers only with --model
    lm = load_model(opts.model)
    require_pixel_unconditional(lm, "the audit's model-based attacks")
    # A model that records its data must be audited on it, unless the user names the members (--members).
    if opts.members is None and lm.data_fingerprint is not None and lm.data_fingerprint != data.fingerprint():
        raise InputError(Path(opts.model) / "config.json", f"model was trained on other data than {data.source}")
    if tuple(lm.image_shape) != data.shape:
        raise InputError(
            Path(opts.model) / "config.json", f"model image shape {lm.image_shape} differs from the data's {data.shape}"
        )
    check_mia_t(opts.mia_t, lm.schedule.T)
    lm.model.to(device)
    denoisers = [Denoiser(lm.pair_fn(), lm.path, device)]
    rp = run_prot or {}
    classifier = opts.classifier
    if classifier is None and rp.get("classifier"):
        classifier = rp["classifier"]  # checked before the work (checks.check_run_classifier)
    if classifier is not None:
        # The audit's members: a model trained elsewhere records none, and the user named them (--split, --members).
        logit_fn, _ = resolve_logit_fn(
            lm, classifier, rp.get("label_seed"), device=device, membership=(run.data, run.split)
        )
        # Replay the sampling run; a run.json written before a field existed used what is now its fixed value.
        prot = Protection(
            classifier,
            opts.alpha if opts.alpha is not None else rp.get("alpha"),
            opts.scale if opts.scale is not None else rp.get("scale"),
            rp.get("rule"),
            guide_when=rp.get("guide_when", rp.get("guide", "confident")),
            t_min=rp.get("t_min", 0),
            t_max=rp.get("t_max"),
            space=rp.get("space", "x_t"),
        )
        denoisers.append(Denoiser(denoisers[0].pair_model, lm.path, device, prot, logit_fn))
    return lm.config, classifier, denoisers


def class_denoisers(run: AuditRun, m_idx: np.ndarray, h_idx: np.ndarray) -> tuple[dict, list[Denoiser]]:
    """A class-conditional model's denoiser, conditioned on each candidate's true class. (A null class is attacked
    where a model has one; cpaudit's class models are trained without class dropout, so they have none.)"""
    assert run.opts.model is not None  # a class-conditional model is one named by --model
    lm = load_model(run.opts.model)
    if tuple(lm.image_shape) != run.data.shape or lm.codec.latent:
        raise InputError("--model", f"model image shape {lm.image_shape} differs from the data's {run.data.shape}")
    if run.data.labels is None:
        raise InputError(
            run.data.source,
            "has no classes, which the attacks on a class-conditional model need (class "
            "subfolders, or an .npz 'labels' array)",
        )
    check_mia_t(run.opts.mia_t, lm.schedule.T)
    labels = np.asarray(run.data.labels)
    conds: dict[str, Cond] = {
        "members": torch.as_tensor(labels[run.split.member_idx[m_idx]], dtype=torch.long),
        "holdout": torch.as_tensor(labels[run.split.holdout_idx[h_idx]], dtype=torch.long),
    }
    lm.model.to(run.device)
    return lm.config, [
        Denoiser(
            lm.pair_fn(),
            lm.path,
            run.device,
            cond_model=lm.denoiser,
            conds=conds,
            suffix="_class",
            title=" (true class)",
        )
    ]


def check_mia_t(mia_t: tuple[int, ...], T: int) -> None:
    bad_t = [t for t in mia_t if not 0 <= t < T]
    if bad_t:
        raise InputError("--mia-t", f"timesteps must be in [0, {T - 1}], got {bad_t}")


def run_attacks(
    run: AuditRun, ctx: AttackContext, denoisers: list[Denoiser], protected_run: bool, attacks_to_run: tuple = ATTACKS
) -> dict[str, dict]:
    """Every registered attack that applies, on every denoiser it can run on: one summary shape for all; the
    raw scores go to run.scores (the threat-model headlines stack them), the ROC arrays to run.arrays."""
    attacks: dict[str, dict] = {}
    for attack in attacks_to_run:
        targets: dict[str, Sequence[Denoiser | None]] = {
            "samples": [None],
            "denoiser": denoisers,
            "classifier": [d for d in denoisers if d.protected],
        }
        for den in targets[attack.target]:
            protected = den is not None and den.protected and attack.target == "denoiser"
            key = attack.name + ("_protected" if protected else "") + (den.suffix if den is not None else "")
            title = (
                attack.title
                + (" on the protected denoiser" if protected else "")
                + (den.title if den is not None else "")
            )
            tm = threat_model_of(attack, den, protected_run)
            run.scores[key] = attack.scores(ctx, den)
            attacks[key] = add_summary(run, key, title, tm, run.scores[key])
            attacks[key]["measures"] = measures_of(attack, den, protected_run)
    return attacks


def add_summary(run: AuditRun, key: str, title: str, tm: ThreatModel, scores: AttackScores) -> dict:
    """The summary every attack (and every attack-shaped figure: extraction, the detector) reports."""
    summary, arrays = summarise(
        key, title, tm, scores, run.rng(f"attack-{key}"), run.opts.attack_nulls, split_design=run.split.design
    )
    run.arrays.update(arrays)
    return {**summary, "deployed": in_scope(tm, run.opts.release), "measures": [tm]}
