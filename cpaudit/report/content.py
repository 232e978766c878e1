"""Build the report Document from results.json (and say which figures it needs)."""

from __future__ import annotations

from cpaudit.report.document import Document, Figure, Para, Section, Table
from cpaudit.report.first_screen import action_sentence, headline_figures, lead_figures, verdict_cards
from cpaudit.report.gates_table import gate_rows
from cpaudit.report.numbers import interval, num, p_value, pct
from cpaudit.report.quality_section import quality_section
from cpaudit.report.summary import glossary_section, summary_section
from cpaudit.report.text_section import text_section
from cpaudit.report.threat_sections import threat_model_sections

# results.json (cpaudit/schemas/results.schema.json): 5 adds provenance (versions, commit, device), the replica
# gate's reach figures (nn.members_reached ...), policy.family and the strongest attack's own interval; 4 adds setup.members/holdout/resize and lets setup.split
# be null (membership from two sources); 3 added each threat model's selection-adjusted strongest attack,
# bootstrap intervals (auc_se) and the one-run epsilon bound; 2 (attacks by threat model) and 3 are still
# read by `report` and `--baseline`, so a committed privacy baseline survives an upgrade.
SCHEMA_VERSION = 5
READABLE_SCHEMAS = (2, 3, 4, 5)

MEMBER_IMAGES = {
    "show": "Training images are shown beside their nearest samples (--member-images show).",
    "blur": "Training images are blurred to 4x4-pixel blocks in this report and its data file (--member-images blur).",
    "hide": "Training images are withheld from this report and its data file (--member-images hide): the pairs "
    "show samples only, with their similarity to the nearest member.",
}


def verdict(results: dict) -> tuple[str, bool | None]:
    pol = results.get("policy") or {}
    has_gate = bool(pol.get("gates")) or any(v is not None for v in (pol.get("thresholds") or {}).values())
    return results["verdict"], (bool(pol.get("passed")) if has_gate else None)


def _reach_sentence(nn: dict) -> str:
    """The replica gate's figure: candidate images reached by some sample, members against held-out images."""
    return (
        f"Training images with a sample at the threshold: {nn['members_reached']} of {nn['n_members_reached_of']} "
        f"({pct(nn['members_reached_rate'])}, 95% Wilson {interval(nn['members_reached_rate_ci95'], 3)}); held-out images: "
        f"{nn['holdout_reached']} of {nn['n_holdout_reached_of']} ({pct(nn['holdout_reached_rate'])}, 95% Wilson "
        f"{interval(nn['holdout_reached_rate_ci95'], 3)}); compared: {nn['reach_candidates']}. The replica gate asks "
        f"whether training images are reached more often (one-sided Fisher exact p = {p_value(nn['reach_excess_p'], None)}): "
        "the unit is the image, which a sampler that never saw the members reaches regardless of membership."
    )


def _diverged(run: dict | None) -> str:
    seeds = (run or {}).get("nonfinite_seeds") or []
    if not seeds:
        return "none"
    return f"{len(seeds)}: seeds {', '.join(map(str, seeds[:20]))}{' ...' if len(seeds) > 20 else ''}"


def build_document(results: dict, title: str = "cpaudit privacy audit") -> Document:
    """The audit's report: summary, gates, setup, one section per threat model with figures, the text-to-image
    section, quality and protection, then the glossary; _first_screen puts the short ones first."""
    text, passed = verdict(results)
    sections: list[Section] = [summary_section(results)]
    _add_gates(sections, results, text)
    sections.append(_setup_section(results))
    sections += threat_model_sections(results, _samples_items(results))
    prompted = text_section(results)
    if prompted is not None:
        prompted.collapsed = True
        sections.append(prompted)
    if results.get("quality"):
        sections.append(quality_section(results["quality"]))
    privacy_rows = _privacy_rows(results)
    if privacy_rows:
        sections.append(Section("Protection and privacy", [Table(["mechanism", "settings"], privacy_rows)]))
    return _first_screen(results, Document(title, text, passed, sections + [glossary_section()]))


def _add_gates(sections: list[Section], results: dict, text: str) -> None:
    """The recorded verdict heads a policy-gates section; with no gate set, it closes the summary instead."""
    gates = gate_rows(results)
    recorded = Para("The verdict as the audit recorded it: " + text)
    if gates:
        sections.append(Section("Policy gates", [recorded, Table(["gate", "measured", "required", "result"], gates)]))
    else:
        sections[0].items.append(recorded)


def _setup_section(results: dict) -> Section:
    """What was audited and how: data, sizes, samples, model, classifier, embedding, seed and versions."""
    setup = results.get("setup", {})
    model_cfg = setup.get("model_config") or {}
    setup_rows = [
        ["data", str(setup.get("data"))],
        ["data fingerprint (sha256)", str(setup.get("data_fingerprint", ""))[:16] + "..."],
        ["members / held-out", f"{setup.get('n_members')} / {setup.get('n_holdout')}"],
        ["image shape (C, H, W)", str(tuple(setup.get("image_shape", [])))],
        ["samples", f"{setup.get('samples')} ({results['nn']['n_samples']} images)"],
        ["samples that diverged (NaN/inf, not audited)", _diverged(setup.get("sample_run"))],
        ["model", setup.get("model") or "none given: the membership attacks on the model were not run"],
    ]
    if model_cfg:
        setup_rows.append(["model config", _model_config(model_cfg)])
    setup_rows += [
        ["classifier", setup.get("classifier") or "none (no protected sampler to attack)"],
        [
            "embedding",
            f"{setup.get('features')}"
            + ("" if setup.get("features_pretrained", True) else " (random weights: similarities prove little)"),
        ],
        ["audit seed", str(setup.get("seed"))],
        ["computed on", str(setup.get("device", "cpu"))],
        ["cpaudit version", str(results.get("cpaudit_version"))],
    ]
    return Section("Setup", [Table(["item", "value"], setup_rows)], collapsed=True)


def _samples_items(results: dict) -> list:
    """The sample-only evidence that heads the 'samples' threat model: replicas against the fixed and the
    data-driven threshold, the replica gate's reach, the search used, the pairs and the permutation test."""
    nn = results["nn"]
    lo, hi = nn["replica_rate_ci95"]
    items: list = [
        Para(
            f"{nn['replicas']} of {nn['n_samples']} samples ({pct(nn['replica_rate'])}, 95% Wilson interval "
            f"{pct(lo)} to {pct(hi)}) have a member with {nn['features']} similarity at or above {nn['threshold']:g}. "
            f"Median nearest-member similarity: samples {num(nn.get('median_nearest_member_similarity'))}, held-out images "
            f"{num(nn.get('holdout_median_nearest_member_similarity'))}."
        ),
        Para(
            f"Data-driven threshold (the 1 - 1/n quantile of the nearest-member similarity of the n = {nn.get('n_holdout')} held-out images): "
            f"{num(nn['data_threshold'])}; {nn.get('replicas_at_data_threshold')} samples exceed it. "
            f"{nn.get('holdout_over_threshold')} of {nn.get('n_holdout')} held-out images reach the fixed threshold "
            f"({pct(nn.get('holdout_replica_rate'))}, 95% Wilson {interval(nn.get('holdout_replica_rate_ci95'), 3)}): the rate a "
            f"sampler that never copies would show (descriptive: samples need not be independent)."
        ),
        *([Para(_reach_sentence(nn))] if "reach_excess_p" in nn else []),
        Para(_search_sentence(nn.get("search") or {})),
        Figure(
            "similarity_histogram",
            "Nearest-member similarity of samples and of held-out images; dashed: replica threshold.",
        ),
        Figure("pairs", "The most similar sample/member pairs."),
        Para(MEMBER_IMAGES.get(results.get("setup", {}).get("member_images", "show"), "")),
    ]
    return items + _permutation_items(results.get("permutation"))


def _permutation_items(perm: dict | None) -> list:
    """The permutation test's sentence and null-distribution figure, where the audit ran it."""
    if not perm:
        return []
    return [
        Para(
            f"Permutation test: are samples closer to members than to held-out images? Statistic (mean nearest-member minus "
            f"nearest-held-out similarity, {perm.get('n_reference')} references each): {perm['statistic']:.4f}; "
            f"p {p_value(perm['p_value'], perm['n_permutations'])} from {perm['n_permutations']} relabellings (one-sided, +1 corrected)."
        ),
        Figure("permutation", "Null distribution of the permutation statistic; the observed value is marked."),
    ]


def _privacy_rows(results: dict) -> list[list[str]]:
    """The protection mechanisms in force: CPSample's settings and how often it fired, DP-SGD's accounted epsilon."""
    rows = []
    prot = results.get("protection")
    if prot:
        rows.append(
            [
                "CPSample",
                f"alpha {prot.get('alpha')}, scale {prot.get('scale')}, rule {prot.get('rule')}, "
                f"classifier {prot.get('classifier')}; guidance fired on {pct(prot.get('fired_fraction'))} "
                f"of sample-steps ({prot.get('samples_with_guidance')} samples at least once)",
            ]
        )
    dp = (results.get("privacy") or {}).get("dp_epsilon")
    if dp is not None:
        dpc = ((results.get("setup", {}).get("model_config")) or {}).get("dp") or {}
        rows.append(
            [
                "differential privacy (DP-SGD)",
                f"epsilon {dp:.2f} at delta {dpc.get('delta')}, noise multiplier "
                f"{num(dpc.get('noise_multiplier'))}, K = {dpc.get('noise_multiplicity')}",
            ]
        )
    return rows


def _first_screen(results: dict, doc: Document) -> Document:
    """The verdict cards, headline figures and most-copied pairs first; the detail sections after the short ones,
    without the pictures the first screen already shows."""
    doc.cards = verdict_cards(results)
    doc.verdict = action_sentence(doc.cards)
    doc.headlines = headline_figures(results)
    doc.lead_figures = lead_figures(results)
    shown = {f.name for f in doc.lead_figures}
    for section in doc.sections:
        section.items = [i for i in section.items if not (isinstance(i, Figure) and i.name in shown)]
    doc.sections = [s for s in doc.sections if not s.collapsed] + [s for s in doc.sections if s.collapsed]
    return doc


def _search_sentence(search: dict) -> str:
    n = search.get("n_references")
    if search.get("method") == "ivf":
        return (
            f"Nearest members were found with an approximate IVF index over {n:,} members ({search['nlist']} lists, "
            f"{search['nprobe']} probed per query); its recall@1 against exact search, measured on "
            f"{search['recall_queries']} of the queries, is {search['recall_at_1']:.3f}."
        )
    return (
        f"Nearest members were found by exact search over {n:,} members."
        if n
        else "Nearest members were found by exact search."
    )


def _model_config(cfg: dict) -> str:
    """One line on the audited model from what its record holds, leaving out what it does not (a record without
    cpaudit's UNet widths read 'UNet width None x None'): a diffusers pipeline by class, a diffusers UNet2DModel by
    its block widths, a cpaudit UNet by its widths; then denoiser size, classes, prediction and schedule."""
    diffusers = bool(cfg.get("pipeline")) or str(cfg.get("format", "")).startswith("diffusers")
    parts = [_denoiser_name(cfg, diffusers)]
    if diffusers and cfg.get("n_parameters"):
        parts.append(f"{cfg['n_parameters']:,}-parameter denoiser")
    if cfg.get("num_classes"):
        parts.append(f"class-conditional ({cfg['num_classes']} classes)")
    if diffusers:
        prediction = cfg.get("prediction_type") or (cfg.get("scheduler") or {}).get("prediction_type")
        parts.append(f"{prediction or 'epsilon'} prediction")
    parts += _schedule_words(cfg.get("schedule") or {})
    if not diffusers and cfg.get("seed") is not None:
        parts.append(f"seed {cfg['seed']}")
    return ", ".join(p for p in parts if p)


def _denoiser_name(cfg: dict, diffusers: bool) -> str:
    unet = cfg.get("unet") or {}
    if cfg.get("pipeline"):
        return str(cfg["pipeline"])
    if diffusers:
        widths = unet.get("block_out_channels")
        name = "diffusers UNet2DModel" if cfg.get("format") == "diffusers" else "diffusers pipeline"
        return name + (f" (block widths {', '.join(map(str, widths))})" if widths else "")
    if unet.get("base_channels") is None:
        return "denoiser"
    mult = unet.get("channel_mult")
    return f"UNet width {unet['base_channels']}" + ("" if mult is None else f" x {mult}")


def _schedule_words(schedule: dict) -> list[str]:
    words = []
    if schedule.get("kind"):
        shift = f", shift {schedule['shift']:g}" if schedule["kind"] == "flow" and "shift" in schedule else ""
        words.append(f"{schedule['kind']} schedule{shift}")
    if schedule.get("T") is not None:
        words.append(f"T = {schedule['T']}")
    return words
