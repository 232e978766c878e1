"""Build the report Document from results.json (and say which figures it needs)."""

from __future__ import annotations

from cpaudit.core.threat_models import THREAT_MODELS, in_scope
from cpaudit.report.document import Document, Figure, Item, Para, Section, Table
from cpaudit.report.first_screen import action_sentence, headline_figures, lead_figures, verdict_cards
from cpaudit.report.gates_table import gate_rows
from cpaudit.report.numbers import interval, num, p_value, pct
from cpaudit.report.summary import glossary_section, summary_section
from cpaudit.report.text_section import text_section

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

THREAT_TITLES = {
    "samples": "Samples published (threat model: samples)",
    "sampler": "Sampler queried (threat model: sampler)",
    "weights": "Weights released (threat model: weights)",
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


def attack_rows(attacks: dict[str, dict]) -> list[list[str]]:
    """One row per attack: the selection-free AUC with its interval and chance band, TPRs, the one-run epsilon
    lower bound beside the most these sizes can show."""
    rows = []
    for a in attacks.values():
        tprs = ", ".join(f"{float(k):.1%}: {num(v)}" for k, v in a["tpr_at_fpr"].items() if v is not None)
        low = a["tpr_at_lowest_fpr"]
        lowest = f"0 of {low['n_negatives']} held-out: {num(low['tpr'])}"
        rows.append(
            [
                a["title"],
                num(a["auc"]),
                interval(a["auc_ci95"]),
                interval(a["chance_band95"]),
                p_value(a["p_value"], a["n_null"]),
                "; ".join(x for x in (tprs, lowest) if x),
                _epsilon(a),
                str(a["queries_per_image"]),
                f"{a['n_members']} / {a['n_holdout']}",
            ]
        )
    return rows


def _epsilon(a: dict) -> str:
    most = a.get("epsilon_lb_max_provable")
    indicative = " (indicative)" if a.get("epsilon_lb_guarantee") is False else ""
    return num(a["epsilon_lb"], 2) + indicative + ("" if most is None else f" (at most {num(most, 2)} provable)")


ATTACK_HEADER = [
    "attack",
    "AUC",
    "95% CI",
    "chance band (95%)",
    "p",
    "TPR at FPR",
    "epsilon lower bound, one run",
    "model queries / image",
    "members / held-out",
]


def _attack_notes(attacks: dict[str, dict]) -> list[Para | Figure]:
    notes: list[Para | Figure] = []
    for a in attacks.values():
        chosen = "; ".join(f"{c['variant']}{'' if c['sign'] > 0 else ' (sign flipped)'}" for c in a["chosen"])
        variants = ", ".join(f"{v['variant']} {num(v['auc'])}" for v in a["by_variant"])
        notes.append(
            Para(
                f"{a['title']}: {a['selection']}; chosen per half: {chosen}. Every variant's AUC on all images "
                f"(descriptive; the best of them is biased upward): {variants}. {_epsilon_note(a)}"
            )
        )
        if a.get("by_n_samples"):
            by_n = ", ".join(
                f"{b['n_samples']}: {num(b['auc'])} ({interval(b['auc_ci95'])})" for b in a["by_n_samples"]
            )
            notes.append(
                Para(
                    f"Nearest-sample AUC by the number of samples published (first n by seed): {by_n}; chance band "
                    f"{interval(a['by_n_samples_chance_band95'])}. Members with a sample at or above the replica "
                    f"threshold: {a['members_with_a_replica']} of {a['n_members']}; held-out images: "
                    f"{a['holdout_with_a_replica']} of {a['n_holdout']}."
                )
            )
            notes.append(
                Figure("auc_by_samples", "Sample-only AUC against the number of samples published; shaded: chance.")
            )
    return notes


def _epsilon_note(a: dict) -> str:
    if "epsilon_lb_many_runs" not in a:  # schema 2
        return (
            f"Epsilon lower bound at delta {a['delta']:.3g}: Clopper-Pearson over thresholds, treating each member as "
            "its own training run (the many-runs setting), not a bound for one training run."
        )
    g = a.get("epsilon_lb_guesses") or {}
    found = (
        f"{num(a['epsilon_lb'], 2)} from {g.get('correct')} correct of {g.get('guesses')} guesses"
        if g.get("guesses")
        else "0.00 (no number of guesses on the grid proved anything)"
    )
    return (
        f"Epsilon lower bound for this one training run (Steinke, Nasr & Jagielski 2023) at delta {a['delta']:.3g}, 95% "
        f"confidence: {found} among {g.get('candidates')} candidates of an evaluation half; with {g.get('candidates')} "
        f"candidates this procedure can show at most {num(a['epsilon_lb_max_provable'], 2)} (its ceiling at these sizes, "
        "not a limit on any attack), so a small value here means little evidence, not a small epsilon. "
        + a.get("epsilon_lb_assumption", "It assumes members were drawn at random from the candidates.")
        + _proven_note(a)
        + f" The many-runs formula (each member treated as its own training run, delta {a['delta_many_runs']:.3g}) gives "
        f"{num(a['epsilon_lb_many_runs'], 2)}; it is not a bound for one training run."
    )


def _proven_note(a: dict) -> str:
    if a.get("epsilon_lb_proven") is None:
        return ""
    return (
        f" Conditioned on the half's member count (a guarantee where cpaudit drew the split): "
        f"{num(a['epsilon_lb_proven'], 2)} (at most {num(a['epsilon_lb_proven_max_provable'], 2)} at these sizes)."
    )


def _strongest_items(tm: dict) -> list:
    h = tm.get("strongest")
    if h is None:
        return [Para(tm.get("not_measured", "No attack of this threat model ran."))]
    chosen = "; ".join(f"{c['attack']} {c['variant']}{'' if c['sign'] > 0 else ' (sign flipped)'}" for c in h["chosen"])
    strongest = (
        f" The strongest attack tried reaches AUC {interval(h['strongest_auc_ci95'])} (95% CI on all images, "
        f"max-t adjusted over the {h['n_variants']} variants)."
        if "strongest_auc_ci95" in h
        else ""
    )
    lines = [
        Para(
            f"What an attacker with this access can do: the {h['title']} reaches AUC {num(h['auc'])} (95% CI "
            f"{interval(h['auc_ci95'])} for the attack chosen on one half of the images and scored on the other; "
            f"chance band {interval(h['chance_band95'])}; selection-adjusted p {p_value(h['p_value'], h.get('n_null'))})."
            f"{strongest} {h['selection']}; chosen per half: {chosen}. One-run epsilon lower bound "
            f"{_epsilon(h)} at these sizes."
        )
    ]
    if not tm.get("measured_by"):
        lines.append(Para(tm.get("not_measured", "")))
    return lines


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
    sections += _threat_model_sections(results, _samples_items(results))
    prompted = text_section(results)
    if prompted is not None:
        prompted.collapsed = True
        sections.append(prompted)
    if results.get("quality"):
        sections.append(_quality_section(results["quality"]))
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


def _threat_model_sections(results: dict, samples_items: list) -> list[Section]:
    """One collapsed section per threat model with anything to show; one the release does not deploy is marked
    as shown for reference, since its figures do not count toward the verdict."""
    release = results.get("release", "samples")
    sections = []
    for tm in THREAT_MODELS:
        items = (list(samples_items) if tm == "samples" else []) + _attack_items(results, tm)
        if not items:
            continue
        deployed = in_scope(tm, release)
        heading = THREAT_TITLES[tm] + ("" if deployed else ": not deployed, shown for reference")
        lead: list[Item] = (
            []
            if deployed
            else [
                Para(
                    f"The audit was run for release '{release}'; an attacker of this threat model "
                    f"needs more than was released, so its figures do not count toward the verdict."
                )
            ]
        )
        sections.append(Section(heading, lead + items, collapsed=True))
    return sections


def _attack_items(results: dict, tm: str) -> list:
    """A threat model's strongest attack, selection-adjusted, then its attacks' table, notes and ROC."""
    tms = results.get("threat_models") or {}
    group = {k: a for k, a in (results.get("attacks") or {}).items() if a["threat_model"] == tm}
    items: list = []
    if "strongest" in (tms.get(tm) or {}):
        items += _strongest_items(tms[tm])
    if group:
        items += [
            Table(ATTACK_HEADER, attack_rows(group)),
            *_attack_notes(group),
            Figure(
                f"roc_{tm}",
                "ROC of the out-of-fold scores (log FPR); shaded: where a score that knows nothing lands 95% of the time.",
            ),
        ]
    return items


def _quality_section(quality: dict) -> Section:
    """FID and KID, with the embedding and reference they hold only for."""
    items: list[Item] = [
        Table(
            ["embedding", "FID", "KID", "samples", "held-out reference"],
            [
                [
                    quality["features"],
                    num(quality["fid"]),
                    f"{quality['kid']:.4f}",
                    str(quality.get("n_samples")),
                    str(quality.get("n_reference")),
                ]
            ],
        ),
        Para(
            f"FID and KID are computed on the {quality['features']} embedding against "
            f"{quality.get('reference') or 'held-out images'}, so they compare only with figures on the same embedding "
            "and reference size."
        ),
    ]
    if quality.get("warning"):
        items.append(Para("Warning: " + quality["warning"] + "."))
    return Section("Quality", items)


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
