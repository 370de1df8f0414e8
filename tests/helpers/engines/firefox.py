"""Firefox ESR (Debian's) through puppeteer-core over WebDriver BiDi, in a node process (`firefox.mjs`): a fresh
browser context (user context) per tab, `WATCH` as its preload script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.oracle.client import NodeOracle

from . import WATCH, Tab

FIREFOX = "/usr/bin/firefox-esr"
SCRIPT = Path(__file__).with_name("firefox.mjs")


class FirefoxTab(Tab):
    engine = "firefox"

    def __init__(self, node: NodeOracle, url: str) -> None:
        self.node = node
        self.id = node.call("open", url=url)

    def _evaluate(self, expression: str) -> Any:
        return self.node.call("evaluate", id=self.id, expression=expression)

    def goto(self, url: str) -> None:
        self.node.call("goto", id=self.id, url=url)

    def close(self) -> None:
        self.node.call("close", id=self.id)


class FirefoxEngine:
    name = "firefox"

    def __init__(self) -> None:
        self.node = NodeOracle(SCRIPT)
        self.version = self.node.call("launch", executablePath=FIREFOX, watch=WATCH)

    def open(self, url: str) -> FirefoxTab:
        return FirefoxTab(self.node, url)

    def close(self) -> None:
        self.node.call("quit")
        self.node.close()
