"""report.html in headless Chromium (Debian's chromium and chromium-driver, driven by Selenium): loads, no console
errors, every figure decoded with a non-zero size; a screenshot is kept in test-artifacts/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1000",
]


@pytest.fixture
def browser():
    """A headless Chromium; fails (does not skip) when the system browser is not installed."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: install with "
            "`apt-get update && apt-get install -y chromium chromium-driver`"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_report_in_chromium(tiny_study, browser):
    browser.get((tiny_study / "report.html").as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert "tiny-report" in browser.title
    images = browser.execute_script(
        "return Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) == 8  # test accuracy (against params and MACs), cross-entropy, capacity, efficiency, ...
    for alt, complete, width, height in images:
        assert complete and width > 0 and height > 0, alt
    assert browser.find_elements("css selector", "ul.verdicts li")
    assert len(browser.find_elements("css selector", "table")) >= 3
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(height, 12000))
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report-chromium.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
