"""The results.json files the report tests render, one per kind of audit and schema version, and the renderers
as `cpaudit report` calls them (figures named, not drawn: the tests read text, and matplotlib is slow)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from cpaudit.report.content import build_document
from cpaudit.report.html import render_html
from cpaudit.report.markdown import render_markdown

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

# Kind of audit -> its results.json. The committed demos are schema 5; the fixtures are files cpaudit wrote:
# schema 2 and 4 are the demo's and the text demo's unprotected audits as committed then (git show
# 0c19565^:reports/demo/unprotected/results.json, 77c8605^:reports/demo-text/unprotected/results.json), schema 3
# the demo's before the re-audit; the class-conditional and diffusers UNet2DModel audits are tiny audits
# (train-diffusion digits --classes --n-members 20 --steps 3, and a random 8x8 UNet2DModel with 16 members).
FILES = {
    "pixel": ROOT / "reports" / "demo" / "unprotected" / "results.json",
    "pixel-cpsample": ROOT / "reports" / "demo" / "cpsample" / "results.json",
    "pixel-dp-sgd": ROOT / "reports" / "demo" / "dp-sgd" / "results.json",
    "text": ROOT / "reports" / "demo-text" / "unprotected" / "results.json",
    "text-cpsample": ROOT / "reports" / "demo-text" / "cpsample-learned-classifier" / "results.json",
    "class": FIXTURES / "results_class_conditional.json",
    "diffusers": FIXTURES / "results_diffusers_unet.json",
    "schema2": FIXTURES / "results_schema2_demo_unprotected.json",
    "schema3": FIXTURES / "results_schema3_demo_unprotected.json",
    "schema4": FIXTURES / "results_schema4_text_demo_unprotected.json",
}


def results(kind: str) -> dict:
    return json.loads(FILES[kind].read_text())


def figures_beside(kind: str) -> set[str]:
    """The figures a committed report has (its figures/ folder); none for a fixture."""
    return {p.stem for p in (FILES[kind].parent / "figures").glob("*.png")}


def markdown(r: dict, figures: set[str] = frozenset()) -> str:
    return render_markdown(build_document(r), set(figures))


def html_text(r: dict) -> str:
    """The HTML report with its tags dropped and entities read back, so that sentences compare as written."""
    page = render_html(build_document(r), {}).replace("</td><td", "</td> | <td").replace("</th><th", "</th> | <th")
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
