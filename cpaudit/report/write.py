"""Write a report Document as report.md, report.html and figures/*.png: what every report command shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cpaudit.io_utils import write_bytes
from cpaudit.report.document import Document
from cpaudit.report.html import render_html
from cpaudit.report.markdown import render_markdown


@dataclass
class ReportResult:
    markdown: Path
    html: Path
    figures: list[Path]


def write_report(out: Path, doc: Document, figures: dict[str, bytes]) -> ReportResult:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in figures.items():
        p = out / "figures" / f"{name}.png"
        write_bytes(p, data)
        paths.append(p)
    write_bytes(out / "report.md", render_markdown(doc, set(figures)).encode())
    write_bytes(out / "report.html", render_html(doc, figures).encode())
    return ReportResult(out / "report.md", out / "report.html", paths)
