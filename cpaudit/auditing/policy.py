"""Policy gates: thresholds a CI pipeline enforces on an audit's results."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

from cpaudit.core.threat_models import RELEASE_WORDS, THREAT_MODELS
from cpaudit.errors import InputError
from cpaudit.io_utils import read_toml
from cpaudit.options import option


@dataclass(frozen=True)
class Policy:
    max_replica_rate: float | None = option(
        None, help="Fail when more than this fraction of samples are replicas.", min=0.0, max=1.0, parse=float
    )
    # The released threat model's strongest attack, selection-adjusted (auditing/strongest.py): its AUC at most this.
    max_mia_auc: float | None = option(
        None,
        help="Fail when the released threat model's strongest attack (selection-adjusted) has a higher AUC.",
        min=0.0,
        max=1.0,
        parse=float,
    )
    min_permutation_p: float | None = option(
        None, help="Fail when the permutation test's p-value is below this.", min=0.0, max=1.0, parse=float
    )
    # Fail when training images are reached by some sample at the replica threshold more often than held-out
    # images are, by a one-sided Fisher exact test at this level (stats.reach_excess_p: exact whatever the
    # samples look like, where the split was drawn at random). On a text audit this level is the copying
    # family's, shared by the replica gate and the prompted-extraction gate (half each).
    replica_excess_level: float | None = option(
        None,
        help="Fail when training images have a sample at the replica threshold more often than held-out images "
        "do, at this level (one-sided Fisher exact test; on a text audit shared in half with prompted extraction) "
        "[default: 0.025; 0 switches it off].",
        min=0.0,
        max=1.0,
        parse=float,
        show_default=False,
    )
    # Fail when the released threat model's strongest attack, selection-adjusted, beats chance: its p-value
    # from relabelling the whole attack set below this level (0.025: its AUC above the 95% chance band).
    mia_excess_level: float | None = option(
        None,
        help="Fail when the released threat model's strongest attack, selection-adjusted, beats chance at this "
        "level [default: 0.025; 0 switches it off].",
        min=0.0,
        max=1.0,
        parse=float,
        show_default=False,
    )

    def merged(self, other: Policy) -> Policy:
        """Options given on the command line (other) override the file."""
        return replace(
            self, **{f.name: getattr(other, f.name) for f in fields(other) if getattr(other, f.name) is not None}
        )


# What an audit gates when nobody says otherwise, as pip-audit fails on any finding: evidence of leakage under
# the released threat model. The level-based gates form one family whose levels sum to FAMILY_LEVEL
# (Bonferroni: the audit fails when any gate's p-value is below its level, so on a model that leaks nothing
# it false-alarms at most the sum, whatever the dependence between the gates): copying (the replica gate, and
# on a text audit the extraction gate, sharing replica_excess_level) 0.025, membership 0.025.
# Measured on null audits: benchmarks/null_audits.py.
FAMILY_LEVEL = 0.05
DEFAULT_POLICY = Policy(replica_excess_level=0.025, mia_excess_level=0.025)
COPY_GATES = ("replica_excess_level", "extraction_excess_level")  # the gates that share replica_excess_level


def gate_levels(policy: Policy, text: bool) -> dict[str, float]:
    """The level each level-based gate of an audit tests at: the copying family's level is split in half
    between the replica and the extraction gates on a text audit."""
    levels = {}
    if policy.replica_excess_level is not None:
        share = policy.replica_excess_level / (2 if text else 1)
        levels.update({g: share for g in (COPY_GATES if text else COPY_GATES[:1])})
    if policy.mia_excess_level is not None:
        levels["mia_excess_level"] = policy.mia_excess_level
    return levels


def family(policy: Policy, text: bool) -> dict:
    """results.json `policy.family`: the level-based gates, their levels and their total."""
    levels = gate_levels(policy, text)
    return {
        "levels": levels,
        "total": sum(levels.values()),
        "design": "Bonferroni: the gates' levels sum to the total, so an audit of a model that leaks nothing fails at "
        "most that often (measured: benchmarks/null_audits.py)",
    }


def read_policy(path: Path) -> PolicyFile:
    """[policy] table (or top level) of cpaudit.toml with the same keys as the options, and report_only."""
    data = read_toml(path)
    return PolicyFile(*read_policy_table(data.get("policy", data), path))


def read_policy_table(table: dict, path: Path) -> tuple[Policy, bool]:
    """The gates of a policy table (keys as the options, `_` or `-`) and its report_only."""
    known = {f.name for f in fields(Policy)}
    values = {}
    report_only = table.get("report_only", table.get("report-only", False))
    if not isinstance(report_only, bool):
        raise InputError(path, f"report_only must be true or false, got {report_only!r}")
    for key, value in table.items():
        name = key.replace("-", "_")
        if name == "report_only":
            continue
        if name not in known:
            raise InputError(path, f"unknown policy key {key!r} (known: {', '.join(sorted(known))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InputError(path, f"{key} must be a number in [0, 1], got {value!r}")
        values[name] = float(value)
    return Policy(**values), report_only


@dataclass(frozen=True)
class PolicyFile:
    policy: Policy  # the gates the file sets (the defaults apply to the keys it leaves out)
    report_only: bool  # `report_only = true`: measure and report, gate nothing


def _bad(x: float | None) -> bool:
    return x is None or not math.isfinite(x)


def _measured(x: float | None) -> float | None:
    """x where it is a measured figure; None where it is missing or not finite (what _bad calls bad)."""
    return None if _bad(x) else x


def evaluate(policy: Policy, **figures) -> list[str]:
    """One sentence per failed gate (see evaluate_gates)."""
    return [m for m in evaluate_gates(policy, **figures).values() if m is not None]


def evaluate_gates(
    policy: Policy,
    *,
    release: str,
    replica_rate: float | None,
    permutation_p: float | None,
    threat_models: dict[str, dict],
    reach: dict | None = None,
    replica_level: float | None = None,
    n_diverged: int = 0,
    protected: bool = False,
) -> dict[str, str | None]:
    """Each gate that is set -> None if it holds, else one sentence saying, in plain words, what failed. A figure
    that is missing or NaN fails its gate: an audit that could not measure something must not pass.

    The membership gates read the released threat model's strongest attack, selection-adjusted
    (results.json threat_models[release].strongest), and only where an attack of that threat model ran:
    the sample-only attack is in scope under every release, but it does not measure what weights allow.
    reach: the replica gate's figures (ReplicationResult.reach); replica_level: the level it tests at (its
    share of replica_excess_level, gate_levels), default replica_excess_level. protected: the samples came
    from a sampling-time defence (CPSample, a prompt defence), which the weights do not carry.

    Where the released threat model was not measured, its membership gates fail, and each weaker threat model
    that was measured is gated too (keys `<gate>:<threat model>`), so the verdict names every leak it saw.
    """
    gates: dict[str, str | None] = {}
    if n_diverged and any(v is not None for v in policy.__dict__.values()):
        gates["diverged_samples"] = (
            f"{n_diverged} samples diverged (NaN/inf) and could not be audited: the gates cannot vouch for them"
        )
    if policy.replica_excess_level is not None:
        reach_level = policy.replica_excess_level if replica_level is None else replica_level
        gates["replica_excess_level"] = _reach_gate(reach or {}, reach_level)
    _add_membership_gates(gates, policy, release, threat_models, protected)
    if policy.max_replica_rate is not None:
        gates["max_replica_rate"] = _replica_rate_gate(policy.max_replica_rate, replica_rate)
    if policy.min_permutation_p is not None:
        gates["min_permutation_p"] = _permutation_gate(policy.min_permutation_p, permutation_p)
    return gates


def _add_membership_gates(
    gates: dict[str, str | None], policy: Policy, release: str, threat_models: dict[str, dict], protected: bool
) -> None:
    """Add the membership gates in place, so the verdict keeps its order: each gate on the released threat model,
    then, where that was not measured, the same gate on every weaker threat model that was."""
    for gate, level in (("mia_excess_level", policy.mia_excess_level), ("max_mia_auc", policy.max_mia_auc)):
        if level is None:
            continue
        gates[gate] = _membership_gate(gate, level, threat_models.get(release) or {}, release, protected)
        if threat_models.get(release, {}).get("measured_by"):
            continue
        for weaker in THREAT_MODELS[: THREAT_MODELS.index(release)]:
            if (threat_models.get(weaker) or {}).get("measured_by"):
                gates[f"{gate}:{weaker}"] = _membership_gate(gate, level, threat_models[weaker], weaker, protected)


def _replica_rate_gate(max_rate: float, replica_rate: float | None) -> str | None:
    """The max_replica_rate gate: None if the measured rate is within the maximum; a rate that could not be
    measured fails, since an audit that saw nothing must not pass."""
    rate = _measured(replica_rate)
    if rate is None:
        return "replica rate could not be measured (no finite samples)"
    if rate > max_rate:
        return f"replica rate {rate:.2%} exceeds the maximum {max_rate:.2%} by {rate - max_rate:.2%}"
    return None


def _permutation_gate(min_p: float, permutation_p: float | None) -> str | None:
    """The min_permutation_p gate: None if the permutation test's p-value reaches the minimum; a p-value that
    could not be measured fails."""
    p_value = _measured(permutation_p)
    if p_value is None:
        return "permutation-test p-value could not be measured"
    if p_value < min_p:
        return f"permutation-test p-value {p_value:.4g} is below the minimum {min_p:.4g} by {min_p - p_value:.4g}"
    return None


def _membership_gate(gate: str, level: float, tm: dict, release: str, protected: bool) -> str | None:
    if not tm.get("measured_by"):
        return f"{RELEASE_WORDS[release].lower()}, nothing was measured: " + tm.get(
            "not_measured", f"no attack of threat model '{release}' ran"
        )
    head = tm.get("strongest")
    if head is None or _bad(head.get("auc")):
        return f"the membership attacks of threat model '{release}' could not be measured"
    return _mia_gate(gate, level, head, release, protected)


def _reach_gate(reach: dict, level: float) -> str | None:
    p = _measured(reach.get("reach_excess_p"))
    if p is None:
        return "training images reached by samples could not be compared with held-out images (no candidates or no samples)"
    if p >= level:
        return None
    return (
        f"samples reproduce training images more often than they come as close to unseen ones: "
        f"{reach['members_reached']} of {reach['n_members_reached_of']} training images "
        f"({reach['members_reached_rate']:.1%}) have a sample at the replica threshold, against {reach['holdout_reached']} "
        f"of {reach['n_holdout_reached_of']} held-out images ({reach['holdout_reached_rate']:.1%}) (one-sided Fisher "
        f"exact p = {p:.3g} < level {level:g}; threat model 'samples')"
    )


def _mia_gate(gate: str, level: float, head: dict, release: str, protected: bool) -> str | None:
    lo, hi = head["auc_ci95"]
    blo, bhi = head["chance_band95"]
    why = WHY[release] + (WEIGHTS_UNDER_PROTECTION if release == "weights" and protected else "")
    figure = (
        f"the {head['title']} reaches AUC {head['auc']:.3f} (95% CI {lo:.3f}-{hi:.3f}; threat model '{release}'{why})"
    )
    if gate == "mia_excess_level":
        if head["p_value"] >= level:
            return None
        return (
            f"{RELEASE_WORDS[release].lower()}, an attacker tells training images from unseen ones better than chance: "
            f"{figure}, above its chance band {blo:.3f}-{bhi:.3f} (selection-adjusted p = {head['p_value']:.3g} < level {level:g})"
        )
    if head["auc"] <= level:
        return None
    return f"{RELEASE_WORDS[release].lower()}, {figure}, above the maximum {level:.3f} by {head['auc'] - level:.3f}"


WHY = {
    "samples": ": computed from the samples alone",
    "sampler": ": queries to the deployed denoiser",
    "weights": ": the released weights are the denoiser itself",
}
WEIGHTS_UNDER_PROTECTION = ", which the samples' sampling-time protection does not change"
