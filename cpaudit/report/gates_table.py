"""The policy-gates table: one row (gate, measured, required, result) per gate the audit's policy set, in the order
the report and the JUnit file show them."""

from __future__ import annotations

from cpaudit.report.legacy import headline
from cpaudit.report.numbers import num, p_value, pct


def _result(failed: bool) -> str:
    return "FAIL" if failed else "pass"


def gate_rows(results: dict) -> list[list[str]]:
    """Every gate's row: replica rate, the release's membership gates, the replica and extraction excess tests,
    weaker threat models gated in the release's place, the baseline comparisons, then the permutation test."""
    pol = results.get("policy") or {}
    th = pol.get("thresholds") or {}
    gates = pol.get("gates") or {}
    nn = results["nn"]
    rows = _replica_rate_rows(nn, th)
    rows += _membership_rows(results, th, gates)
    levels = (pol.get("family") or {}).get("levels") or {}
    rows += _replica_excess_rows(nn, th, gates, levels)
    rows += _extraction_rows(results, th, gates, levels)
    rows += _weaker_threat_model_rows(results, th, gates)
    rows += _baseline_rows(gates)
    rows += _permutation_rows(results.get("permutation") or {}, th)
    return rows


def _replica_rate_rows(nn: dict, th: dict) -> list[list[str]]:
    """The replica-rate gate, judged here from the figures (a run without samples fails it)."""
    if th.get("max_replica_rate") is None:
        return []
    ok = nn["replica_rate"] is not None and nn["replica_rate"] <= th["max_replica_rate"] and nn["n_samples"] > 0
    return [
        ["replica rate (samples)", pct(nn["replica_rate"]), f"at most {pct(th['max_replica_rate'])}", _result(not ok)]
    ]


def _membership_rows(results: dict, th: dict, gates: dict) -> list[list[str]]:
    """The release's own membership gates (AUC ceiling, excess level) on its strongest attack, selection-adjusted;
    'n/a' where only weaker threat models' attacks ran, since then the gate read nothing of its own."""
    release = results.get("release", "samples")
    head = headline(results, release)
    if not ((results.get("threat_models") or {}).get(release) or {}).get("measured_by", True):
        head = None
    rows = []
    for key, required in (
        ("max_mia_auc", lambda v: f"at most {num(v)}"),
        ("mia_excess_level", lambda v: f"p at least {v:g}"),
    ):
        if th.get(key) is None:
            continue
        if head is None:
            label, measured = f"membership attack ({release}): none measured", "n/a"
        else:
            label = f"strongest attack, selection-adjusted ({release})"
            measured = num(head["auc"]) if key == "max_mia_auc" else _auc_and_p(head)
        rows.append([label, measured, required(th[key]), _result(gates.get(key) is not None)])
    return rows


def _auc_and_p(head: dict) -> str:
    return f"AUC {num(head['auc'])}, p {p_value(head['p_value'], head.get('n_null'))}"


def _replica_excess_rows(nn: dict, th: dict, gates: dict, levels: dict) -> list[list[str]]:
    """The replica excess test at its family-adjusted level. Audits before schema 5 gated the per-sample rate
    (replica_excess_p); since, the candidate images reached."""
    if th.get("replica_excess_level") is None:
        return []
    level = levels.get("replica_excess_level", th["replica_excess_level"])
    label, v = (
        ("training images reached above held-out images, Fisher p (samples)", nn["reach_excess_p"])
        if "reach_excess_p" in nn
        else ("replica excess over held-out images, Fisher p (samples)", nn.get("replica_excess_p"))
    )
    return [[label, p_value(v, None), f"at least {level:g}", _result(gates.get("replica_excess_level") is not None)]]


def _extraction_rows(results: dict, th: dict, gates: dict, levels: dict) -> list[list[str]]:
    """Prompted extraction's excess test, where a text-to-image audit gated it."""
    ext = (results.get("prompted_extraction") or {}).get("captions")
    if not (ext and "extraction_excess_level" in gates):
        return []
    level = levels.get("extraction_excess_level", th["replica_excess_level"])
    return [
        [
            "prompted extraction over held-out captions, Fisher p (samples)",
            p_value(ext["fisher_p"], None),
            f"at least {level:g}",
            _result(gates["extraction_excess_level"] is not None),
        ]
    ]


def _weaker_threat_model_rows(results: dict, th: dict, gates: dict) -> list[list[str]]:
    """Gates keyed 'gate:threat model': a weaker threat model gated where the release was unmeasured."""
    rows = []
    for gate, message in gates.items():
        if ":" not in gate:
            continue
        key, tm = gate.split(":", 1)
        head = headline(results, tm)
        required = f"at most {num(th[key])}" if key == "max_mia_auc" else f"p at least {th[key]:g}"
        measured = "n/a" if head is None else _auc_and_p(head)
        rows.append([f"strongest attack, selection-adjusted ({tm})", measured, required, _result(message is not None)])
    return rows


def _baseline_rows(gates: dict) -> list[list[str]]:
    """The --baseline gates: within the baseline's interval, or failed (the verdict says by how much)."""
    rows = []
    for gate, label in (
        ("baseline_replica_rate", "replica rate against the baseline"),
        ("baseline_mia_auc", "membership AUC against the baseline"),
    ):
        if gate in gates:
            failed = gates[gate] is not None
            measured = "see verdict" if failed else "within"
            rows.append([label, measured, "within the baseline's 95% interval", _result(failed)])
    return rows


def _permutation_rows(perm: dict, th: dict) -> list[list[str]]:
    """The permutation test's gate, judged here from its p-value (a missing test fails it)."""
    if th.get("min_permutation_p") is None:
        return []
    ok = perm.get("p_value", 0) >= th["min_permutation_p"]
    measured = p_value(perm.get("p_value"), perm.get("n_permutations"))
    return [["permutation-test p-value (samples)", measured, f"at least {th['min_permutation_p']:g}", _result(not ok)]]
