"""A privacy regression test between model versions: is a gated figure worse than a stored run's, beyond
that run's 95% interval?"""

from __future__ import annotations

from cpaudit.core.threat_models import strongest_attack
from cpaudit.errors import InputError


def baseline_gates(nn: dict, attacks: dict[str, dict], release: str, baseline: dict, where: str) -> dict[str, str | None]:
    """{gate: None if it holds, else a sentence}. The replica rate must not exceed the baseline's Wilson
    upper bound; the strongest attack of the released threat model must not exceed the baseline's AUC
    upper bound (its DeLong 95% interval). Only runs on the same embedding and threshold compare."""
    bnn = baseline["nn"]
    if (bnn["features"], bnn["threshold"]) != (nn["features"], nn["threshold"]):
        raise InputError(where, f"baseline used {bnn['features']} at threshold {bnn['threshold']}, this audit "
                                f"{nn['features']} at {nn['threshold']}: their replica rates do not compare")
    gates: dict[str, str | None] = {}
    lo, hi = bnn["replica_rate_ci95"]
    rate = nn["replica_rate"]
    gates["baseline_replica_rate"] = None if rate <= hi else (
        f"replica rate {rate:.2%} is above the baseline's 95% interval ({lo:.2%}-{hi:.2%}) by {100 * (rate - hi):.2f} pts")
    _, a = strongest_attack(attacks, release)
    _, b = strongest_attack(baseline.get("attacks") or {}, release)
    if b is not None:
        blo, bhi = b["auc_ci95"]
        if a is None:
            gates["baseline_mia_auc"] = f"the baseline measured the {b['title']} ({release}), this audit ran no such attack"
        else:
            gates["baseline_mia_auc"] = None if a["auc"] <= bhi else (
                f"membership AUC ({a['title']}) {a['auc']:.3f} is above the baseline's {b['title']} 95% interval "
                f"({blo:.3f}-{bhi:.3f}) by {a['auc'] - bhi:.3f}")
    return gates
