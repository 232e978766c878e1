"""The reports as a reader opens them (issue 38): the committed demo reports and a fresh audit's, rendered by
headless Chromium at a laptop's 1280 px and a phone's 390 px. Nothing reaches past the viewport outside a scroll
container, no word in a table is split over two lines, the verdict (a run) or the picture (a comparison) is on
the first screen, every image loads and the console has no error. Each page's first screen is saved as a test
artefact ($CPAUDIT_ARTEFACTS/browser in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.screenshots import VIEWPORTS, show
from cpaudit.cli.app import app
from tests.browser.page_checks import (
    console_errors,
    cut_elements,
    images_not_loaded,
    images_without_words,
    not_laid_out_for_phones,
    not_on_first_screen,
    open_every_section,
    overflowing_elements,
    printed,
    words_split_mid_way,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "reports" / "demo"
# What must be on the first screen: a run report's verdict card; a comparison opens with its picture.
VERDICT = ".verdict-card, .verdict"
PICTURE = "img, svg"
# Page name -> (report, what its first screen must show). "fresh" is the audit the fixture below runs.
PAGES = {
    "demo-compare": (DEMO / "report.html", PICTURE),
    "demo-unprotected": (DEMO / "unprotected" / "report.html", VERDICT),
    "demo-cpsample": (DEMO / "cpsample" / "report.html", VERDICT),
    "demo-text-compare": (ROOT / "reports" / "demo-text" / "report.html", PICTURE),
    "demo-text-unprotected": (ROOT / "reports" / "demo-text" / "unprotected" / "report.html", VERDICT),
    "fresh": (None, VERDICT),
}


@pytest.fixture(scope="module")
def fresh_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Today's renderer on today's audit: the committed demo's unprotected samples and model, audited with few
    relabellings, one timestep and 16 members (about 6 s of CPU), the model attacks included so that every section
    is drawn."""
    out = tmp_path_factory.mktemp("fresh_audit")
    runs = DEMO / "runs"
    args = ["--quiet", "audit", "--samples", str(runs / "unprotected"), "--split", str(runs / "model" / "split.json")]
    args += ["--model", str(runs / "model"), "--out", str(out), "--permutations", "99", "--mia-t", "100"]
    args += ["--mia-draws", "1", "--mia-members", "16", "--attack-nulls", "40"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output  # 1: the unprotected demo fails its gates, as it should
    return out / "report.html"


def _label(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else f"the fresh audit's {page.name}"


def _findings(driver, selector: str) -> dict[str, list[str]]:
    """Every check on the page shown, the first screen as it opens, the rest with every section expanded."""
    found = {"first screen": not_on_first_screen(driver, selector), "phone layout": not_laid_out_for_phones(driver)}
    open_every_section(driver)
    found["wider than the viewport"] = overflowing_elements(driver)
    found["words split mid-way"] = words_split_mid_way(driver)
    found["images"] = images_not_loaded(driver)
    found["images without alt text"] = images_without_words(driver)
    found["console errors"] = console_errors(driver)
    return {check: problems for check, problems in found.items() if problems}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("name", list(PAGES))
def test_report_reads_in_chromium(chromium, artefacts, request, name, viewport):
    page, selector = PAGES[name]
    page = page or request.getfixturevalue("fresh_report")
    console_errors(chromium)  # empties the log of the pages before
    show(chromium, page, VIEWPORTS[viewport])
    chromium.save_screenshot(str(artefacts / f"{name}-{viewport}.png"))
    found = _findings(chromium, selector)
    assert not found, "\n".join(f"{_label(page)} at {viewport} px, {k}: {v}" for k, v in found.items())


# The part of an A4 page Chromium prints on (210 x 297 mm at 96 px per inch, less its default margins of 0.4 in).
A4_PRINTED = (718, 1046)


@pytest.mark.parametrize("name", list(PAGES))
def test_report_prints_on_a4(chromium, artefacts, request, name):
    """Printed, the verdict (or the comparison's picture) is on page 1 and nothing is cut: a scroll container does
    not scroll on paper, so a table in one wider than the page would lose its last columns."""
    page, selector = PAGES[name]
    page = page or request.getfixturevalue("fresh_report")
    show(chromium, page, A4_PRINTED)
    printed(chromium, True)
    try:
        chromium.save_screenshot(str(artefacts / f"{name}-print.png"))
        found = {"page 1": not_on_first_screen(chromium, selector)}
        open_every_section(chromium)
        found["cut"] = cut_elements(chromium)
    finally:
        printed(chromium, False)
    found = {check: problems for check, problems in found.items() if problems}
    assert not found, "\n".join(f"{_label(page)} printed, {k}: {v}" for k, v in found.items())


BAD_PAGE = """<!doctype html><meta name="viewport" content="width=980">
<body style="margin: 0">
<div id="wide" style="width: 2000px">wide</div>
<div style="overflow-x: auto"><div id="scrolled" style="width: 3000px">scrolled</div></div>
<table style="width: 40px"><tr><th style="word-break: break-all">thresholdmodel</th><td>0.984-1.000</td></tr></table>
<details><div id="hidden" style="width: 2500px">collapsed</div></details>
<div style="height: 3000px"></div>
<div class="verdict-card">late</div>
<img alt="broken picture" src="data:image/png;base64,AAAA">
<img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7">
<script>console.error("boom")</script>
"""


def test_the_checks_find_what_a_reader_would_see_wrong(chromium, tmp_path):
    """A page with each fault once: the checks name them and pass what a scroll container holds."""
    page = tmp_path / "bad.html"
    page.write_text(BAD_PAGE)
    console_errors(chromium)
    show(chromium, page, VIEWPORTS["390"])
    found = _findings(chromium, VERDICT)
    [late] = found["first screen"]
    assert late.startswith('div.verdict-card "late" starts at') and late.endswith("below the first 844 px")
    wide = found["wider than the viewport"]
    assert any(f.startswith('div#wide "wide"') for f in wide) and any(f.startswith("div#hidden") for f in wide)
    assert not any("scrolled" in f for f in wide)
    assert [f.split(" is split")[0] for f in found["words split mid-way"]] == ['"thresholdmodel"']
    assert found["images"] == ['img (alt "broken picture") did not load']
    assert found["images without alt text"] == ["data:image/gif;base64,R0lGODlhAQABAIAAAA"]
    assert found["phone layout"] == [
        '<meta name="viewport"> is "width=980", not width=device-width: a phone shrinks the page'
    ]
    assert len(found["console errors"]) == 1 and "boom" in found["console errors"][0]
    [cut] = cut_elements(chromium)
    assert cut.startswith('div "scrolled" cuts what it holds: 3000 px wide in 390 px')
