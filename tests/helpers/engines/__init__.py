"""Three browser engines behind one tiny interface, so a scenario is written once and run in each: Chromium
(Playwright), Firefox (puppeteer-core over WebDriver BiDi) and WebKit (Selenium's WebKitGTK driver). All of them
are Debian's builds, offline but for 127.0.0.1.

An `Engine` opens a `Tab` (a fresh profile's storage) on a URL; a tab goes to another URL, evaluates a JavaScript
function in the page, waits for one to return something truthy, and reports what went wrong in the page (uncaught
errors, rejected promises, `console.error` calls and Content-Security-Policy violations, all recorded by `WATCH`).
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

ENGINES = ("chromium", "firefox", "webkit")

WATCH = """(() => {
  if (window.__watch) return;
  const seen = (window.__watch = []);
  const text = (value) => (value instanceof Error ? value.name + ': ' + value.message : String(value));
  addEventListener('error', (e) => seen.push('error: ' + (e.error ? text(e.error) : e.message) + ' at ' + e.filename + ':' + e.lineno));
  addEventListener('unhandledrejection', (e) => seen.push('rejection: ' + text(e.reason)));
  document.addEventListener('securitypolicyviolation', (e) => seen.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI));
  const error = console.error;
  console.error = function (...args) { seen.push('console.error: ' + args.map(text).join(' ')); return error.apply(this, args) };
})();"""  # noqa: E501 -- kept readable as one script
"""Records what goes wrong in a page in `window.__watch`. Installed before the page's own scripts where the engine
can (an init script in Chromium and Firefox); pages of our own make it their first script (`watched`), so WebKit,
whose WebDriver has no init scripts, sees the same from the start."""


def watched(snippet: str) -> str:
    """`snippet` (`<script>…</script>`…) with `WATCH` run first inside its first script, so a nonce or hash that
    allows the snippet allows the watcher too."""
    assert snippet.startswith("<script>")
    return "<script>" + WATCH + snippet.removeprefix("<script>")


class Tab:
    """One page in a fresh context. Engines implement `_evaluate`, `goto` and `close`; the rest is shared."""

    engine: str

    def _evaluate(self, expression: str) -> Any:
        """The JSON value of `expression` (awaited when it is a promise)."""
        raise NotImplementedError

    def goto(self, url: str) -> None:
        """Loads `url` in this tab (its cookies and storage stay), until the load event."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def evaluate(self, function: str, arg: Any = None) -> Any:
        """Calls the JavaScript `function` (source text, may be async) with `arg` in the page; its JSON result."""
        return self._evaluate(f"({function})({json.dumps(arg)})")

    def wait_for(self, function: str, arg: Any = None, timeout: float = 10.0, what: str = "") -> Any:
        """Polls `function(arg)` until it returns something truthy, and returns that; AssertionError at `timeout`.
        A call that fails while the page navigates (its document going away) is polled again."""
        deadline = time.monotonic() + timeout
        failure: Exception | None = None
        while True:
            try:
                value = self.evaluate(function, arg)
                failure = None
            except Exception as exc:  # each engine has its own error for "the document went away"
                value, failure = None, exc
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.engine}: not within {timeout:g}s: {what or function}") from failure
            time.sleep(0.05)

    def errors(self) -> list[str]:
        """What `WATCH` recorded in the current document (empty when nothing went wrong)."""
        return self.evaluate("() => window.__watch || []")

    def watch(self) -> None:
        """Installs `WATCH` now, where the engine could not before the page's scripts (it is idempotent)."""
        self._evaluate(WATCH)

    def resources(self) -> list[str]:
        """Every URL the current document fetched (Resource Timing: scripts, XHR/fetch, beacons), each once its body
        arrived. WebKit lists only requests that got a response; Chromium and Firefox list failed ones too."""
        return self.evaluate("() => performance.getEntriesByType('resource').map((e) => e.name)")


class Engine(Protocol):
    name: str
    version: str

    def open(self, url: str) -> Tab:
        """A tab with storage of its own (no cookies or localStorage from another tab) at `url`, loaded."""
        ...

    def close(self) -> None: ...


def launch(name: str, playwright_chromium: Any = None) -> Engine:
    """The engine `name` (one of `ENGINES`); Chromium runs in `playwright_chromium`, a Playwright browser the caller
    owns (Playwright's sync API allows one per thread, and tests/conftest.py keeps one per module)."""
    if name == "chromium":
        from .chromium import ChromiumEngine

        return ChromiumEngine(playwright_chromium)
    if name == "firefox":
        from .firefox import FirefoxEngine

        return FirefoxEngine()
    if name == "webkit":
        from .webkit import WebKitEngine

        return WebKitEngine()
    raise ValueError(f"unknown engine {name!r}; one of {ENGINES}")
