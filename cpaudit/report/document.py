"""The report's content as plain data (paragraphs, tables, figures), independent of its format.

The Markdown and HTML renderers both walk this structure, so the two reports always say the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Para:
    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    name: str  # file stem under figures/, key into the PNG dict
    caption: str


Item = Para | Table | Figure


@dataclass
class Section:
    title: str
    items: list[Item] = field(default_factory=list)
    collapsed: bool = False  # HTML: a closed <details> (opened when printed), for long detail a reader may skip


@dataclass
class VerdictCard:
    """One threat model's answer to "can I release this?", on the report's first screen: a status a reader sees
    in words and an icon as well as colour, and the one plain sentence that decided it."""

    title: str  # "Samples published"
    status: str  # one of STATUS_WORDS
    reason: str
    scope: str = ""  # "this release", "not released: for reference"


STATUS_WORDS = {"passed": "PASSED", "failed": "FAILED", "not measured": "NOT MEASURED", "not gated": "NO GATE SET"}
STATUS_ICONS = {"passed": "✓", "failed": "✗", "not measured": "?", "not gated": "–"}


@dataclass
class Headline:
    """A headline figure in large type: its value, what it counts, and its interval or counts in small type."""

    value: str
    label: str
    detail: str


@dataclass
class Document:
    title: str
    verdict: str  # the one sentence a reader acts on, first under the title
    passed: bool | None  # None: no gate was set
    sections: list[Section]
    cards: list[VerdictCard] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    lead_figures: list[Figure] = field(default_factory=list)  # pictures on the first screen (the most-copied pairs)
    picture_first: bool = False  # the comparison opens with its picture, the cards after it
