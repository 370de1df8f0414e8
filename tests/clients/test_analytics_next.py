"""analytics-next (the pinned npm package, served by our server) in real Chromium, on a customer page of its own
origin, sending to our tracking API through real CORS (nothing routed by Playwright), with batching off (`/v1/t`,
`/v1/i`, `/v1/p`) and on (`/v1/b`). Every event the browser was told was accepted (a 200 it saw) reaches the 1Flow
sandbox through the cloud-mode destination; refused ones (oversize) got the documented 4xx and reach nothing.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import delivered, wait_for_delivery
from tests.helpers.browser import Site
from tests.helpers.server import ServeProcess, cloud_config

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
TRACKING_PATH = re.compile(r"/v1/([a-z]+)$")


def snippet(server_url: str, write_key: str, load: str | None = None) -> str:
    """docs/web.md's snippet for our server and key; `load` replaces its `analytics.load(writeKey);` line."""
    text = (DOCS / "web.md").read_text(encoding="utf-8")
    html = re.search(r"```html\n(.*?)```", text[text.index("### 3. Add the snippet to your page") :], re.S).group(1)
    html = html.replace('"http://127.0.0.1:8080"', json.dumps(server_url)).replace(
        '"wk_web_demo"', json.dumps(write_key)
    )
    if load is not None:
        assert html.count("analytics.load(writeKey);") == 1
        html = html.replace("analytics.load(writeKey);", load)
    return html


def batching_load() -> str:
    """The batching load call of docs/clients.md, with a small batch and a short timeout for the test."""
    text = (DOCS / "clients.md").read_text(encoding="utf-8")
    call = re.search(r"(analytics\.load\(writeKey, \{.*?\}\);)", text, re.S).group(1)
    assert "deliveryStrategy" in call and '"batching"' in call
    return re.sub(r"size: \d+, timeout: \d+", "size: 5, timeout: 300", call)


@pytest.fixture(scope="module")
def browser_server(sandbox_server, site, tmp_path_factory):
    directory = tmp_path_factory.mktemp("browser")
    sources = [{"name": "browser", "write_key": "wk_browser", "cors_origins": [site.url]}]
    server = ServeProcess(cloud_config(directory, sandbox_server.api_url(), sources), directory / "serve.log")
    yield server
    assert server.stop() in (0, -15), server.log_text()
    assert "Traceback" not in server.log_text()


class Page:
    """A fresh browser context on one customer page; records every tracking request and what the server said."""

    def __init__(self, chromium, site: Site, server: ServeProcess, run: str, load: str | None = None) -> None:
        self.server = server
        html = f"<!doctype html><html><head>{snippet(server.url, 'wk_browser', load)}</head><body>shop</body></html>"
        url = site.add(f"/{run}.html", html)
        self.context = chromium.new_context()
        self.page = self.context.new_page()
        self.answers: list[tuple[str, int, dict[str, Any], dict[str, Any]]] = []
        self.page.on("response", self._answered)
        self.page.goto(f"{url}?run={run}")
        self.page.wait_for_function("window.analytics && window.analytics.initialized === true", timeout=10_000)

    def _answered(self, response) -> None:
        match = TRACKING_PATH.search(response.url)
        if response.request.method != "POST" or not response.url.startswith(self.server.url) or not match:
            return
        try:
            answer = response.json()
        except Exception:
            answer = {}
        self.answers.append((match.group(1), response.status, json.loads(response.request.post_data), answer))

    def wait_for(self, predicate, what: str, timeout: float = 20.0) -> None:
        """Poll while letting Playwright deliver its events (they arrive only inside its calls)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not within {timeout:g}s; answers so far: {[(e, s) for e, s, _, _ in self.answers]}"
                )
            self.page.wait_for_timeout(100)

    def accepted_events(self) -> list[dict[str, Any]]:
        """Every event in a request the server answered 200."""
        events = []
        for endpoint, status, body, _ in self.answers:
            if status == 200:
                events.extend(body["batch"] if endpoint == "b" else [body])
        return events

    def close(self) -> None:
        self.context.close()


def expected_in_1flow(events: list[dict[str, Any]]) -> Counter:
    """What the cloud destination makes of accepted events (identify → identify, track → track, page → Page Viewed)."""
    found: Counter = Counter()
    for e in events:
        if e["type"] == "identify":
            found[("identify", e["userId"], e["traits"].get("n"))] += 1
        elif e["type"] == "track":
            found[("track", e["event"], e["properties"].get("n"))] += 1
        elif e["type"] == "page":
            found[("track", "Page Viewed", e["properties"].get("n"))] += 1
    return found


CALLS = """async ({run, big}) => {
  await analytics.identify("user-br", {run, n: 0, plan: "pro"});
  for (let n = 1; n <= 10; n++) await analytics.track("Clicked", {run, n});
  await analytics.page("Pricing", {run, n: 11});
  await analytics.track("Too Big", {run, n: 12, blob: "x".repeat(big)});
  for (let n = 13; n <= 15; n++) await analytics.track("Clicked", {run, n});
}"""


def test_batching_off_one_request_per_event(chromium, site, browser_server, live_sandbox, run_id):
    page = Page(chromium, site, browser_server, run_id)
    try:
        page.page.evaluate(CALLS, {"run": run_id, "big": 40_000})
        page.wait_for(lambda: len(page.answers) >= 17, "17 tracking requests answered")  # page() on load + 16
        endpoints = Counter(endpoint for endpoint, *_ in page.answers)
        assert endpoints == {"t": 14, "p": 2, "i": 1}
        refused = [(status, answer) for _, status, _, answer in page.answers if status != 200]
        assert len(refused) == 1 and refused[0][0] == 400
        assert refused[0][1]["code"] == "event_too_large" and refused[0][1]["limit"] == 32 * 1024
        accepted = page.accepted_events()
        assert len(accepted) == 16 and all(e["writeKey"] == "wk_browser" for e in accepted)
        wait_for_delivery(live_sandbox, run_id, expected_in_1flow(accepted))
        assert not [k for k in delivered(live_sandbox, run_id) if k[1] == "Too Big"]
    finally:
        page.close()


def test_batching_on_through_load_options(chromium, site, browser_server, live_sandbox, run_id):
    page = Page(chromium, site, browser_server, run_id, load=batching_load())
    try:
        page.page.evaluate(CALLS, {"run": run_id, "big": 40_000})
        # 17 events in batches of at most 5; the batch carrying the oversize event is refused as a whole
        page.wait_for(lambda: sum(len(b["batch"]) for _, _, b, _ in page.answers) >= 17, "every event sent")
        assert {endpoint for endpoint, *_ in page.answers} == {"b"}
        # At least two batches (one refused, one accepted). Not "17 / 5": while a flush is in flight analytics-next
        # keeps queueing and sends the rest in one later batch, so a slow answer (a busy machine) means fewer,
        # larger batches.
        assert len(page.answers) >= 2
        refused = [(status, body, answer) for _, status, body, answer in page.answers if status != 200]
        assert [(status, answer["code"]) for status, _, answer in refused] == [(400, "event_too_large")]
        assert "Too Big" in [e.get("event") for e in refused[0][1]["batch"]]
        accepted = page.accepted_events()
        assert 0 < len(accepted) < 17
        wait_for_delivery(live_sandbox, run_id, expected_in_1flow(accepted))
    finally:
        page.close()


def test_a_page_on_an_unlisted_origin_cannot_send(chromium, browser_server, live_sandbox, run_id):
    other = Site()  # a site whose origin is not in the source's cors_origins
    try:
        page = Page(chromium, other, browser_server, run_id)
        try:
            page.page.evaluate("async ({run}) => { analytics.track('Foreign', {run, n: 1}) }", {"run": run_id})
            page.wait_for(lambda: f"origin {other.url}" in browser_server.log_text(), "the refusal logged")
            # the preflight is refused, so the browser never sends the event (and the page cannot read an answer)
            assert page.answers == []
            time.sleep(0.5)
            assert delivered(live_sandbox, run_id) == Counter()
        finally:
            page.close()
    finally:
        other.stop()
