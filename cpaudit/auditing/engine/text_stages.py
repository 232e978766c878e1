"""The audit of a text-to-image model's prompted samples: the pixel audit's stages, with the attack stage
replaced by one that works per caption (design.md, 'results.json': new sections, not new keys in old ones).

Candidates are captions, not images (auditing/extraction.py, caption_units): each distinct prompted caption
is one unit with all its images, a member unit where it occurs only on members, a held-out unit where only
on held-out images; a caption on both sides is neither, and is counted (`prompted_extraction.shared_captions`)
and left out of every attack. Every attack scores the same units, as the strongest-attack stacking needs
(auditing/strongest.py): prompted extraction scores a unit's samples against any of its images; the attacks
that score images (sample-only, loss, SecMI, PIA, SimA, each image with its true caption) score every image
of the units and average over each unit's images (extraction.unit_means; the mean keeps a unit's score from
growing with its image count); the detector scores the caption itself. Without repeated captions a unit is
one image and every figure is the per-image one. Per-image alternatives were weighed and rejected: keeping
only one-image units throws repeated captions' images away, and scoring images would relabel one caption's
images independently in the chance band though membership is the caption's. On the units:
- prompted extraction (threat model `samples`; auditing/extraction.py), with its replica gate;
- the sample-only attack, as for pixel models;
- with --model: the text-conditional noise-norm detector (Wen et al. 2024; auditing/noise_norm.py) and the
  loss, SecMI, PIA and SimA attacks in latent space, each with the candidate's true caption and with the
  empty caption (SecMI's Stable Diffusion attack conditions on the member's caption at guidance scale 1,
  jinhaoduan/SecMI src/mia/secmi.py; PIA offers true, empty and generated captions, kong13661/PIA
  stable_diffusion/), and CLiD (Zhai et al., NeurIPS 2024; auditing/attacks/clid.py), the discrepancy between
  the loss under the true caption and under reduced ones. The attacker's choice of caption is one more variant
  the strongest-attack headline cross-fits over (auditing/strongest.py), like every other selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cpaudit.auditing.attacks.base import AttackContext, AttackScores, Denoiser
from cpaudit.auditing.attacks.clid import CLiDAttack, clid_denoiser
from cpaudit.auditing.attacks.loss import LossAttack
from cpaudit.auditing.attacks.pia import PIAAttack
from cpaudit.auditing.attacks.sample_only import SampleOnlyAttack
from cpaudit.auditing.attacks.secmi import SecMIAttack
from cpaudit.auditing.attacks.sima import SimAAttack
from cpaudit.auditing.engine.attacks_stage import (
    add_summary,
    check_mia_t,
    threat_model_sections,
)
from cpaudit.auditing.engine.stages import (
    AuditRun,
    embed_stage,
    extraction_hint,
    member_images_mode,
    permutation_stage,
    policy_stage,
    prompted_captions,
    protection_stage,
    quality_stage,
    refused_prompts,
    replication_stage,
    samples_protected,
)
from cpaudit.auditing.extraction import (
    REFUSED_VARIANT,
    VARIANTS,
    CaptionUnits,
    caption_scores,
    caption_units,
    codec_floor,
    refusals,
    replica_excess,
    sample_groups,
    unit_means,
)
from cpaudit.auditing.features import embed
from cpaudit.auditing.noise_norm import DETECTOR_FIRST_STEPS, text_noise_norms
from cpaudit.auditing.policy import gate_levels
from cpaudit.core.attack_stats import auc
from cpaudit.core.threat_models import ThreatModel
from cpaudit.data.captions import read_prompts_file
from cpaudit.data.imageset import blur_u8, to_uint8
from cpaudit.errors import InputError
from cpaudit.models.load import LoadedModel, load_model
from cpaudit.seeding import derive_seed

# The protected text sampler (CPSample through the UNet with classifier-free guidance, or a prompt defence)
# is not attacked: the attacks query the plain denoiser, which is then what the weights give.
PROTECTED_SAMPLER_NOT_ATTACKED = (
    "the samples' sampler is protected (CPSample or a prompt defence), and cpaudit does not "
    "attack a protected text-to-image sampler: the caption-conditioned attacks ran on the "
    "plain denoiser, which measures the weights; audit with --release samples or weights"
)
CAPTION_ATTACKS = (LossAttack(), SecMIAttack(), PIAAttack(), SimAAttack())
TOP_CAPTIONS = 10  # the report's table of the most extracted member captions


@dataclass
class TextCandidates:
    m_idx: np.ndarray  # positions in run.members of the member units' images (ascending)
    h_idx: np.ndarray  # positions in run.holdout
    m_captions: list[str]  # each image's caption, rows aligned with m_idx (the caption-conditioned attacks' conditions)
    h_captions: list[str]
    m_units: CaptionUnits  # the candidates: distinct captions, each with its images' rows in m_idx
    h_units: CaptionUnits
    m_groups: list[np.ndarray]  # each unit's sample rows
    h_groups: list[np.ndarray]
    shared: dict  # captions on both sides, left out: how many, and their images on each side


def text_candidates(run: AuditRun) -> TextCandidates:
    """The prompted captions' units (a caption that prompted at least one sample) and their images."""
    if run.data.captions is None:
        raise InputError(
            run.data.source,
            "has no captions, which prompted extraction needs (metadata.jsonl, or an .npz with a 'captions' array)",
        )
    prompts, prompted = run.samples.prompts, prompted_captions(run)
    assert prompts is not None and prompted is not None  # TEXT_STAGES run on prompted samples only (run.py)
    caps = run.data.captions
    m_all, h_all, shared = caption_units(
        [caps[r] for r in run.split.member_idx], [caps[r] for r in run.split.holdout_idx]
    )
    m_units, h_units = m_all.keep(prompted), h_all.keep(prompted)
    if len(m_units.captions) < 4 or len(h_units.captions) < 4:
        raise InputError(
            run.samples.folder,
            f"prompts name {len(m_units.captions)} member and {len(h_units.captions)} held-out "
            f"captions (a caption on both sides counts as neither); prompted extraction needs at least 4 of each "
            f"(sample with {extraction_hint(run.opts)})",
        )
    m_idx, h_idx = m_units.positions(), h_units.positions()
    return TextCandidates(
        m_idx,
        h_idx,
        [caps[run.split.member_idx[i]] for i in m_idx],
        [caps[run.split.holdout_idx[i]] for i in h_idx],
        m_units.reindexed(),
        h_units.reindexed(),
        sample_groups(prompts, m_units.captions),
        sample_groups(prompts, h_units.captions),
        shared,
    )


def text_attacks_stage(run: AuditRun, _sections: dict) -> dict:
    """Prompted extraction, the sample-only attack and, with --model, the detector and the caption-conditioned
    attacks, all on the same candidates; the strongest attack per threat model stacks them."""
    cand = text_candidates(run)
    run.classifier = run.opts.classifier
    member_emb, holdout_emb = np.asarray(run.embedded.members[cand.m_idx]), np.asarray(run.embedded.holdout[cand.h_idx])
    ctx = AttackContext(
        seed=run.opts.seed,
        sample_emb=run.embedded.samples,
        member_emb=member_emb,
        holdout_emb=holdout_emb,
        threshold=run.threshold,
        mia_t=run.opts.mia_t,
        mia_draws=run.opts.mia_draws,
        step=run.step,
    )
    # CPSample or a prompt defence changed the deployed sampler: the plain denoiser is then the weights.
    protected = samples_protected(run.samples.run)
    attacks: dict[str, dict] = {}
    lm = None if run.opts.model is None else load_text_model(run)
    extraction = extraction_figures(run, cand, member_emb, holdout_emb, lm, attacks)
    attacks["sample_only"] = _attack(run, cand, "sample_only", SampleOnlyAttack(), ctx, None, "samples")
    sections = {"prompted_extraction": extraction}
    if lm is not None:
        sections["detector"] = detector_figures(run, lm, cand, attacks, "weights" if protected else "sampler")
        ctx.members, ctx.holdout = (
            lm.codec.encode(x).cpu() for x in (run.members.take(cand.m_idx), run.holdout.take(cand.h_idx))
        )
        tm: ThreatModel = "weights" if protected else "sampler"
        measures = ["weights"] if protected else ["sampler", "weights"]
        for den in caption_denoisers(run, lm, cand):
            for attack in CAPTION_ATTACKS:
                key = attack.name + den.suffix
                attacks[key] = _attack(
                    run, cand, key, attack, ctx, den, tm, title=attack.title + den.title, measures=measures
                )
        # CLiD queries each candidate's true caption and its reduced captions (auditing/attacks/clid.py).
        clid = CLiDAttack()
        attacks[clid.name] = _attack(
            run,
            cand,
            clid.name,
            clid,
            ctx,
            clid_denoiser(lm, cand.m_captions, cand.h_captions, run.device),
            tm,
            measures=measures,
        )
    sections.update(threat_model_sections(run, attacks))
    if protected and lm is not None:
        sections["threat_models"]["sampler"]["not_measured"] = PROTECTED_SAMPLER_NOT_ATTACKED
    sections["extra_gates"] = extraction_gate(run, extraction)
    return sections


def _attack(
    run: AuditRun,
    cand: TextCandidates,
    key: str,
    attack,
    ctx: AttackContext,
    den: Denoiser | None,
    tm: ThreatModel,
    title: str | None = None,
    measures: list[str] | None = None,
) -> dict:
    run.scores[key] = per_unit(attack.scores(ctx, den), cand)
    summary = add_summary(run, key, title or attack.title, tm, run.scores[key])
    summary["measures"] = measures or [tm]
    return summary


def per_unit(scores: AttackScores, cand: TextCandidates) -> AttackScores:
    """An image attack's scores on the units: the mean over each unit's images (the module docstring says why);
    its extra figures stay per image, which a note says where a caption has several images."""
    images = cand.m_units.images + cand.h_units.images
    if all(len(im) == 1 for im in images):
        return scores
    extra = {
        **scores.extra,
        "per_caption": "scores averaged over each caption's images; the figures above are per image",
    }
    return AttackScores(
        scores.variants,
        unit_means(scores.pos, cand.m_units.images),
        unit_means(scores.neg, cand.h_units.images),
        scores.queries_per_image,
        extra,
    )


def load_text_model(run: AuditRun) -> LoadedModel:
    assert run.opts.model is not None  # text_attacks_stage loads a model only with --model
    lm = load_model(run.opts.model)
    if lm.conditioning != "text":
        raise InputError("--model", f"{run.opts.model} is not a text-to-image model, but the samples carry prompts")
    if tuple(lm.image_shape) != run.data.shape:
        raise InputError("--model", f"model image shape {lm.image_shape} differs from the data's {run.data.shape}")
    check_mia_t(run.opts.mia_t, lm.schedule.T)
    run.model_config = {k: v for k, v in lm.config.items() if k not in ("unet", "scheduler")}
    return lm.to(run.device)


def extraction_figures(
    run: AuditRun,
    cand: TextCandidates,
    member_emb: np.ndarray,
    holdout_emb: np.ndarray,
    lm: LoadedModel | None,
    attacks: dict,
) -> dict:
    """results.json `prompted_extraction`; its attack-shaped summary goes into `attacks` (threat model samples)."""
    run.step("prompted extraction")
    e_s, thr, refused = run.embedded.samples, run.threshold, refused_prompts(run)
    mu, hu = cand.m_units, cand.h_units
    m = caption_scores(e_s, cand.m_groups, member_emb, thr, refused=refusals(refused, mu.captions), own_rows=mu.images)
    h = caption_scores(e_s, cand.h_groups, holdout_emb, thr, refused=refusals(refused, hu.captions), own_rows=hu.images)
    variants = list(VARIANTS) + ([REFUSED_VARIANT] if refused else [])
    run.scores["prompted_extraction"] = AttackScores(
        variants, m.stacked(bool(refused)), h.stacked(bool(refused)), queries_per_image=0
    )
    attacks["prompted_extraction"] = add_summary(
        run,
        "prompted_extraction",
        "prompted extraction (Carlini et al. 2023)",
        "samples",
        run.scores["prompted_extraction"],
    )
    k_max = max(1, int(min(m.n_samples.min(), h.n_samples.min())))
    run.arrays.update(extraction_member_best=m.best_own, extraction_holdout_best=h.best_own)
    out = {
        "threat_model": "samples",
        "features": run.spec.label,
        "threshold": thr,
        "threshold_origin": "the audit's replica threshold on this embedding (--threshold, else its default)",
        "samples_per_caption": k_max,
        "headline": "attacks.prompted_extraction",
        **extraction_counts(cand, m, h, len(refused)),
        "auc_by_samples_per_caption": auc_by_samples_per_caption(e_s, cand, member_emb, holdout_emb, thr, k_max),
        "auc_by_samples_per_caption_note": "best similarity to its own image, on all "
        "captions: descriptive (the headline's variant is cross-fitted)",
        "top_captions": top_captions(run, cand, m),
    }
    if lm is not None and lm.codec.latent:
        own = run.members.take(cand.m_idx)
        rec = lm.codec.decode(lm.codec.encode(own.to(run.device))).cpu().clamp(-1, 1)
        out["codec_floor"] = codec_floor(member_emb, embed(rec, run.spec, device=run.device)[0], thr)
    return out


def extraction_counts(cand: TextCandidates, m, h, n_refused_prompts: int) -> dict:
    """`prompted_extraction`'s counts: refused captions, replicas by caption and by sample, shared captions, units."""
    mu, hu = cand.m_units, cand.h_units
    return {
        "refused": {
            "member_captions": int((m.refused > 0).sum()),
            "holdout_captions": int((h.refused > 0).sum()),
            "prompts": n_refused_prompts,
        },
        "captions": replica_excess(m.replicas, h.replicas),
        "samples": {
            "member_caption_replicas": int(m.replicas.sum()),
            "n_member_caption_samples": int(m.n_samples.sum()),
            "holdout_caption_replicas": int(h.replicas.sum()),
            "n_holdout_caption_samples": int(h.n_samples.sum()),
        },
        "shared_captions": {
            **cand.shared,
            "note": "captions on both member and held-out images: neither a member nor "
            "a held-out caption, left out of every attack",
        },
        "caption_units": {
            "member_captions": len(mu.captions),
            "member_images": len(cand.m_idx),
            "holdout_captions": len(hu.captions),
            "holdout_images": len(cand.h_idx),
        },
    }


def auc_by_samples_per_caption(
    e_s: np.ndarray, cand: TextCandidates, member_emb: np.ndarray, holdout_emb: np.ndarray, thr: float, k_max: int
) -> list[dict]:
    """The extraction AUC from the first k samples of each caption, k = 1 .. k_max (descriptive)."""
    mu, hu = cand.m_units, cand.h_units
    return [
        {
            "per_caption": k,
            "auc": auc(
                caption_scores(e_s, cand.m_groups, member_emb, thr, k, own_rows=mu.images).best_own,
                caption_scores(e_s, cand.h_groups, holdout_emb, thr, k, own_rows=hu.images).best_own,
            ),
        }
        for k in range(1, k_max + 1)
    ]


def top_captions(run: AuditRun, cand: TextCandidates, m) -> list[dict]:
    """The most extracted member captions; their text only where member images are shown (captions are data).
    The pairs figure of prompted extraction: each one's best sample beside the training image it is closest to
    (of the caption's images)."""
    mode = member_images_mode(run)
    show = mode == "show"
    order = np.argsort(-m.best_own, kind="stable")[:TOP_CAPTIONS]
    order = np.asarray([i for i in order if len(cand.m_groups[i])], dtype=np.int64)
    pairs = [best_pair(run, cand, i) for i in order]  # (sample row, position in run.members)
    run.arrays["extraction_pair_samples"] = to_uint8(run.samples.images[[s for s, _ in pairs]])
    if mode != "hide":
        own = to_uint8(run.members.take(np.asarray([r for _, r in pairs], dtype=np.int64)))
        run.arrays["extraction_pair_members"] = own if show else blur_u8(own)
    return [
        {
            "member": run.data.ids[int(run.split.member_idx[r])],
            "images": len(cand.m_units.images[i]),
            "caption": cand.m_units.captions[i] if show else None,
            "best_similarity": float(m.best_own[i]),
            "replicas": int(m.replicas[i]),
            "samples": int(m.n_samples[i]),
            "agreement": float(m.agreement[i]),
        }
        for i, (_, r) in zip(order, pairs)
    ]


def best_pair(run: AuditRun, cand: TextCandidates, unit: int) -> tuple[int, int]:
    """A member unit's closest (sample row, member position): its best sample and the image of it that sample is
    closest to (the pair behind best_own)."""
    g, rows = cand.m_groups[unit], cand.m_idx[cand.m_units.images[unit]]
    e_own = np.asarray(run.embedded.members[rows])
    sims = np.stack([run.embedded.samples[g] @ o for o in e_own])  # (images, samples), as own_similarity
    image, sample = np.unravel_index(np.argmax(sims), sims.shape)
    return int(g[sample]), int(rows[image])


def extraction_gate(run: AuditRun, extraction: dict) -> dict:
    """Prompted extraction above the held-out captions' base rate fails at its share of the copying family's
    level (auditing/policy.py gate_levels: half of replica_excess_level, the replica gate has the other)."""
    level = None if run.opts.report_only else gate_levels(run.opts.policy, text=True).get("extraction_excess_level")
    if level is None:
        return {}
    c = extraction["captions"]
    if c["fisher_p"] >= level:
        return {"extraction_excess_level": None}
    return {
        "extraction_excess_level": (
            f"prompted with their training captions, the sampler reproduces training images: {c['member_captions_extracted']} of "
            f"{c['n_member_captions']} member captions ({c['rate']:.0%}) give a replica of their image, against "
            f"{c['holdout_captions_extracted']} of {c['n_holdout_captions']} held-out captions (one-sided Fisher exact "
            f"p = {c['fisher_p']:.3g} < level {level:g}; threat model 'samples')"
        )
    }


def detector_figures(run: AuditRun, lm: LoadedModel, cand: TextCandidates, attacks: dict, tm: ThreatModel) -> dict:
    """results.json `detector`: the noise-norm scores of the candidates' captions as a membership score, and
    the prompts of --prompts flagged above every held-out caption's score."""
    run.step("memorisation detector")
    k = max(1, int(min(len(g) for g in cand.m_groups + cand.h_groups if len(g))))
    w, steps = guidance_and_steps(run.samples.run)

    def scores(captions: list[str], name: str) -> np.ndarray:
        seeds = [derive_seed(run.opts.seed, f"detector-{name}-{i // k}-{i % k}") for i in range(len(captions) * k)]
        norms = text_noise_norms(lm, [c for c in captions for _ in range(k)], seeds, w, steps, device=run.device)
        per = norms.reshape(len(captions), k, -1).mean(1)  # mean over the caption's seeds
        return torch.stack([per[:, 0], per.mean(1)]).numpy()

    pos, neg = scores(cand.m_units.captions, "members"), scores(cand.h_units.captions, "holdout")
    n_first = min(DETECTOR_FIRST_STEPS, steps)
    variants = ["first step", f"mean of the first {n_first} steps"]
    run.scores["detector"] = AttackScores(variants, pos, neg, queries_per_image=2 * n_first * k)
    attacks["detector"] = add_summary(
        run, "detector", "text-conditional noise norm (Wen et al. 2024)", tm, run.scores["detector"]
    )
    threshold = float(neg[1].max())
    out: dict = {
        "threat_model": tm,
        "guidance_scale": w,
        "steps": steps,
        "first_steps": n_first,
        "seeds_per_caption": k,
        "headline": "attacks.detector",
        "flag_threshold": threshold,
        "flag_rule": f"mean of the first {n_first} steps above every held-out caption's (the model never saw their images)",
        "member_captions_flagged": int((pos[1] > threshold).sum()),
        "n_member_captions": int(pos.shape[1]),
    }
    run.arrays.update(detector_member=pos[1], detector_holdout=neg[1])
    if run.opts.prompts is not None:
        prompts = read_prompts_file(Path(run.opts.prompts))
        s = scores(prompts, "prompts")[1]
        out["prompts"] = [{"prompt": p, "score": float(v), "flagged": bool(v > threshold)} for p, v in zip(prompts, s)]
    return out


def guidance_and_steps(sample_run: dict | None) -> tuple[float, int]:
    """The sampling run's guidance scale and steps (diffusers' defaults, 7.5 and 50, where it names none)."""
    r = sample_run or {}
    w = (r.get("conditions") or {}).get("guidance_scale") or 7.5
    return float(w), int((r.get("sampler") or {}).get("steps") or 50)


def caption_denoisers(run: AuditRun, lm: LoadedModel, cand: TextCandidates) -> list[Denoiser]:
    """The plain denoiser conditioned on each candidate's true caption, and on the empty caption (guidance 1)."""
    prompts = lm.prompts
    assert prompts is not None  # load_text_model refuses a model that is not text-to-image
    true = {
        "members": prompts.condition(cand.m_captions, 1.0).to(run.device),
        "holdout": prompts.condition(cand.h_captions, 1.0).to(run.device),
    }
    # The unconditional half as the model's own pipeline forms it (the empty prompt; SDXL's zeros where it forces them).
    none = {role: cond.uncond_only() for role, cond in true.items()}
    pairs = lm.denoiser
    return [
        Denoiser(
            pairs.bind(None),
            lm.path,
            run.device,
            cond_model=pairs,
            conds=true,
            suffix="_caption",
            title=" (true caption)",
        ),
        Denoiser(
            pairs.bind(None),
            lm.path,
            run.device,
            cond_model=pairs,
            conds=none,
            suffix="_empty",
            title=" (empty caption)",
        ),
    ]


TEXT_STAGES = (
    embed_stage,
    replication_stage,
    permutation_stage,
    quality_stage,
    text_attacks_stage,
    protection_stage,
    policy_stage,
)
