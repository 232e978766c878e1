"""Chromium for the browser tests: skipped where it is not installed (a user's laptop), failing where
CPAUDIT_REQUIRE_BROWSER=1 says it must be (CI), so that a missing browser never passes silently."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.screenshots import missing_browser, open_chromium


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: renders reports in headless Chromium (chromium, chromium-driver)")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    reason = missing_browser()
    if reason and os.environ.get("CPAUDIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CPAUDIT_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    if reason:
        pytest.skip(reason)
    driver = open_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: $CPAUDIT_ARTEFACTS/browser when CI keeps them, else a temporary folder."""
    kept = os.environ.get("CPAUDIT_ARTEFACTS")
    if not kept:
        return tmp_path_factory.mktemp("browser-screenshots")
    out = Path(kept) / "browser"
    out.mkdir(parents=True, exist_ok=True)
    return out
