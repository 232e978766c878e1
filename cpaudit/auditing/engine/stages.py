"""The audit as a list of stages (design.md, 'results.json'): each stage reads the shared AuditRun and returns
its own sections of results.json; an audit is `run_stages(run, STAGES)`. A text-to-image audit is another
list (auditing/engine/text_stages.py), not a longer function.

Every stage draws its randomness from its own generator, seeded by (--seed, the stage's name), so a figure
does not depend on which other stages ran or in what order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cpaudit.auditing.attacks.base import AttackScores
from cpaudit.auditing.baseline import baseline_gates
from cpaudit.auditing.embedding_store import stream_embeddings
from cpaudit.auditing.engine.options import AuditOptions
from cpaudit.auditing.features import FeatureSpec, embed
from cpaudit.auditing.fidelity import fidelity_figures
from cpaudit.auditing.policy import Policy, evaluate_gates, family, gate_levels
from cpaudit.auditing.quality import POOLED_SIZE, frechet_distance, kernel_inception_distance, pooled_pixels
from cpaudit.auditing.replication import ReplicationResult, replication
from cpaudit.auditing.samples import SampleSet
from cpaudit.auditing.verdict import verdict_sentence
from cpaudit.core.stats import permutation_test
from cpaudit.data.imageset import ImageRows, ImageSet, blur_u8, to_uint8
from cpaudit.data.split import Split
from cpaudit.models.load import model_conditioning
from cpaudit.sampling.protection import Protection
from cpaudit.seeding import derive_seed, numpy_generator

# Members from this many on are embedded to a memory-mapped file rather than held in memory.
STREAM_MIN_REFERENCES = 100_000
# The permutation test compares samples with this many references per side at most (its cost is
# samples x references); below it, all of the smaller side.
PERMUTATION_MAX_REFERENCES = 50_000
QUALITY_MAX_REFERENCES = 50_000  # FID's reference where the held-out set is too large to hold (clean-fid's 50k)
N_TOP_PAIRS = 16  # the pairs figure: the samples nearest a member, with that member


@dataclass
class Embeddings:
    samples: np.ndarray  # (N, D) L2-normalised, on the audit's embedding
    sample_quality: np.ndarray  # (N, F) quality features (FID's)
    members: np.ndarray  # (M, D), possibly a memmap
    holdout: np.ndarray  # (H, D)
    holdout_quality: np.ndarray | None  # None where the held-out set was streamed
    member_quality: np.ndarray | None = None  # (M, F); None where the members were streamed


@dataclass
class AuditRun:
    """What every stage reads, and what earlier stages leave for later ones."""

    opts: AuditOptions
    spec: FeatureSpec
    threshold: float
    data: ImageSet
    split: Split
    samples: SampleSet
    members: ImageRows
    holdout: ImageRows
    scratch: Path
    device: torch.device
    baseline: dict | None
    step: Callable[[str], None]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # audit_data.npz
    emb: Embeddings | None = None
    rep: ReplicationResult | None = None
    scores: dict[str, AttackScores] = field(default_factory=dict)
    model_config: dict | None = None
    classifier: str | None = None

    def rng(self, name: str) -> np.random.Generator:
        return numpy_generator(derive_seed(self.opts.seed, name))

    @property
    def embedded(self) -> Embeddings:
        """emb, for the stages after embed_stage (which every stage list runs first)."""
        assert self.emb is not None, "embed_stage runs before the stages that read the embeddings"
        return self.emb

    @property
    def replicated(self) -> ReplicationResult:
        """rep, for the stages after replication_stage."""
        assert self.rep is not None, "replication_stage runs before the stages that read its result"
        return self.rep


Stage = Callable[[AuditRun, dict], dict]  # (run, sections so far) -> its own sections


def embed_stage(run: AuditRun, _sections: dict) -> dict:
    """Embeddings of samples, members and held-out images. Many members: they stream to a memory-mapped
    file, searched in blocks."""
    run.step("embed")
    spec, cache, dev = run.spec, run.opts.cache_dir, run.device
    e_s, f_s = embed(run.samples.images, spec, cache_dir=cache, device=dev)
    f_m = None  # quality features of every member (authenticity's training set), where few enough to hold
    if len(run.members) >= STREAM_MIN_REFERENCES:
        e_m = stream_embeddings(run.members, spec, run.scratch / "members.npy", device=dev)
    else:
        e_m, f_m = embed(run.members.all(), spec, cache_dir=cache, device=dev)
    f_h = None  # quality features of every held-out image, where they are few enough to hold
    if len(run.holdout) >= STREAM_MIN_REFERENCES:
        e_h = stream_embeddings(run.holdout, spec, run.scratch / "holdout.npy", device=dev)
    else:
        e_h, f_h = embed(run.holdout.all(), spec, cache_dir=cache, device=dev)
    run.emb = Embeddings(e_s, f_s, e_m, e_h, f_h, f_m)
    return {}


def replication_stage(run: AuditRun, _sections: dict) -> dict:
    """`nn`: nearest members of every sample against the held-out base rate; `top_pairs` and the pairs figure."""
    run.step("nearest neighbours")
    emb = run.embedded
    rep = run.rep = replication(
        emb.samples, emb.members, emb.holdout, threshold=run.threshold, k=run.opts.k, method=run.opts.search
    )
    run.arrays.update(sample_sim=rep.sample_sim, holdout_sim=rep.holdout_sim, sample_nn=rep.sample_nn)
    top = np.argsort(-rep.sample_sim, kind="stable")[:N_TOP_PAIRS]
    run.arrays["pair_samples"] = to_uint8(run.samples.images[top])
    shown = member_images_mode(run)
    if shown != "hide":
        pixels = to_uint8(run.members.take(rep.sample_nn[top, 0]))
        run.arrays["pair_members"] = pixels if shown == "show" else blur_u8(pixels)
    member_of = run.split.member_idx
    return {
        "nn": rep.summary(run.spec.label, prompted_candidates(run)),
        "top_pairs": [
            {
                "sample": int(i),
                "member": run.data.ids[int(member_of[rep.sample_nn[i, 0]])],
                "similarity": float(rep.sample_sim[i]),
            }
            for i in top
        ],
    }


def refused_prompts(run: AuditRun) -> list[str]:
    """Prompts the sampler refused (rejection of replicas): run.json's conditions.refused_prompts."""
    return list(((run.samples.run or {}).get("conditions") or {}).get("refused_prompts") or [])


def prompted_captions(run: AuditRun) -> set[str] | None:
    """The captions that prompted samples, refused prompts included; None where the samples carry no prompts."""
    if run.samples.prompts is None:
        return None
    return set(run.samples.prompts) | set(refused_prompts(run))


def prompted_candidates(run: AuditRun) -> tuple[np.ndarray, np.ndarray] | None:
    """Masks of the members and held-out images whose caption prompted samples. A text audit's replica gate
    compares only those: an image whose caption was never prompted is less likely to be reached, so members
    and held-out images are exchangeable only among the prompted (the samples prompt both sides alike)."""
    prompted = prompted_captions(run)
    if prompted is None or run.data.captions is None:
        return None
    caps = run.data.captions
    return (
        np.asarray([caps[r] in prompted for r in run.split.member_idx], dtype=bool),
        np.asarray([caps[r] in prompted for r in run.split.holdout_idx], dtype=bool),
    )


def permutation_stage(run: AuditRun, _sections: dict) -> dict:
    """Are samples nearer the members than the held-out images? Equal-size reference sets of each."""
    run.step("permutation test")
    rng = run.rng("permutation")
    e_m, e_h, e_s = run.embedded.members, run.embedded.holdout, run.embedded.samples
    m = min(len(e_m), len(e_h), PERMUTATION_MAX_REFERENCES)
    ref_m = e_m[rng.choice(len(e_m), m, replace=False)]
    ref_h = e_h[rng.choice(len(e_h), m, replace=False)]
    perm = permutation_test(e_s @ ref_m.T, e_s @ ref_h.T, run.opts.permutations, rng)
    run.arrays["permutation_null"] = perm.null
    return {
        "permutation": {
            "statistic": perm.statistic,
            "p_value": perm.p_value,
            "n_permutations": perm.n_permutations,
            "n_reference": int(m),
        }
    }


def quality_stage(run: AuditRun, _sections: dict) -> dict:
    """FID and KID against the whole held-out set (a reference of fixed size, whatever the number of samples);
    where the held-out set is streamed, a seeded subset of QUALITY_MAX_REFERENCES. Beside them, figures FID
    cannot give: k-NN precision and recall against the held-out images, and authenticity against the members
    (auditing/fidelity.py), on the audit's features and on images average-pooled to 8x8 (the tables' FID)."""
    run.step("quality")
    spec, f_s, f_q = run.spec, run.embedded.sample_quality, run.embedded.holdout_quality
    q_idx = quality_reference_rows(run)
    if q_idx is not None:  # KID's draws stay as without streaming
        f_q = embed(run.holdout.take(q_idx), spec, device=run.device)[1]
    assert f_q is not None
    m_idx = quality_member_rows(run)
    f_m = run.embedded.member_quality
    if m_idx is not None:
        f_m = embed(run.members.take(m_idx), spec, device=run.device)[1]
    assert f_m is not None
    fid = frechet_distance(f_s.astype(np.float64), f_q.astype(np.float64))
    kid = kernel_inception_distance(f_s.astype(np.float64), f_q.astype(np.float64), run.rng("quality"))
    dim = int(f_s.shape[1])
    quality = {
        "features": spec.label,
        "fid": fid,
        "kid": kid,
        "n_samples": int(len(f_s)),
        "n_reference": int(len(f_q)),
        "reference": "held-out images" + ("" if q_idx is None else " (seeded subset)"),
        "feature_dim": dim,
        "warning": fid_warning(len(f_s), len(f_q), dim),
        "resize": spec.resize if spec.kind == "inception" else None,
        "weights_sha256": spec.sha256,
    }
    quality.update(fidelity_keys(f_s, f_q, f_m, run, m_idx is not None, "features"))
    if pooled_block_applies(run):
        quality[POOLED_KEY] = pooled_quality(run, q_idx, m_idx)
    return {"quality": quality}


POOLED_KEY = f"pooled_pixels_{POOLED_SIZE}x{POOLED_SIZE}"


def fid_warning(n_samples: int, n_reference: int, dim: int) -> str | None:
    """Fewer images than dimensions leave the covariance singular: FID is then biased and unstable."""
    if min(n_samples, n_reference) > dim:
        return None
    return (
        f"FID from {n_samples} samples and {n_reference} reference images in {dim} dimensions: fewer images than "
        "dimensions on a side make the covariance singular and the FID unreliable"
    )


def quality_reference_rows(run: AuditRun) -> np.ndarray | None:
    """The held-out rows of quality's reference where the held-out set was streamed (a seeded subset); None: all."""
    if run.embedded.holdout_quality is not None:
        return None
    pick = run.rng("quality-reference")
    return np.sort(pick.choice(len(run.holdout), min(len(run.holdout), QUALITY_MAX_REFERENCES), replace=False))


def quality_member_rows(run: AuditRun) -> np.ndarray | None:
    """The members authenticity compares with where they were streamed (a seeded subset); None: all."""
    if run.embedded.member_quality is not None:
        return None
    pick = run.rng("quality-members")
    return np.sort(pick.choice(len(run.members), min(len(run.members), QUALITY_MAX_REFERENCES), replace=False))


# The k-NN figures' rows per side: beyond it a seeded subset. Their cost grows with the product of the sides (on
# one CPU thread 4,000 x 4,000 in 2,048 dimensions took 17 s, so 50,000 a side would take tens of minutes), and
# 10,000 a side is the size the figures were proposed at (Kynkaanniemi et al. 2019 Sec. 3; Naeem et al. 2020).
FIDELITY_MAX_ROWS = 10_000


def fidelity_keys(
    f_s: np.ndarray, f_q: np.ndarray, f_m: np.ndarray, run: AuditRun, members_subset: bool, block: str
) -> dict:
    """precision, recall (against f_q) and authenticity (against f_m) with their intervals, k and the members'
    count; the samples' and the reference's counts are quality's n_samples and n_reference, unless a side was
    larger than FIDELITY_MAX_ROWS: then each such side is a seeded subset, and `fidelity_rows` says so."""
    rng = run.rng(f"fidelity-{block}")
    (s, cut_s), (q, cut_q), (m, cut_m) = (_at_most(f, rng) for f in (f_s, f_q, f_m))
    figures = fidelity_figures(s, q, m, device=run.device)
    figures.pop("n_samples")
    n_reference = figures.pop("n_holdout")
    if cut_s or cut_q or cut_m:
        figures["fidelity_rows"] = {
            "samples": int(len(s)),
            "reference": int(n_reference),
            "members": int(len(m)),
            "note": f"seeded subsets of at most {FIDELITY_MAX_ROWS:,} a side",
        }
    else:
        figures["n_reference"] = n_reference
    figures["authenticity_reference"] = "members" + (" (seeded subset)" if members_subset or cut_m else "")
    return figures


def _at_most(rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    if len(rows) <= FIDELITY_MAX_ROWS:
        return rows, False
    return rows[np.sort(rng.choice(len(rows), FIDELITY_MAX_ROWS, replace=False))], True


def pooled_block_applies(run: AuditRun) -> bool:
    """The pooled block differs from the audit's own figures: any embedding but pixels of images already
    POOLED_SIZE square (pooling them changes nothing), on images at least that large."""
    height, width = run.samples.images.shape[-2:]
    if min(height, width) < POOLED_SIZE:
        return False
    return run.spec.kind != "pixel" or (height, width) != (POOLED_SIZE, POOLED_SIZE)


def pooled_quality(run: AuditRun, q_idx: np.ndarray | None, m_idx: np.ndarray | None) -> dict:
    """FID, precision, recall and authenticity on images average-pooled to POOLED_SIZE x POOLED_SIZE: the
    "pixel FID" of the README's text-to-image tables (pipelines/tune_text.py), whatever the audit's embedding."""
    p_s = pooled_pixels(run.samples.images)
    p_q, p_m = pooled_rows(run.holdout, q_idx), pooled_rows(run.members, m_idx)
    dim = int(p_s.shape[1])
    return {
        "features": f"pixels average-pooled to {POOLED_SIZE}x{POOLED_SIZE}",
        "feature_dim": dim,
        "fid": frechet_distance(p_s, p_q),
        "n_samples": int(len(p_s)),
        "warning": fid_warning(len(p_s), len(p_q), dim),
        **fidelity_keys(p_s, p_q, p_m, run, m_idx is not None, "pooled"),
    }


def pooled_rows(rows: ImageRows, idx: np.ndarray | None, batch: int = 4096) -> np.ndarray:
    """Pooled pixels of the given rows (None: all), a batch at a time: the set as float may not fit in memory."""
    idx = np.arange(len(rows)) if idx is None else idx
    channels = rows.data.shape[0]
    blocks = [pooled_pixels(rows.take(idx[i : i + batch])) for i in range(0, len(idx), batch)]
    return np.concatenate(blocks) if blocks else np.zeros((0, channels * POOLED_SIZE**2))


def protection_stage(run: AuditRun, _sections: dict) -> dict:
    """`protection`: what the sampling run's run.json says it applied; `privacy`: a DP model's epsilon."""
    sample_run = run.samples.run or {}
    prot = sample_run.get("protection")
    info = None
    if prot:
        info = {
            "alpha": prot.get("alpha"),
            "scale": prot.get("scale"),
            "rule": prot.get("rule"),
            "guide": prot.get("guide_when", prot.get("guide")),
            "classifier": prot.get("classifier"),
            "label_seed": prot.get("label_seed"),
            "fired_fraction": sample_run.get("fired_fraction"),
            "samples_with_guidance": sample_run.get("samples_with_guidance"),
        }
    dp = (run.model_config or {}).get("dp")
    return {
        "protection": info,
        "privacy": {"dp_epsilon": dp.get("epsilon") if dp else None, "dp_delta": dp.get("delta") if dp else None},
    }


def policy_stage(run: AuditRun, sections: dict) -> dict:
    """`policy` and `verdict`: the gates of the released threat model on the sections measured so far."""
    opts, nn, perm, tms = run.opts, sections["nn"], sections["permutation"], sections["threat_models"]
    policy = Policy() if opts.report_only else opts.policy
    text = "prompted_extraction" in sections
    levels = gate_levels(policy, text)
    gates = evaluate_gates(
        policy,
        release=opts.release,
        replica_rate=run.replicated.replica_rate if len(run.replicated.sample_sim) else None,
        permutation_p=perm["p_value"],
        threat_models=tms,
        reach=nn,
        replica_level=levels.get("replica_excess_level"),
        n_diverged=len((run.samples.run or {}).get("nonfinite_seeds") or []),
        protected=samples_protected(run.samples.run),
    )
    gates.update(sections.get("extra_gates", {}))
    if run.baseline is not None and not opts.report_only:
        gates.update(baseline_gates(nn, tms, opts.release, run.baseline))
    failures = [m for m in gates.values() if m is not None]
    return {
        "policy": {
            "passed": not failures,
            "failures": failures,
            "gates": gates,
            "thresholds": dict(policy.__dict__),
            "family": family(policy, text),
            "release": opts.release,
            "report_only": opts.report_only,
            "mia_gate_reads": "threat_models." + opts.release + ".strongest",
        },
        "verdict": verdict_sentence(
            opts.release, failures, len(gates), tms[opts.release]["strongest"], report_only=opts.report_only
        ),
    }


def sampling_protected(run_prot: dict | None) -> bool:
    """Did run.json's protection change the sampler (CPSample with a guide that fires)?"""
    keys = ("classifier", "alpha", "scale", "rule", "guide_when", "guide")
    if not run_prot:
        return False
    return not Protection(**{k: run_prot[k] for k in keys if k in run_prot}).inactive


def samples_protected(sample_run: dict | None) -> bool:
    """CPSample or a prompt defence changed the sampler the samples came from (the weights are unchanged)."""
    r = sample_run or {}
    return sampling_protected(r.get("protection")) or bool((r.get("conditions") or {}).get("prompt_defence"))


def model_conditioning_of(opts: AuditOptions) -> str:
    """'none' without --model; else what the model folder is conditioned on (configs only)."""
    if opts.model is None or not Path(opts.model).is_dir():
        return "none"
    return model_conditioning(Path(opts.model))


def member_images_mode(run: AuditRun) -> str:
    """auto: the bundled digits are public, so show them; anyone else's data is withheld."""
    return resolve_member_images(run.opts.member_images, run.data.source)


def resolve_member_images(mode: str, data: str) -> str:
    return mode if mode != "auto" else ("show" if data == "digits" else "hide")


# results.json's sections in the order they are written; a stage's sections not named here follow `attacks`.
SECTION_ORDER = ("setup", "nn", "top_pairs", "permutation", "release", "threat_models", "attacks")
SECTIONS_LAST = ("quality", "protection", "privacy", "policy", "verdict")


def run_stages(run: AuditRun, stages: tuple[Stage, ...]) -> dict:
    """Each stage in turn, given the sections before it; the sections in results.json's order."""
    sections: dict = {}
    for stage in stages:
        sections.update(stage(run, sections))
    sections.pop("extra_gates", None)
    ordered = {k: sections[k] for k in SECTION_ORDER if k in sections}
    ordered.update({k: v for k, v in sections.items() if k not in SECTION_ORDER and k not in SECTIONS_LAST})
    ordered.update({k: sections[k] for k in SECTIONS_LAST if k in sections})
    return ordered


def extraction_hint(opts: AuditOptions) -> str:
    """The command that draws what a prompted-extraction audit of these members reads, complete as printed: the
    audit's model and its members (--split, or --members/--holdout)."""
    if opts.split is not None:
        members = f" --split {opts.split}" + (f" --data {opts.data}" if opts.data is not None else "")
    elif opts.members is not None and opts.holdout is not None:
        members = f" --members {described(opts.members)} --holdout {described(opts.holdout)}"
        members += f" --resize {opts.resize[0]}x{opts.resize[1]}" if opts.resize is not None else ""
    else:
        members = ""
    return f"`cpaudit sample --model {opts.model or 'PIPELINE'} --extraction{members} --out extraction-samples`"


def described(source: object) -> str:
    """A source as results.json names it: its path, or what an in-memory set is."""
    if isinstance(source, (ImageSet, SampleSet)):
        return source.source if isinstance(source, ImageSet) else str(source.folder)
    return str(source)
