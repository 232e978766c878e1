"""`cpaudit report`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cpaudit.cli.common import info, state, user_errors
from cpaudit.cli.options import Quiet
from cpaudit.pipelines.report import report


def report_cmd(
    results: List[Path] = typer.Argument(..., help="One results.json to re-render, or several to compare."),
    out: Path = typer.Option(..., "--out", help="Folder for report.md, report.html and figures/."),
    label: Optional[List[str]] = typer.Option(None, "--label", help="A name per run, in order (default: its folder name)."),
    quiet: bool = Quiet,
) -> None:
    """Render an audit report, or compare several audits side by side.

    Example: cpaudit report runs/audit-plain/results.json runs/audit-protected/results.json --out runs/compare
    """
    state.quiet = state.quiet or quiet
    with user_errors():
        r = report(results, out, labels=label or None)
    info(f"-> {r.html} and {r.markdown}")
