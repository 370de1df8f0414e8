"""`make run`'s job: `actions-1flow demo` starts the sandbox, sends identify, track and an identify without userId
through `send`, prints the verdicts and what 1Flow received, and stops the sandbox."""

from __future__ import annotations

import re
import subprocess

from tests.helpers.sandbox import cli_command


def test_demo_prints_the_verdicts_and_what_the_sandbox_received():
    result = subprocess.run([*cli_command(), "demo"], capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"event 1 \(identify\) · 1flow-demo · Identify User → delivered \(200 OK, POST http://127\.0\.0\.1:\d+/v1/identify\)", out)
    assert re.search(r"event 2 \(track 'Checkout Completed'\) · 1flow-demo · Track Event → delivered \(200 OK", out)
    assert "event 3 (identify) · 1flow-demo · Identify User → filtered: not sent: Identify needs a userId" in out
    assert "What the 1Flow sandbox received (2 requests)" in out
    assert 'POST /v1/identify → 200  {"user_id": "user-42"' in out and "POST /v1/track → 200" in out
    assert out.rstrip().endswith("5. Sandbox stopped.")
    assert "****" in out and not re.search(r"1f_demo_[A-Za-z0-9_-]{8,}", out + result.stderr)
