"""Chromium through Playwright: a fresh browser context per tab, `WATCH` as its init script."""

from __future__ import annotations

from typing import Any

from . import WATCH, Tab


class ChromiumTab(Tab):
    engine = "chromium"

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.page.goto(url)

    def _evaluate(self, expression: str) -> Any:
        # A function, not an expression: Playwright evaluates expressions with eval, which a strict policy forbids.
        return self.page.evaluate(f"async () => {expression}")

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def close(self) -> None:
        self.context.close()


class ChromiumEngine:
    name = "chromium"

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.version = browser.version

    def open(self, url: str) -> ChromiumTab:
        return ChromiumTab(self.browser, url)

    def close(self) -> None:
        """The Playwright browser belongs to the caller (tests/conftest.py's `chromium`), which closes it."""
