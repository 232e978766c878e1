"""The privacy/quality frontier of issue 39 in Markdown, as docs/frontier.md shows it (tests/test_readme_figures.py
keeps them equal): every evaluation point of a pixel sweep (`cpaudit tune --reference`) with FID beside the
figures that do not reward copying (precision, recall, authenticity: auditing/fidelity.py) and the reference
model's row, and the goal sentences of both frontiers, measured."""

from __future__ import annotations

PIXEL_GOAL_AUC = 0.65  # sample-only AUC at most this, replicas at the base rate, within PIXEL_GOAL_FID x FID
PIXEL_GOAL_FID = 2.0
TEXT_GOAL_FID = 1.5  # every samples gate passes within this multiple of the unprotected FID (or the reference's)
EXCESS_LEVEL = 0.05


def copy_excess_p(point: dict) -> float:
    """The replica gate's p-value of a point (auditing/frontier.py copy_excess_p; the report reads, not imports, the
    auditing package)."""
    return point.get("reach_excess_p", point["replica_excess_p"])


def _share(fidelity: dict, key: str) -> str:
    lo, hi = fidelity[f"{key}_ci95"]
    return f"{fidelity[key]:.2f} ({lo:.2f}-{hi:.2f})"


def _row(defence: str, label: str, p: dict, none_fid: float, ref_fid: float) -> str:
    lo, hi = p["sample_only_auc_ci95"]
    f = p["fidelity"]
    return (
        f"| {defence} | {label} | {p['replicas']} of {p['n_samples']} | {p['sample_only_auc']:.3f} [{lo:.3f}, "
        f"{hi:.3f}] | {p['fid'] / none_fid:.2f} | {p['fid'] / ref_fid:.2f} | {_share(f, 'precision')} | "
        f"{_share(f, 'recall')} | {_share(f, 'authenticity')} |"
    )


def pixel_frontier_markdown(record: dict) -> str:
    """The unprotected point, the reference model, then every evaluation point of the sweep."""
    points, ref = record["evaluation"], record["reference"]["evaluation"]
    none_fid = points[0]["fid"]
    lines = [
        "| defence | setting | replicas | sample-only AUC (95% CI) | FID ratio | FID x reference | precision | recall "
        "| authenticity |",
        "|---|---|---|---|---|---|---|---|---|",
        _row("none", "unprotected", points[0], none_fid, ref["fid"]),
        _row("reference model", "trained on disjoint images, unprotected", ref, none_fid, ref["fid"]),
    ]
    lines += [_row(p["defence"], p["label"], p, none_fid, ref["fid"]) for p in points[1:]]
    return "\n".join(lines)


def pixel_goal_sentence(record: dict) -> str:
    """Which evaluation points reach the pixel goal (sample-only AUC <= 0.65, replicas at the base rate, FID within
    2x), and the reference model's own figures, which say what a model that never saw the members gives."""
    points, ref = record["evaluation"], record["reference"]["evaluation"]
    none_fid = points[0]["fid"]
    met = [
        p
        for p in points[1:]
        if p["sample_only_auc"] <= PIXEL_GOAL_AUC
        and copy_excess_p(p) >= EXCESS_LEVEL
        and p["fid"] <= PIXEL_GOAL_FID * none_fid
    ]
    at_base = [p for p in points[1:] if copy_excess_p(p) >= EXCESS_LEVEL and p["fid"] <= PIXEL_GOAL_FID * none_fid]
    best = min(at_base, key=lambda p: p["sample_only_auc"], default=None)
    head = (
        "Reached by " + ", ".join(f"{p['defence']} ({p['label']})" for p in met) + "."
        if met
        else f"No point reaches a sample-only AUC of {PIXEL_GOAL_AUC} with replicas at the base rate within "
        f"{PIXEL_GOAL_FID:g}x the unprotected FID"
        + (
            f"; the lowest AUC there is {best['defence']} ({best['label']}): {best['sample_only_auc']:.3f} at "
            f"{best['fid'] / none_fid:.2f}x."
            if best is not None
            else "."
        )
    )
    return (
        f"{head} The reference model, which never saw the members, reads sample-only AUC "
        f"{ref['sample_only_auc']:.3f} (95% CI {ref['sample_only_auc_ci95'][0]:.3f}-{ref['sample_only_auc_ci95'][1]:.3f}; "
        f"chance band {ref['sample_only_chance_band95'][0]:.3f}-{ref['sample_only_chance_band95'][1]:.3f}), "
        f"{ref['replicas']} replicas of {ref['n_samples']}, FID {ref['fid'] / none_fid:.2f}x unprotected and "
        f"authenticity {ref['fidelity']['authenticity']:.2f}."
    )


def text_goal_sentence(record: dict) -> str:
    """Which defences of a text frontier (text_demo.json) pass every samples gate within 1.5x the unprotected FID
    or at the reference model's quality, and what the reference model itself reads."""
    rows = record["table"]
    ref = next((r for r in rows if r["defence"].startswith("reference model")), None)
    ok = [
        r
        for r in rows[1:]
        if r is not ref and r["passed"] and (r["fid_ratio"] <= TEXT_GOAL_FID or r.get("fid_ratio_reference", 2) <= 1)
    ]
    passed = [r for r in rows[1:] if r is not ref and r["passed"]]
    parts = [
        "Every samples gate holds within "
        f"{TEXT_GOAL_FID:g}x the unprotected FID (or at the reference model's) for "
        + (", ".join(f"{r['defence']} ({r['fid_ratio']:.2f}x)" for r in ok) if ok else "no defence")
        + "."
    ]
    if passed and not ok:
        cheapest = min(passed, key=lambda r: r["fid_ratio"])
        parts.append(f"The cheapest that passes them is {cheapest['defence']} at {cheapest['fid_ratio']:.2f}x.")
    if ref is not None:
        parts.append(
            f"The reference model reads extraction AUC {ref['extraction_auc']:.3f} at {ref['fid_ratio']:.2f}x the "
            f"unprotected FID, authenticity {ref['authenticity']:.2f}, and "
            + ("passes" if ref["passed"] else "fails")
            + " the samples gates."
        )
    return " ".join(parts)
