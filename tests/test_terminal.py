"""Control characters from event data never reach a terminal or a log raw (issue 16, point 1)."""

from __future__ import annotations

import json
import logging
import sys

from actions_1flow.terminal import SafeFormatter, escape_controls
from tests.helpers.server import ServeProcess

HOSTILE = "\x1b[41mred\x1b[0m \x1b]0;owned\x07 back\rspace\nnew line \u202eevil\x9b"


def test_escape_controls_writes_every_control_character_visibly():
    escaped = escape_controls(HOSTILE)
    assert escaped == "\\x1b[41mred\\x1b[0m \\x1b]0;owned\\x07 back\\rspace\\nnew line \\u202eevil\\x9b"
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in escaped)
    assert escape_controls("plain text, ünïcödé, 日本") == "plain text, ünïcödé, 日本"
    assert escape_controls("a\nb\tc\x1b", keep_newlines=True) == "a\nb\tc\\x1b"


def test_the_log_formatter_escapes_messages_arguments_and_tracebacks():
    formatter = SafeFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "report: %s", (HOSTILE,), None)
    line = formatter.format(record)
    assert "\x1b" not in line and "\n" not in line and "\\x1b[41m" in line
    try:
        raise ValueError("bad \x1b]0;title\x07")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    text = formatter.format(record)
    assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;title\\x07" in text
    assert "\nTraceback (most recent call last):\n" in text  # the traceback's own lines are kept


DEVICE_CONFIG = """
storage: sqlite:///{tmp}/db.sqlite
sources:
  - {{name: web, write_key: wk_web}}
destinations:
  - {{name: 1flow-web, mode: device, sources: [web], settings: {{projectApiKey: k_device_0123456789}}}}
"""


def test_a_hostile_device_report_is_escaped_in_the_server_log(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(DEVICE_CONFIG.format(tmp=tmp_path))
    server = ServeProcess(config, tmp_path / "serve.log")
    try:
        report = {
            "writeKey": "wk_web",
            "destination": "1Flow Web (Actions)",
            "kind": "sdk-call",
            "message": "\x1b[41mpwned\x1b[0m",
            "messageId": "m-\x1b]0;title\x07",
            "type": "track",
        }
        response = server.http.post(
            "/v1/device-events",
            content=json.dumps(report),
            headers={"content-type": "text/plain", "origin": "https://shop.example"},
        )
        assert response.status_code == 204
    finally:
        server.stop()
    log = server.log_text()
    assert "device event sdk-call" in log and "\\x1b[41mpwned\\x1b[0m" in log
    assert "\x1b" not in log and "\x07" not in log
    assert "Uvicorn running on" in log  # uvicorn's own records go through the same escaping handler
