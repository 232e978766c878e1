"""Every committed report is what `cpaudit report` renders from its results.json today: the demo's pixel audits
(a cpaudit model; unprotected, CPSample, rejection, DP-SGD) and the text demo's (a Stable Diffusion pipeline;
prompted extraction, the detector, CLiD), as Markdown and HTML, and the demo's comparison."""

import io
import json
import re

import matplotlib
import numpy as np
import pytest
from PIL import Image

from cpaudit.report.compare import compare_document
from cpaudit.report.content import build_document
from cpaudit.report.html import render_html
from cpaudit.report.markdown import render_markdown
from tests.report.reports import ROOT

# The committed pictures were drawn by the matplotlib that constraints.txt pins; another release (the oldest stack
# CI also tests, tests/install/constraints-oldest.txt) draws the same figure with other text antialiasing.
PINNED_MATPLOTLIB = re.search(r"^matplotlib==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M).group(1)


def assert_same_picture(drawn: bytes, committed: bytes) -> None:
    """Byte for byte under the pinned matplotlib; under another release, the same size with at most 10% of the
    pixels differing (measured: 4.4% and 5.6% under matplotlib 3.9.0, the text's antialiasing)."""
    if matplotlib.__version__ == PINNED_MATPLOTLIB:
        assert drawn == committed, "the committed picture is not the one drawn from the results"
        return
    a, b = (np.asarray(Image.open(io.BytesIO(x)).convert("RGB")) for x in (drawn, committed))
    assert a.shape == b.shape
    assert (a != b).any(axis=2).mean() <= 0.10


RUNS = sorted((ROOT / "reports").glob("demo*/*/results.json"))
DEMO = [
    ("unprotected", "unprotected"),
    ("CPSample", "cpsample"),
    ("rejection", "rejection"),
    ("DP-SGD", "dp-sgd"),
    ("DP control", "dp-control"),
]


@pytest.mark.parametrize("path", RUNS, ids=[str(p.parent.relative_to(ROOT)) for p in RUNS])
def test_a_committed_report_renders_from_its_results(path):
    figures = {p.stem: p.read_bytes() for p in (path.parent / "figures").glob("*.png")}
    doc = build_document(json.loads(path.read_text()))
    assert render_markdown(doc, set(figures)) == (path.parent / "report.md").read_text()
    assert render_html(doc, figures) == (path.parent / "report.html").read_text()


def test_every_kind_of_committed_audit_is_covered():
    kinds = {p.parent.parent.name for p in RUNS}
    assert len(RUNS) == 17 and kinds == {"demo", "demo-text"}


TEXT_DEMO = [
    ("unprotected", "unprotected"),
    ("CPSample, learned classifier", "cpsample-learned-classifier"),
    ("CPSample, exact posterior", "cpsample-exact-posterior"),
    ("rejection", "rejection"),
    ("embedding noise", "embedding-noise"),
    ("random tokens", "random-tokens"),
    ("prompt optimisation", "prompt-optimisation"),
    ("delayed guidance", "delayed-guidance"),
    ("opposite guidance", "opposite-guidance"),
    ("anti-memorisation guidance", "anti-memorisation-guidance"),
    ("CPSample, exact, away from the member", "cpsample-exact-away-from-the-member"),
    ("reference model (trained on disjoint images)", "reference-model-(trained-on-disjoint-images)"),
]


@pytest.mark.parametrize("demo, runs", [("demo", DEMO), ("demo-text", TEXT_DEMO)])
def test_the_demo_comparisons_render_from_their_results(demo, runs):
    """Each demo's comparison, its picture included: the figure committed is the one drawn from the results."""
    from cpaudit.pipelines.demo import FRONTIER_NOTE
    from cpaudit.report.compare_figure import compare_figures

    root = ROOT / "reports" / demo
    loaded = [(label, json.loads((root / f / "results.json").read_text())) for label, f in runs]
    notes = [FRONTIER_NOTE] if demo == "demo" else None
    doc = compare_document(loaded, [f"{f}/report.html" for _, f in runs], notes)
    figures = {p.stem: p.read_bytes() for p in (root / "figures").glob("*.png")}
    drawn = compare_figures(loaded)
    assert set(figures) == set(drawn) == {"privacy_quality"}
    assert_same_picture(drawn["privacy_quality"], figures["privacy_quality"])
    assert render_markdown(doc, set(figures)) == (root / "report.md").read_text()
    assert render_html(doc, figures) == (root / "report.html").read_text()
