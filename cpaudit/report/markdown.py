"""Render a Document as Markdown; figures are files under figures/ referenced relatively."""

from __future__ import annotations

import re

from cpaudit.report.document import STATUS_ICONS, STATUS_WORDS, Document, Figure, Para, Table

# Only a "<" that could open an HTML tag (<b, </, <!, <?) is read as HTML on code-hosting sites; it gets
# Markdown's backslash escape, so "p < 0.05" stays as written in the file and on the page (no "&lt;").
TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _cell(text: str) -> str:
    # Pipes and newlines would break the table.
    return _text(text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " "))


def _text(text: str) -> str:
    return TAG_START.sub(r"\\<", text)


def _first_screen(doc: Document, figures: set[str]) -> list[str]:
    """The verdict cards as a short table, the headline figures as a list and the most-copied pairs, in the
    order the HTML report shows them."""
    pictures: list[str] = []
    for f in doc.lead_figures:
        if f.name in figures:
            pictures += [f"![{_cell(f.caption)}](figures/{f.name}.png)", "", f"*{_text(f.caption)}*", ""]
    lines: list[str] = pictures if doc.picture_first else []
    if doc.cards:
        lines += ["| verdict for | result | why |", "|---|---|---|"]
        for c in doc.cards:
            scope = f" ({c.scope})" if c.scope else ""
            status = f"{STATUS_ICONS[c.status]} {STATUS_WORDS[c.status]}"
            lines.append(f"| {_cell(c.title + scope)} | {status} | {_cell(c.reason)} |")
        lines.append("")
    lines += [f"- **{_text(h.value)}** {_text(h.label)} ({_text(h.detail)})" for h in doc.headlines]
    if doc.headlines:
        lines.append("")
    return lines + ([] if doc.picture_first else pictures)


def render_markdown(doc: Document, figures: set[str]) -> str:
    lines = [f"# {_text(doc.title)}", "", f"**{_text(doc.verdict)}**", "", *_first_screen(doc, figures)]
    for section in doc.sections:
        lines += [f"## {_text(section.title)}", ""]
        for item in section.items:
            if isinstance(item, Para):
                lines += [_text(item.text), ""]
            elif isinstance(item, Table):
                lines.append("| " + " | ".join(_cell(h) for h in item.header) + " |")
                lines.append("|" + "---|" * len(item.header))
                lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in item.rows]
                lines.append("")
            elif isinstance(item, Figure) and item.name in figures:
                lines += [f"![{_cell(item.caption)}](figures/{item.name}.png)", "", f"*{_text(item.caption)}*", ""]
    return "\n".join(lines).rstrip() + "\n"
