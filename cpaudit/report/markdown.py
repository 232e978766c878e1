"""Render a Document as Markdown; figures are files under figures/ referenced relatively."""

from __future__ import annotations

import re

from cpaudit.report.document import Document, Figure, Para, Table

# Only a "<" that could open an HTML tag (<b, </, <!, <?) is read as HTML on code-hosting sites; it gets
# Markdown's backslash escape, so "p < 0.05" stays as written in the file and on the page (no "&lt;").
TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _cell(text: str) -> str:
    # Pipes and newlines would break the table.
    return _text(text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " "))


def _text(text: str) -> str:
    return TAG_START.sub(r"\\<", text)


def render_markdown(doc: Document, figures: set[str]) -> str:
    lines = [f"# {_text(doc.title)}", "", f"**{_text(doc.verdict)}**", ""]
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
