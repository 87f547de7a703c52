"""Open a report in headless Chromium (the tests and benchmarks/report_load.py use this).

Uses the system's Chromium and chromedriver (Debian: `apt-get install chromium chromium-driver`) through
selenium, with explicit paths so selenium never downloads a browser or a driver. selenium is a test extra.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> tuple[str | None, str | None]:
    """(browser, chromedriver) paths on this machine; FOLEY_CHROMIUM / FOLEY_CHROMEDRIVER override."""
    browser = os.environ.get("FOLEY_CHROMIUM") or next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    driver = os.environ.get("FOLEY_CHROMEDRIVER") or shutil.which("chromedriver")
    return browser, driver


def missing_reason() -> str | None:
    """Why a browser test cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    browser, driver = find_chromium()
    if not browser or not driver:
        return "Chromium or chromedriver not found: apt-get install chromium chromium-driver (.ci/run does this)"
    return None


def open_chromium(width: int = 1600, height: int = 1000) -> Any:
    """A headless Chromium WebDriver that records the page's console and may autoplay audio."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = find_chromium()
    if not browser or not driver:
        raise RuntimeError(missing_reason() or "no Chromium")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                f"--window-size={width},{height}", "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=opts)


def file_url(path: str | Path) -> str:
    return Path(path).resolve().as_uri()
