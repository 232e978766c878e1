"""The report's threat-model sections: for each threat model, its strongest attack (selection-adjusted), its
attacks' table with intervals, chance bands and one-run epsilon bounds, their notes and ROC; the sample-only
evidence heads the 'samples' one."""

from __future__ import annotations

from cpaudit.core.threat_models import THREAT_MODELS, in_scope
from cpaudit.report.document import Figure, Item, Para, Section, Table
from cpaudit.report.numbers import interval, num, p_value

THREAT_TITLES = {
    "samples": "Samples published (threat model: samples)",
    "sampler": "Sampler queried (threat model: sampler)",
    "weights": "Weights released (threat model: weights)",
}


def threat_model_sections(results: dict, samples_items: list) -> list[Section]:
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
