"""A privacy regression test between model versions: is a gated figure worse than a stored run's, beyond
what the two runs' sampling noise explains?

Both runs are estimates with their own noise, so "above the baseline's 95% interval" fails an unchanged
model far more often than 2.5% (about 8% with exact intervals, 10-13.5% with the too-narrow ones of
schema 2). Each gate here is a one-sided two-sample test at level 0.025: the replica counts by Fisher's
exact test, the strongest attack's AUCs by a z-test on their difference with both standard errors.
"""

from __future__ import annotations

import math
from pathlib import Path

from scipy import stats as sps

from cpaudit.errors import InputError
from cpaudit.report.legacy import headline

LEVEL = 0.025


def check_baseline(results: dict, path: Path, features: str, threshold: float) -> dict:
    """A stored results.json (as read_results read it) with what the baseline gates read, on this audit's
    embedding and threshold: checked before the audit's work, so that a bad file is bad input, not a crash
    or a refusal after the audit."""
    nn = results.get("nn")
    need: dict[str, type | tuple[type, ...]] = {
        "features": str,
        "threshold": (int, float),
        "replicas": int,
        "n_samples": int,
    }
    if not isinstance(nn, dict) or any(
        not isinstance(nn.get(k), t) or isinstance(nn.get(k), bool) for k, t in need.items()
    ):
        raise InputError(
            path,
            "baseline lacks nn.features, nn.threshold, nn.replicas or nn.n_samples: not a results.json an audit wrote",
        )
    attacks = results.get("attacks")
    if not isinstance(attacks, dict) or not all(
        isinstance(a, dict) and isinstance(a.get("auc"), (int, float)) and isinstance(a.get("threat_model"), str)
        for a in attacks.values()
    ):
        raise InputError(path, "baseline's attacks must each have a numeric auc and a threat_model")
    if (nn["features"], nn["threshold"]) != (features, threshold):
        raise InputError(
            path,
            f"baseline used {nn['features']} at threshold {nn['threshold']}, this audit {features} at "
            f"{threshold}: their replica rates do not compare",
        )
    return results


def baseline_gates(nn: dict, threat_models: dict[str, dict], release: str, baseline: dict) -> dict[str, str | None]:
    """{gate: None if it holds, else a sentence}. The caller checked the baseline with check_baseline (same
    embedding and threshold, the fields read here)."""
    bnn = baseline["nn"]
    gates: dict[str, str | None] = {}
    table = [[nn["replicas"], nn["n_samples"] - nn["replicas"]], [bnn["replicas"], bnn["n_samples"] - bnn["replicas"]]]
    p = float(sps.fisher_exact(table, alternative="greater").pvalue)
    gates["baseline_replica_rate"] = (
        None
        if p >= LEVEL
        else (
            f"replicas rose against the baseline: {nn['replicas']} of {nn['n_samples']} samples against {bnn['replicas']} of "
            f"{bnn['n_samples']} (one-sided Fisher exact p = {p:.3g} < {LEVEL:g})"
        )
    )
    a = (threat_models.get(release) or {}).get("strongest")
    b = headline(baseline, release)
    if b is not None:
        if a is None:
            gates["baseline_mia_auc"] = (
                f"the baseline measured the {b['title']} ({release}), this audit ran no such attack"
            )
        else:
            se = math.hypot(a["auc_se"], b["auc_se"])
            z = (a["auc"] - b["auc"]) / se if se > 0 else (math.inf if a["auc"] > b["auc"] else 0.0)
            gates["baseline_mia_auc"] = (
                None
                if z <= sps.norm.isf(LEVEL)
                else (
                    f"membership AUC rose against the baseline: the {a['title']} reaches {a['auc']:.3f} against the baseline's "
                    f"{b['auc']:.3f} (difference {a['auc'] - b['auc']:+.3f}, standard error {se:.3f}; one-sided z-test at {LEVEL:g})"
                )
            )
    return gates
