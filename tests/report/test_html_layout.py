"""The HTML report's layout rules, read from the page and its one stylesheet: tables never split a word and keep
each figure on one line inside a sideways scroll container; long detail sits in <details>; a print stylesheet
puts the verdict and headline figures on page 1, opens the details and never cuts a row; still one
self-contained file. The comparison opens with its privacy-against-quality picture."""

import json
import re

from cpaudit.report.compare import compare_document
from cpaudit.report.compare_figure import compare_figures
from cpaudit.report.content import build_document
from cpaudit.report.html import render_html
from cpaudit.report.html_style import CSS
from tests.report.reports import ROOT, results


def _print_rules() -> str:
    return CSS.split("@media print {", 1)[1]


def test_no_rule_breaks_a_word():
    assert "break-word" not in CSS and "break-all" not in CSS
    assert re.search(r"th, td \{[^}]*word-break: normal; overflow-wrap: normal", CSS)
    assert re.search(r"\.table-wrap \{ overflow-x: auto;", CSS)


def test_figures_in_tables_stay_on_one_line():
    page = render_html(build_document(results("pixel")), {})
    assert ".n { white-space: nowrap; }" in CSS
    assert '<td><span class="n">0.996</span></td><td><span class="n">0.985-1.000</span></td>' in page
    assert '<span class="n">≤ 1/201</span>' in page  # "≤" never left at a line's end
    tables = page.count("<table>")
    assert tables == page.count('<div class="table-wrap"><table>') and tables >= 5


def test_long_sections_are_collapsed_and_the_short_ones_open():
    page = render_html(build_document(results("pixel")), {})
    collapsed = re.findall(r"<details><summary><h2>([^<]+)</h2></summary>", page)
    assert collapsed == [
        "Setup",
        "Samples published (threat model: samples)",
        "Sampler queried (threat model: sampler): not deployed, shown for reference",
        "Weights released (threat model: weights): not deployed, shown for reference",
        "How to read this report",
    ]
    main = page.split("<main>", 1)[1]
    assert re.findall(r"\n<h2>([^<]+)</h2>", main) == ["Summary", "Policy gates", "Quality"]


def test_the_print_stylesheet_puts_the_verdict_on_page_1_and_opens_every_section():
    rules = _print_rules()
    assert "header { break-after: page; }" in rules
    assert "details::details-content { content-visibility: visible; display: block; }" in rules
    assert re.search(r"\.cards, \.headlines, [^{]*tr \{ break-inside: avoid; \}", rules)
    assert ".table-wrap { overflow: visible; }" in rules and "table { width: 100%;" in rules
    page = render_html(build_document(results("pixel")), {})
    assert page.index('<p class="verdict fail">') < page.index('class="headlines"') < page.index("</header>")


def test_still_one_self_contained_file():
    page = render_html(build_document(results("text")), {"pairs": b"\x89PNG"})
    assert "Content-Security-Policy" in page and "default-src 'none'; img-src data:" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page and "@import" not in page


def test_the_comparison_opens_with_its_picture_marked_pass_and_fail():
    runs = [
        (f, json.loads((ROOT / "reports" / "demo" / f / "results.json").read_text())) for f in ("unprotected", "dp-sgd")
    ]
    doc = compare_document(runs)
    assert [f.name for f in doc.lead_figures] == ["privacy_quality"] and doc.picture_first
    assert "Circle: passed its gates; cross: failed" in doc.lead_figures[0].caption
    assert [(c.title, c.status) for c in doc.cards] == [("unprotected", "failed"), ("dp-sgd", "passed")]
    figures = compare_figures(runs)
    assert figures["privacy_quality"].startswith(b"\x89PNG")
    page = render_html(doc, figures)
    assert (
        page.index('<figure><img src="data:image/png;base64,')
        < page.index('class="verdict-card')
        < page.index("<h2>Key figures by threat model</h2>")
    )
    assert compare_figures([(label, {**r, "quality": None}) for label, r in runs]) == {}  # no FID: no picture
