"""Fixtures of the browser test: the served site, Debian's Chromium through Playwright, the page visitor."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sitecheck import CHROMIUM_ARGS, SCREENSHOTS, SITE, SiteVisitor, serve


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run `make site` first (or set REGBOOK_SITE)")
    return SITE


@pytest.fixture(scope="session")
def base_url(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    executable = os.environ.get("REGBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).is_file():
        pytest.fail(f"Chromium not found at {executable}: install Debian's `chromium` and `chromium-driver` "
                    "(apt-get install chromium chromium-driver) or set REGBOOK_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def visitor(browser, site: Path, base_url: str) -> Iterator[SiteVisitor]:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    visitor = SiteVisitor(browser, site, base_url, SCREENSHOTS)
    try:
        yield visitor
    finally:
        visitor.context.close()
