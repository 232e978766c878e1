"""The tune report renders from the committed sweep (reports/tune/tune.json) as committed (re-rendered by
`cpaudit report reports/tune/tune.json --out reports/tune`), in Markdown and HTML."""

import json

from cpaudit.report.html import render_html
from cpaudit.report.markdown import render_markdown
from cpaudit.report.tune_report import tune_document
from tests.report.reports import ROOT

TUNE = ROOT / "reports" / "tune"


def test_the_committed_tune_report_renders_from_its_sweep():
    doc = tune_document(json.loads((TUNE / "tune.json").read_text()))
    md = render_markdown(doc, {p.stem for p in (TUNE / "figures").glob("*.png")})
    assert md == (TUNE / "report.md").read_text()
    figures = {p.stem: p.read_bytes() for p in (TUNE / "figures").glob("*.png")}
    assert render_html(doc, figures) == (TUNE / "report.html").read_text()
    assert doc.verdict == (
        "Within 2x the unprotected FID, with replicas at the held-out base rate and sample-only AUC <= 0.65: no "
        "defence's chosen setting reaches it on the evaluation seeds."
    )
    assert "## The goal: FID <= 2x unprotected, replicas at the base rate, AUC <= 0.65" in md
    assert "replica = nearest-member correlation >= 0.97" in md
    assert "&lt;= 0.65" in render_html(doc, {})
