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


@pytest.mark.parametrize("browser_ends", [False, True], ids=["browser silent", "browser gone"])
def test_a_stalled_webkit_session_is_started_again_and_reported_with_what_the_processes_were_doing(
    monkeypatch, browser_ends
):
    """The driver's first target is a port that accepts and never answers, as a stalled browser does; in the stall
    seen in a full run the MiniBrowser had also ended after opening its port. The session request times out, the
    engine warns with each process's state (and how the browser ended) and the logs' ends, and starts afresh."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        stalled = iter([silent.getsockname()[1]])

        class FirstStalls(webkit.MiniBrowser):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                port = next(stalled, None)
                if port is not None:  # the driver attaches to the silent port, once
                    self.port = port
                    if browser_ends:
                        self.process.kill()

        monkeypatch.setattr(webkit, "MiniBrowser", FirstStalls)
        monkeypatch.setattr(webkit, "SESSION_TIMEOUT", 5)
        with pytest.warns(RuntimeWarning, match=r"stalled \(attempt 1 of 3\)") as caught:
            engine = webkit.WebKitEngine()
        try:
            [report] = [str(w.message) for w in caught if "stalled" in str(w.message)]
            assert "WebKitWebDriver" in report and "waiting in" in report, report
            assert "--- MiniBrowser.log" in report, report
            if browser_ends:
                assert "the MiniBrowser (pid" in report and "had ended, by signal 9" in report, report
            else:
                assert "MiniBrowser --automation" in report and "had ended" not in report, report
            tab = engine.open("data:text/html,<title>again</title>")
            assert tab.evaluate("() => document.title") == "again"
        finally:
            engine.close()
