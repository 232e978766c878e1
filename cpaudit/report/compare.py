"""Side-by-side comparison of several audits (unprotected vs protected vs baselines)."""

from __future__ import annotations

from cpaudit.report.content import num, pct
from cpaudit.report.document import Document, Para, Section, Table


def _key_figures(r: dict) -> dict[str, float | None]:
    mia = r.get("mia") or {}
    prot = mia.get("protected") or {}
    return {
        "replica rate": r["nn"]["replica_rate"],
        "median nearest-member similarity": r["nn"].get("median_nearest_member_similarity"),
        "permutation p": (r.get("permutation") or {}).get("p_value"),
        "MIA AUC (attacker's best)": mia.get("attacker_auc"),
        "MIA AUC, protected denoiser": prot.get("attacker_auc"),
        f"FID ({(r.get('quality') or {}).get('features', '?')})": (r.get("quality") or {}).get("fid"),
        "guidance fired (sample-steps)": (r.get("protection") or {}).get("fired_fraction"),
        "DP epsilon": (r.get("privacy") or {}).get("dp_epsilon"),
        "extra samples drawn (rejection)": ((r.get("setup") or {}).get("sample_run") or {}).get("rejection", {}).get("extra_samples"),
    }


def _fmt(name: str, v: float | None) -> str:
    if v is None:
        return "-"
    if name in ("replica rate", "guidance fired (sample-steps)"):
        return pct(v)
    if name == "permutation p":
        return f"{v:.3g}"
    if name.startswith("extra samples"):
        return f"{int(v)}"
    return num(v, 2 if "FID" in name or "epsilon" in name else 3)


def _change(name: str, v: float | None, base: float | None) -> str:
    if v is None or base is None or name.startswith("extra samples"):
        return ""
    d = v - base
    return f" ({'+' if d >= 0 else ''}{100 * d:.1f} pts)" if name in ("replica rate", "guidance fired (sample-steps)") else f" ({'+' if d >= 0 else ''}{d:.3g})"


def compare_document(runs: list[tuple[str, dict]], links: list[str] | None = None) -> Document:
    names = list(_key_figures(runs[0][1]).keys())
    figures = [(label, _key_figures(r)) for label, r in runs]
    base = figures[0][1]
    rows = []
    for name in names:
        if all(f[name] is None for _, f in figures):
            continue
        rows.append([name] + [_fmt(name, f[name]) + ("" if i == 0 else _change(name, f[name], base[name]))
                              for i, (_, f) in enumerate(figures)])
    verdicts = []
    for label, r in runs:
        pol = r.get("policy") or {}
        has_gate = any(v is not None for v in (pol.get("thresholds") or {}).values())
        verdicts.append([label, ("passed" if pol.get("passed") else "FAIL") if has_gate else "no gate set",
                         "; ".join(pol.get("failures", [])) or "-"])
    any_fail = any(v[1] == "FAIL" for v in verdicts)
    verdict = (f"{len(runs)} runs compared; changes are against the first ({runs[0][0]})."
               + (" At least one run FAILED a policy gate." if any_fail else ""))
    sections = [
        Section("Key figures", [Table(["figure"] + [label for label, _ in runs], rows),
                                Para("Changes in brackets are against the first run; percentage points for rates.")]),
        Section("Policy", [Table(["run", "result", "failures"], verdicts)]),
    ]
    if links:
        sections.append(Section("Full reports", [Table(["run", "report"], [[label, link] for (label, _), link in zip(runs, links)])]))
    return Document("cpaudit comparison", verdict, False if any_fail else None, sections)
