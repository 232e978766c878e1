"""The verdict line: what the gates found, in words that name the threat model that was released."""

from __future__ import annotations

from cpaudit.core.threat_models import RELEASE_WORDS


def verdict_sentence(
    release: str, failures: list[str], n_gates: int, strongest: dict | None, report_only: bool = False
) -> str:
    """One sentence a reviewer can read without the rest of the report; it leads with what failed, and the
    figure it names is the gated one (the released threat model's strongest attack, selection-adjusted)."""
    words = RELEASE_WORDS[release]
    figure = ""
    if strongest is not None:
        lo, hi = strongest["auc_ci95"]
        blo, bhi = strongest["chance_band95"]
        figure = (
            f"the {strongest['title']} reaches AUC {strongest['auc']:.3f} "
            f"(95% CI {lo:.3f}-{hi:.3f}; chance band {blo:.3f}-{bhi:.3f})"
        )
    if failures:
        return f"{words}: FAILED: " + "; ".join(failures) + "."
    if report_only:
        return f"{words}: report only, no gate applied (--report-only)" + (f"; {figure}." if figure else ".")
    if n_gates == 0:
        return f"{words}: no policy gate was set" + (f"; {figure}." if figure else ".")
    held = "the one policy gate holds" if n_gates == 1 else f"all {n_gates} policy gates hold"
    return f"{words}: PASSED, {held}" + (f"; {figure}." if figure else ".")
