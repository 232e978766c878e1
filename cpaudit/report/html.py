"""Render a Document as one self-contained HTML file: inline CSS, figures as data URIs, no scripts,
no network. Every string is escaped, since file names, ids and options come from the user.

The first screen answers "can I release this?" (verdict cards, headline figures, the most-copied pairs); long
detail sits in <details> that print expanded. Tables scroll sideways inside their own container, never break a
word, and keep each figure on one line."""

from __future__ import annotations

import base64
import re
from html import escape

from cpaudit.report.document import (
    STATUS_ICONS,
    STATUS_WORDS,
    Document,
    Figure,
    Headline,
    Item,
    Para,
    Section,
    Table,
    VerdictCard,
)
from cpaudit.report.html_style import CSS

STATUS_CLASS = {"passed": "pass", "failed": "fail", "not measured": "none", "not gated": "none"}
# A whitespace-free token holding a digit ("0.905-0.998", "78.4%", "(301/384)"), with a leading "≤ ": a figure
# that must stay on one line (a browser would break it after its hyphen).
FIGURE = re.compile(r"(?:≤ )?[^\s]*\d[^\s]*")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _figure_spans(text: str) -> str:
    """A table cell's text, escaped, with each figure in a span that never wraps."""
    out, last = [], 0
    for m in FIGURE.finditer(text):
        out += [escape(text[last : m.start()]), f'<span class="n">{escape(m.group())}</span>']
        last = m.end()
    return "".join(out) + escape(text[last:])


def _cell(text: str) -> str:
    """A failed gate's result cell is marked FAIL in bold red as well as in words."""
    return f'<td class="FAIL">{escape(text)}</td>' if text == "FAIL" else f"<td>{_figure_spans(text)}</td>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in table.rows)
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _figure(item: Figure, figures: dict[str, bytes]) -> str:
    data = base64.b64encode(figures[item.name]).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{escape(item.caption)}">'
        f"<figcaption>{escape(item.caption)}</figcaption></figure>"
    )


def _item(item: Item, figures: dict[str, bytes]) -> str | None:
    if isinstance(item, Para):
        return f"<p>{escape(item.text)}</p>"
    if isinstance(item, Table):
        return _table(item)
    if isinstance(item, Figure) and item.name in figures:
        return _figure(item, figures)
    return None


def _card(card: VerdictCard) -> str:
    scope = f'<span class="scope">{escape(card.scope)}</span>' if card.scope else ""
    return (
        f'<section class="verdict-card {STATUS_CLASS[card.status]}" aria-label="{escape(card.title)}: '
        f'{escape(STATUS_WORDS[card.status])}"><p class="status"><span class="icon" aria-hidden="true">'
        f"{STATUS_ICONS[card.status]}</span> {escape(STATUS_WORDS[card.status])}</p>"
        f"<h2>{escape(card.title)}{scope}</h2><p>{escape(card.reason)}</p></section>"
    )


def _headline(h: Headline) -> str:
    return (
        f'<div class="headline"><span class="big">{escape(h.value)}</span> <span class="what">{escape(h.label)}'
        f'</span> <span class="detail">{_figure_spans(h.detail)}</span></div>'
    )


def _section(section: Section, figures: dict[str, bytes]) -> list[str]:
    body = [x for x in (_item(i, figures) for i in section.items) if x is not None]
    if section.collapsed:
        return [f"<details><summary><h2>{escape(section.title)}</h2></summary>", *body, "</details>"]
    return [f"<h2>{escape(section.title)}</h2>", *body]


def _first_screen(doc: Document, figures: dict[str, bytes]) -> list[str]:
    cls = {True: "pass", False: "fail", None: "none"}[doc.passed]
    pictures = [_figure(f, figures) for f in doc.lead_figures if f.name in figures]
    out = [f'<p class="verdict {cls}">{escape(doc.verdict)}</p>', *(pictures if doc.picture_first else [])]
    if doc.cards:
        out.append('<div class="cards">' + "".join(_card(c) for c in doc.cards) + "</div>")
    if doc.headlines:
        out.append('<div class="headlines">' + "".join(_headline(h) for h in doc.headlines) + "</div>")
    return out + ([] if doc.picture_first else pictures)


def render_html(doc: Document, figures: dict[str, bytes]) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{escape(doc.title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{escape(doc.title)}</h1>",
        *_first_screen(doc, figures),
        "</header><main>",
    ]
    for section in doc.sections:
        out += _section(section, figures)
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"
