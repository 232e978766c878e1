"""The report's quality section (cpaudit/report/quality_section.py): precision, recall and authenticity with
their intervals and what each answers, and the pooled 8x8 block, in Markdown and HTML alike."""

import html as html_text
import math
import re

from cpaudit.report.document import Para, Table
from cpaudit.report.html import render_html
from cpaudit.report.markdown import render_markdown
from cpaudit.report.quality_section import FIDELITY_MEANINGS, quality_section, share
from tests.report.test_report import _results

FIDELITY = {
    "precision": 0.9453125,
    "precision_ci95": [0.9103, 0.9671],
    "recall": 0.3531,
    "recall_ci95": [0.3310, 0.3759],
    "authenticity": 0.0,
    "authenticity_ci95": [0.0, 0.0148],
    "k": 3,
    "n_reference": 2,
    "n_members": 64,
    "authenticity_reference": "members",
}
POOLED = {"features": "pixels average-pooled to 8x8", "feature_dim": 192, "fid": 12.5, "warning": None, **FIDELITY}
BASE = {"features": "pixel", "fid": 1.5, "kid": 0.01, "n_samples": 2, "n_reference": 2}


def texts(section) -> str:
    return "\n".join(
        item.text if isinstance(item, Para) else "\n".join(" | ".join(r) for r in [item.header, *item.rows])
        for item in section.items
        if isinstance(item, (Para, Table))
    )


def test_share_prints_the_rate_its_interval_or_why_there_is_none():
    assert share(0.9453125, [0.9103, 0.9671]) == "94.5% (95% Wilson 91.0-96.7%)"
    assert share(math.nan, [0.0, 1.0]) == share(None, None) == "n/a (too few images)"


def test_a_results_json_before_issue_39_renders_as_before():
    section = quality_section(BASE)
    assert len(section.items) == 2 and "precision" not in texts(section)


def test_precision_recall_authenticity_and_the_pooled_block():
    text = texts(quality_section({**BASE, **FIDELITY, "pooled_pixels_8x8": POOLED}))
    assert "precision | 94.5% (95% Wilson 91.0-96.7%) | " + FIDELITY_MEANINGS["precision"] in text
    assert "authenticity | 0.0% (95% Wilson 0.0-1.5%) | " + FIDELITY_MEANINGS["authenticity"] in text
    assert "copying lowers it" in text and "k = 3" in text and "64 members" in text
    assert "On pixels average-pooled to 8x8 (192 dimensions)" in text and "FID | 12.500" in text
    assert text.count("recall | 35.3% (95% Wilson 33.1-37.6%)") == 2  # the audit's embedding and the pooled block


def test_markdown_and_html_say_the_same():
    results = _results()
    results["quality"] = {**BASE, **FIDELITY, "pooled_pixels_8x8": POOLED}
    from cpaudit.report.content import build_document

    doc = build_document(results)
    md = render_markdown(doc, set())
    html = html_text.unescape(re.sub(r"<[^>]+>", "", render_html(doc, {})))  # the HTML wraps numbers in spans
    needles = (
        "94.5% (95% Wilson 91.0-96.7%)",
        "copying lowers it",
        "images' manifold",
        "average-pooled to 8x8",
        "12.500",
    )
    for needle in needles:
        assert needle in md and needle in html
