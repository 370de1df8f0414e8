"""`make run`'s job, `actions-1flow demo`: the sandbox and the server with a demo page; a track pressed on the page
reaches 1Flow both ways (the SDK in the page, the server's HTTP delivery) and the page shows both; Ctrl-C stops
everything. And `demo --send`, the short scripted flow through `send`."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest

from tests.helpers.process import cli_command, free_port


class Demo:
    """`actions-1flow demo` in `directory`, its output read line by line as it comes."""

    def __init__(self, directory, *args: str) -> None:
        self.process = subprocess.Popen(
            [*cli_command(), "demo", *args], cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_line(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n{''.join(self.output)}")

    def rest(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "".join(self.output)


def calls(sandbox_url: str, channel: str) -> list[dict]:
    return httpx.get(f"{sandbox_url}/_sandbox/calls", params={"channel": channel}, timeout=5).json()["calls"]


def wait_until(predicate, page, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        page.wait_for_timeout(100)
    raise AssertionError(f"{what} not within {timeout:g}s")


@pytest.mark.browser
def test_the_demo_page_shows_a_track_reaching_1flow_both_ways(tmp_path, chromium):
    demo = Demo(tmp_path, "--port", str(free_port()))
    try:
        sandbox_url = demo.wait_for_line(r"1Flow sandbox:\s+(http://127\.0\.0\.1:\d+)").group(1)
        server_url = demo.wait_for_line(r"actions-1flow:\s+(http://127\.0\.0\.1:\d+)").group(1)
        page_url = demo.wait_for_line(r"Demo page: (\S+)").group(1)
        assert page_url == f"{server_url}/demo"
        console = demo.wait_for_line(r"Console:\s+(\S+)\s+\(log in with the admin token (\S+)\)")
        assert console.group(1) == f"{server_url}/console" and len(console.group(2)) >= 24
        with httpx.Client(base_url=server_url, timeout=5) as http:  # the printed token logs in
            assert http.post("/console/login", data={"token": console.group(2)}).status_code == 303
            assert http.get("/admin/api/v1/session").json()["via"] == "session"
        html = httpx.get(page_url, timeout=5)
        assert html.status_code == 200 and "analytics.load(writeKey)" in html.text and '"wk_demo_web"' in html.text
        assert (tmp_path / "var" / "demo" / "events.db").exists()

        context = chromium.new_context()  # the module's Chromium (tests/conftest.py)
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_url)
            page.wait_for_function(
                "document.getElementById('sdk-state').textContent === '1Flow SDK ready.'", timeout=15_000
            )
            page.fill("#event-name", "Demo Pressed")
            page.click("#identify")
            page.click("#track")

            # Device mode: the plugin called the sandbox's SDK in the page, and the page lists the calls.
            def sdk_calls():
                found = [c for c in calls(sandbox_url, "sdk") if c["method"] in ("identify", "track")]
                return found if len(found) >= 2 else None

            # The sandbox's SDK is callable by default, and the plugin calls it as Segment's integration does.
            sdk = wait_until(sdk_calls, page, "two SDK calls in the sandbox")
            assert [(c["method"], c["args"][0]) for c in sdk] == [("identify", "user-42"), ("track", "Demo Pressed")]
            assert sdk[1]["args"][1]["userId"] == "user-42" and sdk[1]["args"][1]["properties"] == {"total": 49.9}
            listed = page.inner_text("#sdk-calls")
            assert '_1flow("track", "Demo Pressed", {"userId":"user-42",' in listed
            assert '_1flow("identify", "user-42", {' in listed

            # Cloud mode: the server delivered both to the sandbox's HTTP API, and the page shows the deliveries.
            def http_items():
                items = [
                    i
                    for c in calls(sandbox_url, "http")
                    if c["status"] == 200
                    for i in c["body"].get("batch", [c["body"]])
                ]
                return items if len(items) >= 2 else None

            items = wait_until(http_items, page, "two deliveries to the sandbox's HTTP API")
            assert sorted((i.get("type"), i.get("event"), i["user_id"]) for i in items) == [
                ("identify", None, "user-42"),
                ("track", "Demo Pressed", "user-42"),
            ]
            wait_until(lambda: page.inner_text("#deliveries").count("delivered") >= 2, page, "deliveries on the page")
            deliveries = page.inner_text("#deliveries")
            assert "Track Event · track \u201cDemo Pressed\u201d · 1flow-cloud" in deliveries  # the event's name
            assert "Identify User · identify · 1flow-cloud" in deliveries
            # The snippet's automatic page call: expected, so "not sent" and why, not a grey "filtered".
            page_row = page.locator("#deliveries li", has_text="· page · ")
            assert page_row.inner_text().endswith(
                "not sent · no subscription · page · 1flow-cloud — no subscription "
                "takes it (the presets send track and identify)"
            )
            assert page_row.locator(".note").count() == 1 and page.locator("#deliveries .problem").count() == 0
            assert page.locator('header a[href="/console"]').count() == 1
            # Half a laptop screen: the three columns become one, nothing scrolls sideways.
            page.set_viewport_size({"width": 800, "height": 900})
            assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
            lefts = page.evaluate(
                "[...document.querySelectorAll('main > section')].map(s => s.getBoundingClientRect().left)"
            )
            assert len(lefts) == 3 and len(set(lefts)) == 1
            overview = httpx.get(
                f"{server_url}/admin/api/v1/overview",
                headers={"Authorization": f"Bearer {console.group(2)}"},
                timeout=5,
            ).json()
            assert overview["destinations"][0]["delivered"] == 2

            # The loop: a survey answered in the fake 1Flow of the page, 1Flow's webhook from the sandbox to the
            # server's 1flow-answers source, the event in the console (filtered for 1Flow: not sent back).
            page.fill("#score", "7")
            page.click("#answer")
            wait_until(lambda: "delivered · webhook" in page.inner_text("#surveys"), page, "the answer's webhook")
            assert "user-42 · server answered 200" in page.inner_text("#surveys")

            def answer_in_console():
                items = httpx.get(
                    f"{server_url}/admin/api/v1/events",
                    headers={"Authorization": f"Bearer {console.group(2)}"},
                    timeout=5,
                ).json()["items"]
                return [i for i in items if i["source"] == "1flow-answers"]

            (answer,) = wait_until(answer_in_console, page, "the answer in the console")
            assert (answer["type"], answer["status"], answer["reason"]) == ("track", "filtered", "no_match")
            assert answer["messageId"].startswith("1flow-")
            assert errors == []
        finally:
            context.close()
    finally:
        demo.process.send_signal(signal.SIGINT)  # Ctrl-C
        status = demo.process.wait(timeout=30)
    out = demo.rest()
    assert status == 0, out
    assert out.rstrip().endswith("Stopped the server and the sandbox."), out
    assert "Traceback" not in out and "WARNING" not in out  # `make run` starts without a warning
    for url in (server_url, sandbox_url):
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=2)
    assert not re.search(r"1f_demo_[A-Za-z0-9_-]{8,}", out)  # the project key is shown masked only


def test_send_prints_the_verdicts_and_what_the_sandbox_received():
    result = subprocess.run([*cli_command(), "demo", "--send"], capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(
        r"event 1 \(identify\) · 1flow-demo · Identify User → delivered \(200 OK, POST http://127\.0\.0\.1:\d+/v1/identify\)",
        out,
    )
    assert re.search(r"event 2 \(track 'Checkout Completed'\) · 1flow-demo · Track Event → delivered \(200 OK", out)
    assert "event 3 (identify) · 1flow-demo · Identify User → filtered: not sent: Identify needs a userId" in out
    assert "What the 1Flow sandbox received (2 requests)" in out
    assert 'POST /v1/identify → 200  {"user_id": "user-42"' in out and "POST /v1/track → 200" in out
    assert out.rstrip().endswith("5. Sandbox stopped.")
    assert "****" in out and not re.search(r"1f_demo_[A-Za-z0-9_-]{8,}", out + result.stderr)
