"""The report's text-to-image section: prompted extraction (threat model samples) and the memorisation
detector (threat model sampler, or weights where sampling was defended), from results.json's
`prompted_extraction` and `detector` sections (pipelines/audit_text.py)."""

from __future__ import annotations

from cpaudit.report.document import Figure, Para, Section, Table
from cpaudit.report.numbers import interval, num, p_value, pct


def text_section(results: dict) -> Section | None:
    """The text-to-image section, or None for an audit that prompted nothing: extraction, what qualifies it,
    the most extracted captions, then the memorisation detector."""
    ext = results.get("prompted_extraction")
    if not ext:
        return None
    head = (results.get("attacks") or {}).get("prompted_extraction") or {}
    items = _extraction_items(ext, head) + _caveat_items(ext) + _top_caption_items(ext) + detector_items(results)
    return Section("Text-to-image: prompted extraction and the memorisation detector", items)


def _extraction_items(ext: dict, head: dict) -> list:
    """Training captions extracted against held-out ones (the base rate), the caption-membership AUC and its
    curve over samples per caption."""
    c = ext["captions"]
    return [
        Para(
            f"Threat model 'samples', an attacker who knows the captions: the sampler was prompted with {c['n_member_captions']} "
            f"training captions and {c['n_holdout_captions']} held-out captions, {ext['samples_per_caption']} samples each. "
            f"{c['member_captions_extracted']} of {c['n_member_captions']} training captions ({pct(c['rate'])}, 95% Wilson "
            f"{_pcts(c['rate_ci95'])}) gave a replica of their own image ({ext['features']} similarity at or above "
            f"{num(ext['threshold'])}: {ext['threshold_origin']}), against {c['holdout_captions_extracted']} of "
            f"{c['n_holdout_captions']} held-out captions ({pct(c['holdout_rate'])}, {_pcts(c['holdout_rate_ci95'])}), the base "
            f"rate; one-sided Fisher exact p = {p_value(c['fisher_p'], None)}."
        ),
        Para(
            f"Telling training captions from held-out ones by their samples (cross-fitted over: best similarity to the "
            f"caption's image, its replica count, and how much its samples agree with each other, Carlini et al.'s "
            f"black-box signal): AUC {num(head.get('auc'))} (95% CI {interval(head.get('auc_ci95'))}; chance band "
            f"{interval(head.get('chance_band95'))})."
        ),
        Figure(
            "extraction_by_seeds",
            "Extraction AUC (best similarity to the caption's image) against samples per caption.",
        ),
    ]


def _caveat_items(ext: dict) -> list:
    """What qualifies the extraction figures, each only where it applies: repeated captions, refused prompts,
    and the codec floor below which no decoded sample can count as a replica."""
    items: list = []
    units = units_para(ext)
    if units is not None:
        items.append(units)
    if ext.get("refused", {}).get("prompts"):
        r = ext["refused"]
        items.append(
            Para(
                f"The sampler refused {r['prompts']} prompts ({r['member_captions']} training and {r['holdout_captions']} "
                "held-out captions affected); a refusal is itself a signal, scored as one more variant."
            )
        )
    floor = ext.get("codec_floor")
    if floor:
        consequence = (
            "every one reaches the replica threshold, so a decoded replica can be counted"
            if not floor["below_threshold"]
            else f"{floor['below_threshold']} of {floor['n']} fall below the replica threshold: no decoded sample can "
            "be counted as their replica, and extraction is underestimated for them"
        )
        items.append(
            Para(
                f"Codec floor: the autoencoder's own reconstruction of each training image reaches median similarity "
                f"{num(floor['median'])} (lowest {num(floor['min'])}); {consequence}."
            )
        )
    return items


def _top_caption_items(ext: dict) -> list:
    """The most extracted training captions: their pairs figure and their table."""
    return [
        Figure(
            "extraction_pairs",
            "The most extracted training captions: each one's best prompted sample beside its "
            "training image (withheld or blurred as --member-images says).",
        ),
        Table(
            ["training image", "caption", "best similarity", "replicas", "agreement"],
            [
                [
                    _image_ids(t),
                    t["caption"] if t["caption"] is not None else "(hidden: --member-images show)",
                    num(t["best_similarity"]),
                    f"{t['replicas']} of {t['samples']}",
                    num(t["agreement"]),
                ]
                for t in ext.get("top_captions", [])
            ],
        ),
    ]


def units_para(ext: dict) -> Para | None:
    """Repeated captions (auditing/extraction.py, caption_units): the caption is the unit; a caption on both sides
    is left out. None where captions do not repeat (results written before units were counted included)."""
    u, shared = ext.get("caption_units") or {}, ext.get("shared_captions") or {}
    repeats = bool(u) and (u["member_images"] > u["member_captions"] or u["holdout_images"] > u["holdout_captions"])
    said = []
    if repeats:
        said.append(
            f"Captions repeat: the {u['member_captions']} training captions cover {u['member_images']} training images "
            f"and the {u['holdout_captions']} held-out captions {u['holdout_images']} held-out images; each caption is "
            "one unit with all its images (its samples are scored against the closest of them, and the image attacks "
            "average over them)."
        )
    if shared.get("captions"):
        said.append(
            f"{shared['captions']} captions occur on both training and held-out images ({shared['member_images']} "
            f"training and {shared['holdout_images']} held-out images): such a caption is neither a training nor a "
            "held-out caption, so it is left out of the test and of every attack."
        )
    return Para(" ".join(said)) if said else None


def _image_ids(top: dict) -> str:
    """The training image beside the caption's best sample, and how many more images the caption has."""
    more = top.get("images", 1) - 1
    return f"{top['member']} (+{more} more)" if more > 0 else top["member"]


def detector_items(results: dict) -> list:
    det = results.get("detector")
    if not det:
        return [Para("The memorisation detector and the caption-conditioned attacks need the model (--model).")]
    a = (results.get("attacks") or {}).get("detector") or {}
    items: list = [
        Para(
            f"Memorisation detector (Wen et al. 2024; threat model '{det['threat_model']}'): the text-conditional noise norm over "
            f"the first {det['first_steps']} of {det['steps']} steps at guidance scale {det['guidance_scale']:g}, {det['seeds_per_caption']} "
            f"seeds a caption. As a membership score: AUC {num(a.get('auc'))} (95% CI {interval(a.get('auc_ci95'))}; chance band "
            f"{interval(a.get('chance_band95'))}). Flag rule: {det['flag_rule']} (threshold {num(det['flag_threshold'])}); "
            f"{det['member_captions_flagged']} of {det['n_member_captions']} training captions are flagged."
        ),
        Figure("detector_roc", "ROC of the detector's out-of-fold scores; shaded: the chance band."),
    ]
    prompts = det.get("prompts")
    if prompts:
        flagged = [p for p in prompts if p["flagged"]]
        items.append(Para(f"--prompts: {len(flagged)} of {len(prompts)} prompts flagged."))
        items.append(
            Table(
                ["prompt", "score", "flagged"],
                [[p["prompt"], num(p["score"]), "yes" if p["flagged"] else "no"] for p in prompts],
            )
        )
    return items


def _pcts(ci: list[float]) -> str:
    return f"{pct(ci[0])} to {pct(ci[1])}"
