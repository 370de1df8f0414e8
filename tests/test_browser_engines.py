"""The browser engines' own start-up (tests/helpers/engines): what made a WebKit session stall now and then."""

from __future__ import annotations

import socket

import pytest

from tests.helpers.engines import webkit

pytestmark = pytest.mark.browser


def test_webkit_chooses_another_port_when_its_first_is_taken(monkeypatch):
    """Another process listening on the port meant for the MiniBrowser's automation server: the browser only warns,
    and a WebKitWebDriver that had picked that port waited for the new session until its timeout. The engine sees
    that the listener is not its browser, starts it on another port, and the session works."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        choices = iter([taken])
        monkeypatch.setattr(webkit, "unclaimed_port", lambda real=webkit.unclaimed_port: next(choices, None) or real())
        engine = webkit.WebKitEngine()
        try:
            assert webkit.listener(taken) != engine.browser.process.pid
            assert engine.browser.port != taken
            assert webkit.listener(engine.browser.port) == engine.browser.process.pid
            tab = engine.open("data:text/html,<title>started</title>")
            assert tab.evaluate("() => [document.title, navigator.language]") == ["started", "en-US"]
        finally:
            engine.close()
