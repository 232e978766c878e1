"""The comparison report's opening picture: each run a point on privacy (its release's strongest attack, and
beside each name the share of samples or captions that copy a training image) against quality (FID as a ratio to the first
run's), marked passed or failed by shape, colour and legend."""

from __future__ import annotations

from cpaudit.report import plots
from cpaudit.report.legacy import headline
from cpaudit.report.numbers import pct

CAPTION = (
    "Privacy against quality, one point per run: up, how often the strongest attack on the release tells training "
    "images from unseen ones (0.5, dotted, is guessing); beside each name, the share of {what}; across, FID as a ratio to the first "
    "run's. Circle: passed its gates; cross: failed; square: no gate set."
)


def run_result(r: dict) -> str:
    """'passed', 'failed' or 'not gated': a run's gates as the comparison marks them."""
    pol = r.get("policy") or {}
    if pol.get("report_only") or not any(v is not None for v in (pol.get("thresholds") or {}).values()):
        return "not gated"
    return "passed" if pol.get("passed") else "failed"


def _point(label: str, r: dict, base_fid: float | None) -> dict:
    head = headline(r, r.get("release", "samples"))
    fid = (r.get("quality") or {}).get("fid")
    ext = (r.get("prompted_extraction") or {}).get("captions")
    copies = ext["rate"] if ext else r["nn"]["replica_rate"]
    return {
        "label": f"{label}: {pct(copies)}",
        "result": run_result(r),
        "fid_ratio": fid / base_fid if fid is not None and base_fid else None,
        "auc": None if head is None else head["auc"],
    }


def privacy_quality_caption(runs: list[tuple[str, dict]]) -> str:
    text = any((r.get("prompted_extraction") or {}).get("captions") for _, r in runs)
    what = (
        "training captions whose prompted samples reproduce their image"
        if text
        else "samples that copy a training image"
    )
    return CAPTION.format(what=what)


def compare_figures(runs: list[tuple[str, dict]]) -> dict[str, bytes]:
    """{"privacy_quality": PNG}, or nothing where the first run has no FID to take ratios to."""
    base_fid = (runs[0][1].get("quality") or {}).get("fid")
    if not base_fid:
        return {}
    points = [_point(label, r, base_fid) for label, r in runs]
    return {"privacy_quality": plots.privacy_quality(points, "strongest attack's AUC (0.5 = guessing)")}
