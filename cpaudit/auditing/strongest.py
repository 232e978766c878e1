"""What an attacker of each threat model can do: the strongest attack, selection-adjusted.

"The strongest attack" is a maximum over 5-10 attacks' AUCs. Each is calibrated alone, so reading their
maximum against one attack's chance band false-alarms far above the nominal level (up to 12-25% with the
audit's attacks, measured). Here every in-scope attack's variants are stacked as variants of one attack and
the cross-fit (core/crossfit.py) chooses attack, variant and sign on one half of the images and scores the
choice on the other; its chance band relabels members and held-out images once for the whole attack set,
so the maximum has its own null. Every attack scores the same candidate images, which makes stacking exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cpaudit.auditing.attacks.base import AttackScores, headline_figures
from cpaudit.core.crossfit import BOOTSTRAP_REPLICATES
from cpaudit.core.threat_models import THREAT_MODELS, in_scope

# What a gate under each release needs before it can read anything (the samples attack always runs).
WHAT_TO_GIVE = {
    "samples": "samples",
    "sampler": "--model (and, for protected samples, the classifier their run.json names)",
    "weights": "--model",
}


def strongest_headline(
    scores: dict[str, AttackScores],
    attacks: dict[str, dict],
    threat_model: str,
    rng: np.random.Generator,
    n_null: int,
    n_boot: int = BOOTSTRAP_REPLICATES,
    split_design: str | None = None,
) -> dict | None:
    """The selection-adjusted headline over every attack in scope for `threat_model`; None if none ran."""
    keys = [k for k, a in attacks.items() if in_scope(a["threat_model"], threat_model)]
    if not keys:
        return None
    sizes = {scores[k].pos.shape[1:] + scores[k].neg.shape[1:] for k in keys}
    if len(sizes) != 1:
        raise ValueError(f"stacked attacks must score the same candidates, got sizes {sorted(sizes)}")
    origin = [(k, v) for k in keys for v in scores[k].variants]
    pos = np.concatenate([scores[k].pos for k in keys])
    neg = np.concatenate([scores[k].neg for k in keys])
    figures, cf = headline_figures(pos, neg, rng, n_null, n_boot, split_design)
    chosen: list[dict[str, Any]] = [{"attack": origin[i][0], "variant": origin[i][1], "sign": s} for i, s in cf.chosen]
    names = sorted({c["attack"] for c in chosen}, key=keys.index)
    title = (
        attacks[keys[0]]["title"]
        if len(keys) == 1
        else f"strongest of {len(keys)} attacks, chosen on held-apart halves: "
        + " / ".join(attacks[k]["title"] for k in names)
    )
    return {
        "title": title,
        "attacks": keys,
        "n_variants": len(origin),
        "selection": (
            f"Cross-fitted over {len(keys)} attack{'s' if len(keys) != 1 else ''} and {len(origin)} variants: attack, "
            "variant and sign chosen on one half of the images, AUC on the other; chance band and p-value from "
            "relabelling the whole attack set"
        ),
        "chosen": chosen,
        **figures,
    }


def threat_model_section(
    scores: dict[str, AttackScores],
    attacks: dict[str, dict],
    release: str,
    seed_rng,
    n_null: int,
    split_design: str | None = None,
) -> dict[str, dict]:
    """results.json `threat_models`: per threat model, whether it is deployed, its attacks, the attacks that
    measure it (a gate under it reads only those), and its selection-adjusted strongest-attack headline.
    seed_rng(name) -> a numpy Generator for the headline over the in-scope attacks `name` names, so that two
    threat models with the same attacks in scope (sampler and weights of an unprotected run) read one figure."""
    out: dict[str, dict] = {}
    headlines: dict[str, dict | None] = {}
    for tm in THREAT_MODELS:
        keys = "+".join(k for k, a in attacks.items() if in_scope(a["threat_model"], tm))
        if keys not in headlines:
            headlines[keys] = strongest_headline(
                scores, attacks, tm, seed_rng(f"strongest-{keys}"), n_null, split_design=split_design
            )
        out[tm] = {
            "deployed": in_scope(tm, release),
            "attacks": [k for k, a in attacks.items() if a["threat_model"] == tm],
            "measured_by": [k for k, a in attacks.items() if tm in a["measures"]],
            "strongest": headlines[keys],
        }
        if not out[tm]["measured_by"]:
            out[tm]["not_measured"] = f"no attack of threat model '{tm}' ran: give {WHAT_TO_GIVE[tm]}"
    return out
