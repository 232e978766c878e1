"""The docs' screenshots of the committed reports, as a reader opens them in Chromium (issue 38).

    python benchmarks/screenshots.py [OUT]      # OUT: default docs/screenshots

Writes OUT/{demo,demo-text,compare}-{1280,390}.png: the first screen (not the whole page) of the demo's
unprotected report, the text demo's unprotected report and the demo's comparison report, at a desktop viewport
of 1280x900 and a phone's of 390x844 CSS pixels. Needs Debian's `chromium` and `chromium-driver` and the
`selenium` package (pip install 'cpaudit[browser]'); tests/browser/ drives the same browser through the helpers
here, so the pictures in the docs are what the browser test checked.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Viewport name -> (width, height) in CSS pixels: a laptop's window and an iPhone 12-15's screen.
VIEWPORTS = {"1280": (1280, 900), "390": (390, 844)}
# Screenshot name -> the committed report it shows.
SHOTS = {
    "demo": ROOT / "reports" / "demo" / "unprotected" / "report.html",
    "demo-text": ROOT / "reports" / "demo-text" / "unprotected" / "report.html",
    "compare": ROOT / "reports" / "demo" / "report.html",
}


def missing_browser() -> str | None:
    """Why Chromium cannot be driven here (one line), or None when it can: the tests skip or fail on it."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'cpaudit[browser]')"
    for program, package in ((chromium_path(), "chromium"), (chromedriver_path(), "chromium-driver")):
        if program is None:
            return f"{package} is not installed (apt-get install -y {package})"
    return None


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromedriver_path() -> str | None:
    return shutil.which("chromedriver")


def open_chromium() -> Any:
    """Headless Chromium through the system chromedriver, keeping the page's console for the tests to read.

    --no-sandbox because CI runs as root; --hide-scrollbars so a screenshot shows the page, not the scrollbar."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path() or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver_path() or "/usr/bin/chromedriver"), options=options)


def show(driver: Any, page: Path, size: tuple[int, int]) -> None:
    """Open `page` in a viewport of exactly `size` (width, height) CSS pixels (a window size would include the
    browser's frame), at one device pixel per CSS pixel, once the document has loaded."""
    width, height = size
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    driver.get(page.resolve().as_uri())  # returns once the document's load event has fired


def write_screenshots(driver: Any, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, page in SHOTS.items():
        for viewport in VIEWPORTS:
            show(driver, page, VIEWPORTS[viewport])
            path = out / f"{name}-{viewport}.png"
            driver.save_screenshot(str(path))
            written.append(path)
    return written


def main(argv: list[str]) -> int:
    reason = missing_browser()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    out = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    driver = open_chromium()
    try:
        written = write_screenshots(driver, out)
    finally:
        driver.quit()
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
