"""The docs' screenshots show the committed reports as they render today: a report whose layout changed without
`python benchmarks/screenshots.py` being run again fails here, so the docs never show a report cpaudit no longer
writes (issue 38)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmarks.screenshots import ROOT, SHOTS, VIEWPORTS, write_screenshots

pytestmark = pytest.mark.browser

COMMITTED = ROOT / "docs" / "screenshots"
# Pixels that may differ from the committed picture (anti-aliasing of another Chromium or font build); a moved
# card, a new line or a changed picture moves several per cent of the first screen.
TOLERATED_SHARE = 0.005


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_docs_screenshots_are_todays_reports(chromium, tmp_path):
    write_screenshots(chromium, tmp_path)
    for name in SHOTS:
        for viewport, (width, height) in VIEWPORTS.items():
            file = f"{name}-{viewport}.png"
            committed, today = _pixels(COMMITTED / file), _pixels(tmp_path / file)
            assert committed.shape == today.shape == (height, width, 3), file
            changed = float(np.mean(np.abs(committed - today).max(axis=2) > 16))
            assert changed <= TOLERATED_SHARE, (
                f"docs/screenshots/{file}: {changed:.1%} of its pixels differ from the report as it renders now; "
                "run python benchmarks/screenshots.py"
            )
