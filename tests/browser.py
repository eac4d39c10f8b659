"""Playwright on Debian's chromium (never a downloaded browser), for the page tests.

Use the ``page`` fixture (a fresh context per test) and :func:`screenshot` to keep an artefact
under ``tests/artifacts/`` (ignored by git). Tests using it are marked ``browser`` and ``slow``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = os.environ.get("BORDERGATE_CHROMIUM", "/usr/bin/chromium")


def chromium_path() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"{CHROMIUM} not found: scripts/setup.sh test installs Debian's chromium")
    return CHROMIUM


# Module scope, not session: Playwright's sync API keeps an event loop running in the main thread
# while it is open, and every async test after it would fail ("Runner.run() cannot be called from
# a running event loop").
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=chromium_path(), headless=True, args=["--no-sandbox"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context (no cookies) and page; 5 s default timeout."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")  # type: ignore[attr-defined]
    try:
        pg = context.new_page()
        pg.set_default_timeout(5000)
        yield pg
    finally:
        context.close()


def screenshot(pg: object, name: str) -> Path:
    """Save a full-page PNG as tests/artifacts/NAME.png and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
