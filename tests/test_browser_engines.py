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


def test_a_stalled_webkit_session_is_started_again_and_reported_with_what_the_processes_were_doing(monkeypatch):
    """The driver's first target is a port that accepts and never answers, as a stalled browser does: the session
    request times out, the engine warns with each process's state and the logs' ends, and starts afresh."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        stalled = iter([silent.getsockname()[1]])

        class FirstStalls(webkit.MiniBrowser):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.port = next(stalled, self.port)  # the driver attaches to the silent port, once

        monkeypatch.setattr(webkit, "MiniBrowser", FirstStalls)
        monkeypatch.setattr(webkit, "SESSION_TIMEOUT", 5)
        with pytest.warns(RuntimeWarning, match=r"stalled \(attempt 1 of 3\)") as caught:
            engine = webkit.WebKitEngine()
        try:
            [report] = [str(w.message) for w in caught if "stalled" in str(w.message)]
            assert "MiniBrowser --automation" in report and "WebKitWebDriver" in report, report
            assert "waiting in" in report and "--- MiniBrowser.log" in report, report
            tab = engine.open("data:text/html,<title>again</title>")
            assert tab.evaluate("() => document.title") == "again"
        finally:
            engine.close()
