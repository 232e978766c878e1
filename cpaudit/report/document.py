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


@dataclass
class Document:
    title: str
    verdict: str
    passed: bool | None  # None: no gate was set
    sections: list[Section]
