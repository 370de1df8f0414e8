"""The console against `actions-1flow serve` and the 1Flow sandbox. In each browser engine (Chromium, Firefox,
WebKit): log in, the overview's chart, the event log and an event page (the hostile one too) render without a
script error or a CSP violation. In Chromium, through Playwright, every page in depth: the overview's figures
against `status --json`, an event's request and response, the Event Tester, the mappings editor's caret, a replay
from the console delivered exactly once, and hostile event text shown as text everywhere (no dialog, no injected
element, no CSP violation). A screenshot of each page goes to var/screenshots/ (docs/console.md shows them)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml

from actions_1flow.secrets import mask_secret
from tests.helpers.cli import invoke
from tests.helpers.pipeline import wait_until
from tests.helpers.sandbox import US_KEY
from tests.helpers.server import PRESET_SUBSCRIPTIONS, ServeProcess

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
TOKEN = "console-browser-token-0123456789"
WRITE_KEY = "wk_console"
DEST = "1flow-cloud"
DEVICE = "1flow-web"

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_ID = 'xss-"><img src=x onerror=alert(2)>'
XSS_TRAITS = {
    "name": '<script>alert(3)</script><b id="xss-b">bold</b>',
    "bio": '<svg onload=alert(4)></svg><i class="xss-i">it</i>',
}
HOSTILE_SELECTOR = 'img[src="x"], #xss-b, .xss-i, svg[onload], script:not([src])'

SUBSCRIPTIONS = PRESET_SUBSCRIPTIONS

WATCH = """
window.__dialogs = [];
window.__csp = [];
for (const name of ['alert', 'confirm', 'prompt']) {
  const original = window[name];
  window[name] = function (...args) { window.__dialogs.push([name, String(args[0])]); };
}
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""  # noqa: E501 -- the init script is kept byte for byte
"""Init scripts run before the page's own (and are exempt from its CSP): they record any dialog a script opens and
every CSP violation."""


def write_console_config(directory: Path, api_url: str, storage: str | None = None) -> Path:
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1"},
        "storage": storage or f"sqlite:///{directory / 'events.db'}",
        "pipeline": {"poll_interval": "50ms", "batch_age": "50ms", "retry_base": "200ms", "retry_cap": "1s"},
        "admin": {"token": TOKEN},
        "sources": [{"name": "web", "write_key": WRITE_KEY}],
        "destinations": [
            {
                "name": DEST,
                "mode": "cloud",
                "sources": ["web"],
                "settings": {"projectApiKey": US_KEY, "apiBaseUrl": api_url},
                "subscriptions": SUBSCRIPTIONS,
            },
            {
                "name": DEVICE,
                "mode": "device",
                "sources": ["web"],
                "settings": {"projectApiKey": US_KEY},
                "subscriptions": SUBSCRIPTIONS,
            },
        ],
    }
    path = directory / "console.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def status_rows(config: Path) -> dict[str, dict[str, Any]]:
    result = invoke("status", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return {r["destination"]: r for r in rows if "destination" in r}


def tagged(sandbox, tag: str) -> list[int]:
    """The statuses of the sandbox's answers to requests carrying the event tagged `tag`."""
    found = []
    for call in sandbox.calls("http"):
        body = call.get("body") or {}
        items = body.get("batch", [body]) if isinstance(body, dict) else []
        if any(isinstance(i, dict) and (i.get("properties") or {}).get("tag") == tag for i in items):
            found.append(call["status"])
    return found


@pytest.fixture(scope="module")
def console(tmp_path_factory, sandbox_server):
    """The server with the console on, and events in every state: delivered, filtered (no subscription), one
    dead-lettered (the sandbox answered 401 once), and the hostile one."""
    sandbox_server.reset()
    directory = tmp_path_factory.mktemp("console")
    config = write_console_config(directory, sandbox_server.api_url())
    server = ServeProcess(config, directory / "serve.log", "--log-level", "warning")
    post = lambda batch: httpx.post(server.url + "/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=5)  # noqa: E731
    try:
        for n in (1, 2):  # one at a time: each its own request, answered 401 once
            sandbox_server.fault(count=1, status=401)
            assert (
                post(
                    [
                        {
                            "type": "track",
                            "event": "Doomed",
                            "userId": "u-dead",
                            "messageId": f"dead-{n}",
                            "properties": {"tag": f"dead-{n}"},
                        }
                    ]
                ).status_code
                == 200
            )
            wait_until(lambda n=n: status_rows(config)[DEST]["dead"] == n, 15, f"dead-lettered delivery {n}")
        batch = [
            *(
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": f"u-{n}",
                    "messageId": f"ok-{n}",
                    "properties": {"tag": f"ok-{n}", "revenue": n},
                }
                for n in range(6)
            ),
            {"type": "identify", "userId": "u-1", "messageId": "id-1", "traits": {"plan": "pro"}},
            {"type": "page", "name": "Home", "anonymousId": "a-1", "messageId": "page-1"},  # no subscription: filtered
            {
                "type": "track",
                "event": XSS_NAME,
                "userId": "<b>u-x</b>",
                "messageId": XSS_ID,
                "properties": {"tag": "xss", **XSS_TRAITS},
            },
            {"type": "identify", "userId": "u-xss", "messageId": "xss-identify", "traits": XSS_TRAITS},
        ]
        assert post(batch).status_code == 200
        report = {
            "writeKey": WRITE_KEY,
            "destination": DEVICE,
            "kind": "sdk-call",
            "message": f'track {XSS_NAME} failed: <b class="xss-i">x</b>',
            "messageId": XSS_ID,
        }
        beacon = httpx.post(
            server.url + "/v1/device-events", content=json.dumps(report), headers={"content-type": "text/plain"}
        )
        assert beacon.status_code == 204, beacon.text
        wait_until(
            lambda: (lambda r: r["pending"] == 0 and r["retrying"] == 0 and r["delivered"] >= 9)(
                status_rows(config)[DEST]
            ),
            15,
            "the batch delivered",
        )
        yield server, config, sandbox_server
    finally:
        server.stop()


def open_page(browser, base_url: str):
    """A fresh context on the server (its own cookies) watching for dialogs, CSP violations and script errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url)
    context.add_init_script(WATCH)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


@pytest.fixture(scope="module")
def browser_page(console, chromium):
    server, _, _ = console
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_page(chromium, server.url)
    yield page
    page.context.close()


def log_in(page) -> None:
    page.goto("/console")
    assert "/console/login" in page.url
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/console")


def check_overview(page, config: Path) -> dict[str, Any]:
    """The overview's funnel equals `status --json` and the chart has drawn; returns the status row."""
    page.goto("/console")
    card = page.locator(f'section.funnel[data-destination="{DEST}"]')
    card.locator('[data-field="received"]').wait_for()
    page.wait_for_selector("#chart[data-ready] canvas")
    row = status_rows(config)[DEST]
    for field in ("received", "filtered", "retrying", "dead", "delivered", "pending"):
        assert card.locator(f'[data-field="{field}"]').inner_text().replace(",", "") == str(row[field]), field
    drawn = page.evaluate(
        "() => { const c = document.querySelector('#chart canvas'); "
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;\n"
        "                   let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; "
        "return [c.width, c.height, n] }"
    )
    assert drawn[0] > 300 and drawn[1] > 100 and drawn[2] > 500, drawn  # axes, grid and the series' lines
    assert page.locator(".u-legend").inner_text().count("delivered") == 1
    return row


def assert_clean(page) -> None:
    """No dialog opened, no hostile element made it into the DOM, no CSP violation, no script error."""
    assert page.dialogs == [] and page.evaluate("window.__dialogs") == []
    assert page.evaluate(f"document.querySelectorAll({json.dumps(HOSTILE_SELECTOR)}).length") == 0
    assert page.evaluate("window.__csp") == []
    assert page.errors == []


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_login_then_every_page(console, browser_page):
    _, config, sandbox = console
    page = browser_page

    # -- log in ---------------------------------------------------------------------------------------------------
    page.goto("/console/events")
    assert "/console/login" in page.url
    shot(page, "login")
    page.fill("input[name=token]", "wrong-token-wrong-token")
    page.click("button[type=submit]")
    assert "/console/login" in page.url
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/events")

    # -- overview: the funnel equals `status --json`; the chart draws -----------------------------------------------
    row = check_overview(page, config)
    assert row["dead"] == 2 and row["filtered"] >= 1 and row["delivered"] >= 9
    shot(page, "overview")
    page.click('button[data-range="24h"]')
    page.wait_for_function(
        "() => document.querySelector('button[data-range=\"24h\"]').getAttribute('aria-pressed') === 'true'"
    )
    page.wait_for_selector("#chart canvas")
    assert_clean(page)

    # -- event delivery: the log, then an event's request and response ----------------------------------------------
    page.goto("/console/events")
    page.wait_for_selector('body[data-loaded="events"]')
    assert_clean(page)
    assert page.locator("#log tbody tr").count() >= 10
    xss_row = page.locator("#log tbody tr", has_text=XSS_ID)
    assert xss_row.count() >= 1
    assert page.locator("#log thead th").nth(3).inner_text() == "Source"  # where each event came from
    assert page.locator("#log tbody tr").first.locator("td").nth(3).inner_text() == "web"
    ok_cells = page.locator('#log tbody tr[data-message-id="ok-3"] td').all_inner_texts()
    assert ok_cells[4:7] == ["track", "Order Completed", "ok-3"]  # type, event name, messageId
    shot(page, "events")
    page.select_option("select[name=status]", "dead")
    page.click("#filters button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#log tbody tr').length === 2")
    assert "dead-1" in page.locator("#log tbody").inner_text() and "dead-2" in page.locator("#log tbody").inner_text()
    assert_clean(page)

    page.goto("/console/events")
    page.wait_for_selector('body[data-loaded="events"]')
    page.locator("#log tbody tr", has_text="ok-3").first.click()
    page.wait_for_selector('body[data-loaded="event"]')
    delivery = page.locator("article.delivery").first
    request = delivery.locator("pre.request").inner_text()
    response = delivery.locator("pre.response").inner_text()
    assert mask_secret(US_KEY) in request and US_KEY not in page.content()
    assert request.startswith("POST ") and "/v1/batch" in request and "200" in response, (request, response)
    assert delivery.locator(".badge").inner_text() == "delivered"
    shot(page, "event")

    # the hostile event: its name, id and traits as text
    page.goto("/console/events")
    page.wait_for_selector('body[data-loaded="events"]')
    page.locator("#log tbody tr a", has_text=XSS_ID).first.click()
    page.wait_for_selector('body[data-loaded="event"]')
    assert XSS_NAME in page.locator("#facts").inner_text() and XSS_ID in page.locator("#facts").inner_text()
    assert XSS_TRAITS["name"] in page.locator("#event-json").inner_text().replace('\\"', '"')
    payload = page.locator(f'#verdicts tr[data-destination="{DEST}"][data-subscription="Track Event"] pre').inner_text()
    assert XSS_NAME in payload and XSS_TRAITS["bio"] in payload.replace('\\"', '"')
    shot(page, "event-hostile")
    assert_clean(page)

    # -- Event Tester: the matched subscription and its payload, then "Send to 1Flow" --------------------------------
    page.goto("/console/tester")
    results = page.locator("#tester-results")
    results.locator('article.result[data-subscription="Track Event"]').wait_for()
    track = results.locator('article.result[data-subscription="Track Event"]')
    assert "Order Completed" in track.locator("pre").inner_text()
    hostile = {
        "type": "track",
        "event": XSS_NAME,
        "userId": "u-t",
        "messageId": "tester-xss",
        "properties": {"tag": "tester", **XSS_TRAITS},
    }
    page.fill("#tester-event", json.dumps(hostile, indent=2))
    page.wait_for_function(
        "(name) => document.querySelector('#tester-results').textContent.includes(name)", arg=XSS_NAME
    )
    track = results.locator('article.result[data-subscription="Track Event"]')
    identify = results.locator('article.result[data-subscription="Identify User"]')
    assert track.get_attribute("data-status") != identify.get_attribute("data-status")  # one matched, one did not
    assert XSS_TRAITS["bio"] in track.locator("pre").inner_text().replace('\\"', '"')
    page.fill("#tester-event", '{"type": "track",')
    page.wait_for_selector("#tester-parse:not([hidden])")
    assert "Not valid JSON" in page.locator("#tester-parse").inner_text()
    page.fill("#tester-event", json.dumps(hostile, indent=2))
    page.wait_for_selector("#tester-parse", state="hidden")
    page.click("#tester-send")
    page.wait_for_selector("#tester-sent:not([hidden]) pre.response")
    sent = page.locator("#tester-sent")
    assert (
        mask_secret(US_KEY) in sent.locator("pre.request").inner_text()
        and "200" in sent.locator("pre.response").inner_text()
    )
    sent_request = json.loads(sent.locator("pre.request").inner_text())
    body = sent_request["body"]  # the body as JSON, not an escaped string
    assert isinstance(body, dict) and body.get("batch", [body])[0]["event"] == XSS_NAME
    wait_until(lambda: tagged(sandbox, "tester") == [200], 5, "the tester's event at the sandbox")
    shot(page, "tester")
    assert_clean(page)

    # -- Mappings: the caret for bad FQL, Segment's mapping message, the YAML ---------------------------------------
    page.goto("/console/mappings")
    card = page.locator(f'section.subscription[data-destination="{DEST}"][data-subscription="Track Event"]')
    card.locator(".trigger-result .badge").wait_for()
    assert card.locator(".trigger-result").inner_text().count("matches") == 1
    assert "Order Completed" in card.locator(".mapping-result pre").inner_text()
    assert "subscribe:" in card.locator("pre.yaml").text_content()
    card.locator("button.copy-yaml").click()
    card.locator("button.copy-yaml", has_text="Copied").wait_for()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert (
        "name: Track Event" in copied
        and 'subscribe: type = "track"' in copied
        and "partnerAction: trackEvent" in copied
    ), copied
    card.locator("textarea.fql").fill('type = "track" and')
    card.locator("pre.fql-error").wait_for()
    error = card.locator("pre.fql-error").inner_text()
    assert "^" in error, error
    card.locator("textarea.fql").fill('type = "track"')
    card.locator(".trigger-result .badge").wait_for()
    mapping = json.loads(card.locator("textarea:not(.fql)").input_value())
    mapping.pop("event_name")
    card.locator("textarea:not(.fql)").fill(json.dumps(mapping))
    card.locator("pre.mapping-error").wait_for()
    assert "event_name" in card.locator("pre.mapping-error").inner_text()
    page.fill("#mapping-event", json.dumps(hostile, indent=2))
    card.locator(".mapping-result pre", has_text="<svg onload=alert(4)></svg>").wait_for()  # the payload, as text
    assert XSS_TRAITS["name"] in card.locator(".mapping-result pre").last.inner_text().replace('\\"', '"')
    card.locator("textarea.fql").fill('type = "track" and event = ')
    card.locator("pre.fql-error").wait_for()
    shot(page, "mappings")
    assert_clean(page)

    # -- Destinations: masked settings and the state -----------------------------------------------------------------
    page.goto("/console/destinations")
    page.wait_for_selector('body[data-loaded="destinations"]')
    dest = page.locator(f'section[data-destination="{DEST}"]')
    assert mask_secret(US_KEY) in dest.inner_text() and US_KEY not in page.content()
    assert dest.locator(".badge").inner_text() in ("delivering", "idle", "backing-off")
    device = page.locator(f'section[data-destination="{DEVICE}"]')
    assert device.locator("table", has_text=XSS_NAME).count() == 1  # its latest report, as text
    assert f"track {XSS_NAME} failed" in page.locator("#device-events").inner_text()
    shot(page, "destinations")
    page.click("#reload")
    page.locator("#reload-result .flash.ok").wait_for()  # the same file again: accepted
    assert_clean(page)

    # -- Replay: one dead letter from its event page, the other from the Replay page; each delivered exactly once ----
    assert tagged(sandbox, "dead-1") == [401] and tagged(sandbox, "dead-2") == [401]
    page.goto("/console/events/dead-1?source=web")
    page.wait_for_selector('body[data-loaded="event"]')
    page.click("button.replay")
    page.locator(".confirm", has_text="Re-queue this dead-lettered delivery").wait_for()  # its own batch: one
    page.click('button[data-confirm="replay"]')
    page.wait_for_function(
        "() => document.querySelector('#flash').textContent.startsWith('Replay finished')", timeout=20_000
    )
    assert page.locator("#flash").inner_text() == "Replay finished: delivered"
    assert page.locator("article.delivery .badge").first.inner_text() == "delivered"
    assert tagged(sandbox, "dead-1") == [401, 200] and tagged(sandbox, "dead-2") == [401]

    page.goto("/console/replay")
    page.locator("select[name=destination] option", has_text=DEST).wait_for(state="attached")
    page.select_option("select[name=destination]", DEST)
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#replay-count[data-count]")
    assert page.locator("#replay-count").get_attribute("data-count") == "1"
    assert status_rows(config)[DEST]["dead"] == 1  # a dry run only counts
    page.click("#replay-confirm")
    page.wait_for_selector('#replay-status[data-done="true"]', timeout=20_000)
    assert "Replayed 1 of 1" in page.locator("#replay-status").inner_text()
    assert page.locator("#replay-bar").evaluate("b => b.value === b.max")
    shot(page, "replay")
    time.sleep(0.5)  # several worker rounds: nothing more may go out
    assert tagged(sandbox, "dead-1") == [401, 200] and tagged(sandbox, "dead-2") == [401, 200]
    row = status_rows(config)[DEST]
    assert row["dead"] == 0 and row["retrying"] == 0
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#replay-count[data-count='0']")
    assert tagged(sandbox, "dead-1") == [401, 200] and tagged(sandbox, "dead-2") == [401, 200]
    # Delivered ones, after a fix: the two replayed with this configuration are left alone (a dry run only).
    page.select_option("select[name=status]", "delivered")
    page.click("#replay-form button[type=submit]")
    page.wait_for_selector("#replay-count[data-already='2']")
    assert "2 already replayed with this configuration" in page.locator("#replay-count").inner_text()
    assert_clean(page)

    # -- log out: the pages want a session again ---------------------------------------------------------------------
    page.goto("/console")
    page.click("header .logout button")
    page.wait_for_url("**/console/login**")
    page.goto("/console/events")
    assert "/console/login" in page.url


LAYOUT = """() => {
  const page = document.documentElement
  const header = document.querySelector('header.top')
  const nav = header && header.querySelector('nav')
  const inside = (inner, outer) => inner.top >= outer.top && inner.bottom <= outer.bottom &&
    inner.left >= outer.left && inner.right <= outer.right
  // Each word's width is the sum of the widths of a Range's client rects around it (its pieces, if it was broken
  // over lines); the cell's width is its content box. A cell narrower than a word of its own is listed.
  const narrow = []
  for (const cell of document.querySelectorAll('td, th')) {
    const style = getComputedStyle(cell)
    const width = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest('pre')) continue  // code scrolls inside its own box
      for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange()
        range.setStart(node, match.index)
        range.setEnd(node, match.index + match[0].length)
        const wordWidth = [...range.getClientRects()].reduce((sum, r) => sum + r.width, 0)
        if (wordWidth > width + 0.5) narrow.push([match[0], Math.round(wordWidth), Math.round(width)])
      }
    }
  }
  return {
    overflow: page.scrollWidth - page.clientWidth,
    navInHeader: !nav || inside(nav.getBoundingClientRect(), header.getBoundingClientRect()),
    cells: document.querySelectorAll('td, th').length,
    narrow,
  }
}"""
"""What a narrow window breaks: the document scrolling sideways, the nav falling out of the header, and a table
cell narrower than one of its words (a word's width measured with a Range around it, whole or in pieces)."""

CONSOLE_PAGES = {
    "overview": ("/console", "#chart[data-ready] canvas"),
    "events": ("/console/events", 'body[data-loaded="events"]'),
    "event": ("/console/events/ok-3?source=web", 'body[data-loaded="event"]'),
    "tester": ("/console/tester", 'article.result[data-subscription="Track Event"]'),
    "mappings": ("/console/mappings", ".trigger-result .badge"),
    "destinations": ("/console/destinations", 'body[data-loaded="destinations"]'),
    "replay": ("/console/replay", "#replay-form"),
}


@pytest.mark.parametrize("width", [800, 1366])
def test_every_console_page_fits_the_window(console, chromium, width):
    """At 800 px (half a laptop screen) and 1366 px: no page scrolls sideways, the nav stays in the header, and
    no table cell is narrower than its longest word (wide tables scroll inside their own box)."""
    server, _, _ = console
    context = chromium.new_context(viewport={"width": width, "height": 900}, base_url=server.url)
    page = context.new_page()
    try:
        page.goto("/console/login")
        assert page.evaluate(LAYOUT)["overflow"] == 0
        log_in(page)
        measured = {}
        for name, (path, ready) in CONSOLE_PAGES.items():
            page.goto(path)
            page.wait_for_selector(ready)
            measured[name] = page.evaluate(LAYOUT)
            if width == 800:
                shot(page, f"narrow-{name}")
        for name, found in measured.items():
            assert found["overflow"] == 0, (name, found)
            assert found["navInHeader"], name
            assert found["narrow"] == [], (name, found["narrow"])
        assert measured["events"]["cells"] >= 9 * 10 and measured["event"]["cells"] > 0  # tables were measured
    finally:
        context.close()


def test_the_console_on_postgresql(chromium, pg_url, live_sandbox, tmp_path):
    """The same pages over a PostgreSQL store: the overview equals `status --json`, the chart draws, the log
    lists every delivery row and an event shows its request and response."""
    config = write_console_config(tmp_path, live_sandbox.api_url(), storage=pg_url)
    server = ServeProcess(config, tmp_path / "serve.log", "--log-level", "warning")
    page = None
    try:
        batch = [
            {
                "type": "track",
                "event": "Signed Up",
                "userId": f"pg-{n}",
                "messageId": f"pg-{n}",
                "properties": {"tag": f"pg-{n}"},
            }
            for n in range(5)
        ]
        batch.append({"type": "page", "name": "Home", "anonymousId": "a-pg", "messageId": "pg-page"})
        assert (
            httpx.post(server.url + "/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=5).status_code
            == 200
        )
        wait_until(
            lambda: (lambda r: r["pending"] == 0 and r["delivered"] == 5 and r["filtered"] == 1)(
                status_rows(config)[DEST]
            ),
            15,
            "the batch delivered",
        )
        page = open_page(chromium, server.url)
        log_in(page)
        check_overview(page, config)
        page.goto("/console/events")
        page.wait_for_selector('body[data-loaded="events"]')
        assert page.locator("#log tbody tr").count() == 6
        page.locator("#log tbody tr a", has_text="pg-2").click()
        page.wait_for_selector('body[data-loaded="event"]')
        assert (
            "/v1/batch" in page.locator("pre.request").first.inner_text()
            and "200" in page.locator("pre.response").first.inner_text()
        )
        assert_clean(page)
    finally:
        if page is not None:
            page.context.close()
        server.stop()


DRAWN = """() => {
  const canvas = document.querySelector('#chart[data-ready] canvas');
  if (!canvas) return null;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) drawn++;
  return [canvas.width, canvas.height, drawn];
}"""
"""The chart's canvas size and how many of its pixels are drawn, once it is ready (else null)."""


def test_login_overview_log_and_event_pages_render_in_each_engine(console, engine):
    """Each engine: the login form, then (logged in through it) the overview with its funnel and drawn chart, the
    event log, a delivered event's request and response, and the hostile event as text; no page has a script
    error, a rejected promise, a `console.error` or a CSP violation."""
    server, config, _ = console
    tab = engine.open(server.url + "/console/events")
    try:
        assert tab.evaluate("() => location.pathname") == "/console/login"
        tab.evaluate(
            "(token) => { document.querySelector('input[name=token]').value = token;"
            " setTimeout(() => document.querySelector('form').submit()) }",
            TOKEN,
        )
        tab.wait_for("() => document.body.dataset.loaded === 'events'", timeout=15, what="logged in, the event log")
        assert tab.evaluate("() => location.pathname") == "/console/events"
        assert tab.evaluate("() => document.querySelectorAll('#log tbody tr').length") >= 10
        assert tab.errors() == []

        tab.goto(server.url + "/console")
        width, height, drawn = tab.wait_for(DRAWN, timeout=15, what="the overview's chart drawn")
        assert width > 300 and height > 100 and drawn > 500, (width, height, drawn)  # axes, grid and the series
        received = tab.wait_for(
            "(dest) => { const f = document.querySelector(`section.funnel[data-destination='${dest}']"
            " [data-field=received]`); return f && f.textContent.trim() }",
            DEST,
        )
        assert received.replace(",", "") == str(status_rows(config)[DEST]["received"])
        assert tab.errors() == []

        tab.goto(server.url + "/console/events/ok-3?source=web")
        tab.wait_for("() => document.body.dataset.loaded === 'event'", what="the event page")
        request, response = tab.evaluate(
            "() => ['pre.request', 'pre.response']"
            ".map((s) => document.querySelector('article.delivery ' + s).textContent)"
        )
        assert request.startswith("POST ") and "/v1/batch" in request and mask_secret(US_KEY) in request
        assert "200" in response
        assert tab.errors() == []

        tab.goto(server.url + "/console/events/" + quote(XSS_ID, safe="") + "?source=web")
        tab.wait_for("() => document.body.dataset.loaded === 'event'", what="the hostile event's page")
        assert XSS_NAME in tab.evaluate("() => document.querySelector('#facts').textContent")
        assert tab.evaluate("(selector) => document.querySelectorAll(selector).length", HOSTILE_SELECTOR) == 0
        assert US_KEY not in tab.evaluate("() => document.documentElement.outerHTML")
        assert tab.errors() == []
    finally:
        tab.close()
