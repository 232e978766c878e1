"""Policy gates: thresholds a CI pipeline enforces on an audit's results."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from cpaudit.errors import InputError


@dataclass(frozen=True)
class Policy:
    max_replica_rate: float | None = None
    max_mia_auc: float | None = None  # compared with the attacker's AUC, max(AUC, 1 - AUC), best over t
    min_permutation_p: float | None = None

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


def evaluate(policy: Policy, *, replica_rate: float, mia_auc: float | None, mia_label: str,
             permutation_p: float | None) -> list[str]:
    """Return one sentence per failed gate, saying by how much it failed."""
    failures = []
    if policy.max_replica_rate is not None and replica_rate > policy.max_replica_rate:
        failures.append(f"replica rate {replica_rate:.2%} exceeds the maximum {policy.max_replica_rate:.2%} "
                        f"by {replica_rate - policy.max_replica_rate:.2%}")
    if policy.max_mia_auc is not None and mia_auc is not None and mia_auc > policy.max_mia_auc:
        failures.append(f"membership-inference AUC ({mia_label}) {mia_auc:.3f} exceeds the maximum "
                        f"{policy.max_mia_auc:.3f} by {mia_auc - policy.max_mia_auc:.3f}")
    if policy.min_permutation_p is not None and permutation_p is not None and permutation_p < policy.min_permutation_p:
        failures.append(f"permutation-test p-value {permutation_p:.4g} is below the minimum {policy.min_permutation_p:.4g} "
                        f"by {policy.min_permutation_p - permutation_p:.4g}")
    return failures
