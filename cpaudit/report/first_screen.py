"""The report's first screen, which answers "can I release this?" before any statistics: a verdict card per
threat model, the headline figures in large type, and the sentence a reader acts on. The statistics behind each
sentence stay in the detail sections (content.py)."""

from __future__ import annotations

from cpaudit.core.threat_models import THREAT_MODELS, in_scope
from cpaudit.report.document import Figure, Headline, VerdictCard
from cpaudit.report.legacy import headline
from cpaudit.report.numbers import odds, of, pct, pct_range

TITLES = {"samples": "Samples published", "sampler": "Sampler queried", "weights": "Weights released"}
WHO = {
    "samples": "someone who sees only the samples",
    "sampler": "someone who can query the sampler",
    "weights": "someone with the model file",
}
BY = {"samples": "on the samples alone", "sampler": "querying the sampler", "weights": "with the model file"}
DO_NOT = {
    "samples": "Do not publish these samples",
    "sampler": "Do not deploy this sampler",
    "weights": "Do not release these weights",
}
PAIRS_CAPTION = {
    "pairs": "The most-copied pairs: each sample beside the training image it is closest to, similarity above.",
    "extraction_pairs": "The most-copied training captions: each one's best prompted sample beside its training image, "
    "similarity above.",
}


def tells_apart(head: dict) -> str:
    """An attack's AUC in words: the chance of ranking a training image above an unseen one, against a coin's
    50%; within the chance band of these sizes, said to be no better than guessing."""
    band = head.get("chance_band95") or [None, None]
    if band[1] is not None and head["auc"] <= band[1]:
        return f"tells training images from unseen ones {pct(head['auc'])} of the time: no better than guessing (50%)"
    return f"tells training images from unseen ones {odds(head['auc'])}"


def _measured(results: dict, tm: str) -> dict | None:
    """The threat model's strongest attack, or None where no attack of it (or of a weaker one) ran."""
    entry = (results.get("threat_models") or {}).get(tm)
    if entry is not None and not entry.get("measured_by", True):
        return None
    return headline(results, tm)


def _copies(results: dict) -> str:
    """What the samples copy, counted in training images reached where the audit counted them (schema 5)."""
    nn = results["nn"]
    if "members_reached" in nn:
        return (
            f"{of(nn['members_reached'], nn['n_members_reached_of'])} training images have a near-copy among the "
            f"samples ({of(nn['holdout_reached'], nn['n_holdout_reached_of'])} unseen images do)"
        )
    return f"{of(nn['replicas'], nn['n_samples'])} samples copy a training image"


def _extracted(results: dict) -> str:
    c = results["prompted_extraction"]["captions"]
    return (
        f"{of(c['member_captions_extracted'], c['n_member_captions'])} training captions reproduce their image "
        f"({of(c['holdout_captions_extracted'], c['n_holdout_captions'])} unseen captions do)"
    )


def _failed_reason(results: dict, gate: str) -> str:
    """The one failed gate's finding as a reader acts on it."""
    release = results.get("release", "samples")
    key, _, tm = gate.partition(":")
    if key == "extraction_excess_level":
        return f"{DO_NOT['samples']}: prompted with their captions, {_extracted(results)}."
    if key in ("replica_excess_level", "min_permutation_p"):
        return f"{DO_NOT['samples']}: {_copies(results)}."
    if key == "max_replica_rate":
        nn = results["nn"]
        return f"{DO_NOT['samples']}: {of(nn['replicas'], nn['n_samples'])} samples copy a training image."
    if key in ("max_mia_auc", "mia_excess_level"):
        tm = tm or release
        head = _measured(results, tm) or headline(results, tm)
        said = tells_apart(head) if head else "tells training images from unseen ones"
        return f"{DO_NOT[release]}: {WHO[tm]} {said}."
    if key.startswith("baseline_"):
        what = "replica rate" if "replica" in key else "membership attack"
        return f"{DO_NOT[release]}: its {what} is worse than the baseline's."
    message = str((results.get("policy") or {}).get("gates", {}).get(gate) or gate)
    return f"{DO_NOT[release]}: {message}."


def _passed_reason(results: dict, tm: str) -> str:
    head = _measured(results, tm)
    parts = [_copies(results)] if tm == "samples" else []
    parts.append(f"{WHO[tm]} {tells_apart(head)}" if head else f"no attack {WHO[tm]} could run was measured")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def _release_card(results: dict, tm: str) -> VerdictCard:
    pol = results.get("policy") or {}
    gates = pol.get("gates") or {}
    thresholds = [v for v in (pol.get("thresholds") or {}).values() if v is not None]
    if pol.get("report_only") or not (gates or thresholds):
        return VerdictCard(
            TITLES[tm], "not gated", "No gate was applied: " + _passed_reason(results, tm), "this release"
        )
    failed = [g for g, message in gates.items() if message is not None]
    if failed:
        order = ("extraction_excess_level", "replica_excess_level", "max_replica_rate")  # copies before statistics
        first = next((g for g in order if g in failed), failed[0])
        return VerdictCard(TITLES[tm], "failed", _failed_reason(results, first), "this release")
    if pol.get("failures"):  # a file that names its failures only
        return VerdictCard(TITLES[tm], "failed", f"{DO_NOT[tm]}: {pol['failures'][0]}.", "this release")
    n = len(gates) or len(thresholds)
    held = "The one gate holds. " if n == 1 else f"All {n} gates hold. "
    return VerdictCard(TITLES[tm], "passed", held + _passed_reason(results, tm), "this release")


def _other_card(results: dict, tm: str) -> VerdictCard:
    """A threat model the gates did not read: judged by the membership gate's own rule, for reference."""
    release = results.get("release", "samples")
    scope = "included in this release" if in_scope(tm, release) else "not released: for reference"
    head = _measured(results, tm)
    if head is None:
        entry = (results.get("threat_models") or {}).get(tm) or {}
        why = entry.get("not_measured") or "no attack of this kind was run (give the audit --model)"
        return VerdictCard(TITLES[tm], "not measured", why[0].upper() + why[1:].rstrip(".") + ".", scope)
    th = (results.get("policy") or {}).get("thresholds") or {}
    level, most = th.get("mia_excess_level"), th.get("max_mia_auc")
    if level is None and most is None:
        return VerdictCard(TITLES[tm], "not gated", _passed_reason(results, tm), scope)
    leaks = (level is not None and head["p_value"] < level) or (most is not None and head["auc"] > most)
    if leaks:
        return VerdictCard(TITLES[tm], "failed", f"{DO_NOT[tm]}: {WHO[tm]} {tells_apart(head)}.", scope)
    return VerdictCard(TITLES[tm], "passed", _passed_reason(results, tm), scope)


def verdict_cards(results: dict) -> list[VerdictCard]:
    """One card per threat model the audit knows of: the release's from its gates, the others by the same rule."""
    release = results.get("release", "samples")
    known = [tm for tm in THREAT_MODELS if tm in (results.get("threat_models") or {}) or tm == release]
    return [_release_card(results, tm) if tm == release else _other_card(results, tm) for tm in known]


def headline_figures(results: dict) -> list[Headline]:
    """Three or four figures a reader takes away: the share of samples that copy a training image, prompted
    extraction for a text-to-image model, the release's strongest attack, and the strongest with the model."""
    nn = results["nn"]
    figures = [
        Headline(
            pct(nn["replica_rate"]),
            "of samples copy a training image",
            f"{of(nn['replicas'], nn['n_samples'])} samples; 95% interval {pct_range(nn.get('replica_rate_ci95'))}",
        )
    ]
    c = (results.get("prompted_extraction") or {}).get("captions")
    if c:
        figures.append(
            Headline(
                pct(c["rate"]),
                "of training captions reproduce their image when prompted",
                f"{of(c['member_captions_extracted'], c['n_member_captions'])}; unseen captions "
                f"{of(c['holdout_captions_extracted'], c['n_holdout_captions'])}; 95% interval {pct_range(c['rate_ci95'])}",
            )
        )
    release = results.get("release", "samples")
    strongest = [tm for tm in THREAT_MODELS if _measured(results, tm) is not None]
    for tm in dict.fromkeys([release] + strongest[-1:]):
        head = _measured(results, tm)
        if head is not None:
            figures.append(_attack_headline(tm, head))
    return figures[:4]


def _attack_headline(tm: str, head: dict) -> Headline:
    return Headline(
        pct(head["auc"]),
        f"of the time the strongest attack {BY[tm]} tells members from unseen images, where guessing gives 50%",
        f"AUC, 95% interval {pct_range(head['auc_ci95'])}; guessing reaches "
        f"{pct_range(head['chance_band95'])} at these sizes",
    )


def lead_figures(results: dict) -> list[Figure]:
    """The most-copied pairs as pictures, where training images may be shown (--member-images show or blur)."""
    if (results.get("setup") or {}).get("member_images", "show") not in ("show", "blur"):
        return []
    name = "extraction_pairs" if results.get("prompted_extraction") else "pairs"
    return [Figure(name, PAIRS_CAPTION[name])]


def action_sentence(cards: list[VerdictCard]) -> str:
    """The line under the title: the release's card in one sentence."""
    card = next((c for c in cards if c.scope == "this release"), cards[0])
    if card.status == "failed":
        return card.reason
    if card.status == "passed":
        return f"{card.title}: passed. {card.reason}"
    return f"{card.title}: no gate set. {card.reason.removeprefix('No gate was applied: ')}"
