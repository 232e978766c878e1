"""mkdocs hook: a `|` written `\\|` inside a code span of a table row, as GitHub-flavoured Markdown requires (the
docs pages are read on GitHub too), becomes a plain `|` for Python-Markdown, whose tables never split a row inside
a code span and which would otherwise print the backslash."""

from __future__ import annotations

import re

CODE_SPAN = re.compile(r"`[^`\n]*`")


def unescape_table_pipes(markdown: str) -> str:
    """Every table row's code spans with `\\|` as `|`; every other line as it is."""
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if line.lstrip().startswith("|"):
            lines[i] = CODE_SPAN.sub(lambda m: m.group(0).replace("\\|", "|"), line)
    return "\n".join(lines)


def on_page_markdown(markdown: str, **_kwargs: object) -> str:
    return unescape_table_pipes(markdown)
