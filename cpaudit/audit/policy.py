"""Policy gates: thresholds a CI pipeline enforces on an audit's results."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from cpaudit.core.threat_models import RELEASE_WORDS, strongest_attack
from cpaudit.errors import InputError


@dataclass(frozen=True)
class Policy:
    max_replica_rate: float | None = None
    max_mia_auc: float | None = None  # the strongest in-scope attack's selection-free AUC (sign chosen by the attacker)
    min_permutation_p: float | None = None
    # Fail when samples reach the replica threshold more often than held-out images do, by a one-sided
    # Fisher exact test at this level (a sampler that never copies passes at 1 - level or more).
    replica_excess_level: float | None = None

    def merged(self, other: "Policy") -> "Policy":
        """Options given on the command line (other) override the file."""
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(other) if getattr(other, f.name) is not None})


def read_policy(path: Path) -> Policy:
    """[policy] table (or top level) of cpaudit.toml with the same keys as the options."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid TOML ({e})") from None
    table = data.get("policy", data)
    known = {f.name for f in fields(Policy)}
    values = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            raise InputError(path, f"unknown policy key {key!r} (known: {', '.join(sorted(known))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InputError(path, f"{key} must be a number in [0, 1], got {value!r}")
        values[name] = float(value)
    return Policy(**values)


def _bad(x: float | None) -> bool:
    return x is None or not math.isfinite(x)


def evaluate(policy: Policy, **figures) -> list[str]:
    """One sentence per failed gate (see evaluate_gates)."""
    return [m for m in evaluate_gates(policy, **figures).values() if m is not None]


def evaluate_gates(policy: Policy, *, release: str, replica_rate: float | None, permutation_p: float | None,
                   attacks: dict[str, dict], replica_excess: float | None = None, holdout_rate: float | None = None,
                   n_diverged: int = 0) -> dict[str, str | None]:
    """Each gate that is set -> None if it holds, else one sentence saying by how much it failed. A figure
    that is missing or NaN fails its gate: an audit that could not measure something must not pass.

    The membership gate reads the strongest attack (highest selection-free AUC) among those whose threat
    model applies to `release`, the figure the verdict line names.
    """
    gates: dict[str, str | None] = {}
    if n_diverged and any(v is not None for v in policy.__dict__.values()):
        gates["diverged_samples"] = f"{n_diverged} samples diverged (NaN/inf) and could not be audited: the gates cannot vouch for them"
    if policy.max_replica_rate is not None:
        if _bad(replica_rate):
            gates["max_replica_rate"] = "replica rate could not be measured (no finite samples)"
        elif replica_rate > policy.max_replica_rate:
            gates["max_replica_rate"] = (f"replica rate {replica_rate:.2%} exceeds the maximum {policy.max_replica_rate:.2%} "
                                         f"by {replica_rate - policy.max_replica_rate:.2%}")
        else:
            gates["max_replica_rate"] = None
    if policy.max_mia_auc is not None:
        _, a = strongest_attack(attacks, release)
        if a is None:
            gates["max_mia_auc"] = (f"max-mia-auc is set, but no membership attack of the released threat model ({release}) ran"
                                    + (": give --model" if release != "samples" else ""))
        elif _bad(a.get("auc")):
            gates["max_mia_auc"] = f"membership-inference AUC ({a['title']}) could not be measured"
        elif a["auc"] > policy.max_mia_auc:
            lo, hi = a["auc_ci95"]
            gates["max_mia_auc"] = (f"{RELEASE_WORDS[release].lower()}, the {a['title']} reaches AUC {a['auc']:.3f} "
                                    f"(95% CI {lo:.3f}-{hi:.3f}; threat model '{a['threat_model']}'{WHY[a['threat_model']]}), "
                                    f"above the maximum {policy.max_mia_auc:.3f} by {a['auc'] - policy.max_mia_auc:.3f}")
        else:
            gates["max_mia_auc"] = None
    if policy.replica_excess_level is not None:
        if _bad(replica_excess):
            gates["replica_excess_level"] = "replica excess over held-out images could not be measured"
        elif replica_excess < policy.replica_excess_level:
            gates["replica_excess_level"] = (
                f"samples replicate more often than held-out images do ({replica_rate:.2%} vs {holdout_rate:.2%}; "
                f"one-sided Fisher exact p = {replica_excess:.3g} < level {policy.replica_excess_level:g})")
        else:
            gates["replica_excess_level"] = None
    if policy.min_permutation_p is not None:
        if _bad(permutation_p):
            gates["min_permutation_p"] = "permutation-test p-value could not be measured"
        elif permutation_p < policy.min_permutation_p:
            gates["min_permutation_p"] = (f"permutation-test p-value {permutation_p:.4g} is below the minimum "
                                          f"{policy.min_permutation_p:.4g} by {policy.min_permutation_p - permutation_p:.4g}")
        else:
            gates["min_permutation_p"] = None
    return gates


WHY = {
    "samples": ": computed from the samples alone",
    "sampler": ": queries to the deployed denoiser",
    "weights": ": the released weights are the unprotected denoiser, which sampling-time protection does not change",
}
