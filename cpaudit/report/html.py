"""Render a Document as one self-contained HTML file: inline CSS, figures as data URIs, no scripts,
no network. Every string is escaped, since file names, ids and options come from the user."""

from __future__ import annotations

import base64
from html import escape

from cpaudit.report.document import Document, Figure, Para, Table

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 0 auto;
       padding: 1rem; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.6rem; margin: 0.2rem 0 0.8rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.verdict { padding: 0.8rem 1rem; border-radius: 6px; font-weight: 600; }
.pass { background: #e6f4ea; border: 1px solid #1b9e77; }
.fail { background: #fdecea; border: 1px solid #c0392b; }
.none { background: #f3f3f3; border: 1px solid #999; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; word-break: break-word; }
th { background: #f6f6f6; }
td.FAIL { color: #c0392b; font-weight: 700; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; image-rendering: pixelated; }
figcaption { font-size: 0.85rem; color: #555; }
@media print { body { max-width: none; font-size: 11pt; } h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""


def render_html(doc: Document, figures: dict[str, bytes]) -> str:
    cls = {True: "pass", False: "fail", None: "none"}[doc.passed]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{escape(doc.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(doc.title)}</h1>",
        f'<p class="verdict {cls}">{escape(doc.verdict)}</p>',
    ]
    for section in doc.sections:
        out.append(f"<h2>{escape(section.title)}</h2>")
        for item in section.items:
            if isinstance(item, Para):
                out.append(f"<p>{escape(item.text)}</p>")
            elif isinstance(item, Table):
                head = "".join(f"<th>{escape(h)}</th>" for h in item.header)
                body = "".join(
                    "<tr>"
                    + "".join(f'<td class="{escape(c) if c == "FAIL" else ""}">{escape(c)}</td>' for c in row)
                    + "</tr>"
                    for row in item.rows
                )
                out.append(
                    f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
                )
            elif isinstance(item, Figure) and item.name in figures:
                data = base64.b64encode(figures[item.name]).decode("ascii")
                out.append(
                    f'<figure><img src="data:image/png;base64,{data}" alt="{escape(item.caption)}">'
                    f"<figcaption>{escape(item.caption)}</figcaption></figure>"
                )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
