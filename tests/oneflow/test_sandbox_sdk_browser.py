"""The fake 1Flow web SDK in a real browser: it reads its key from its script tag, exposes window._1flow in the
selected form, sets window.glob when the key is accepted, and reports every call to the sandbox across origins."""

from __future__ import annotations

import time

import pytest

from actions_1flow.secrets import mask_secret
from tests.helpers.browser import Site
from tests.helpers.sandbox import UNKNOWN_KEY, US_KEY

pytestmark = pytest.mark.browser


def open_page(chromium, site: Site, sdk_url: str, key: str, stub: bool = False):
    """A page on another origin that loads the SDK the way 1Flow documents (optionally after Segment's stub)."""
    stub_js = (
        "<script>window._1flow = function (e, d, v) "
        "{ setTimeout(function () { window._1flow(e, d, v ? v : {}) }, 5) }</script>"
        if stub
        else ""
    )
    html = (
        f'<html><head>{stub_js}<script async data-api-key="{key}" src="{sdk_url}"></script></head>'
        "<body>shop</body></html>"
    )
    url = site.add(f"/page-{len(site.pages)}.html", html)
    page = chromium.new_page()
    page.goto(url)
    return page


def wait_for_calls(sandbox, count: int, timeout: float = 10.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        calls = sandbox.calls("sdk")
        if len(calls) >= count or time.monotonic() > deadline:
            return calls
        time.sleep(0.05)


def test_callable_form_after_segments_stub(chromium, site, live_sandbox):
    page = open_page(chromium, site, live_sandbox.sdk_url("callable"), US_KEY, stub=True)
    # Segment's integration calls the stub before the SDK has loaded; the stub re-dispatches to the SDK later.
    page.evaluate("window._1flow('track', 'Signed Up', {userId: 'u-1', anonymousId: 'a-1', properties: {plan: 'pro'}})")
    page.wait_for_function("window.glob !== undefined")
    assert page.evaluate("typeof window._1flow") == "function"
    assert page.evaluate("window._1flow.logEvent === undefined")
    page.evaluate("window._1flow('identify', 'u-1', {email: 'a@example.com'})")
    calls = wait_for_calls(live_sandbox, 3)
    assert [(c["method"], c["args"]) for c in calls if c["method"] != "init"] == [
        ("track", ["Signed Up", {"userId": "u-1", "anonymousId": "a-1", "properties": {"plan": "pro"}}]),
        ("identify", ["u-1", {"email": "a@example.com"}]),
    ]
    assert all(c["form"] == "callable" and c["api_key"] == mask_secret(US_KEY) and c["status"] == 200 for c in calls)
    assert calls[0]["page"].startswith(site.url + "/page-")
    page.close()


def test_methods_form_with_logevent_loguser_and_on(chromium, site, live_sandbox):
    page = open_page(chromium, site, live_sandbox.sdk_url("methods"), US_KEY)
    page.wait_for_function("window.glob !== undefined")
    assert page.evaluate("typeof window._1flow") == "object"
    page.evaluate("window.readyFired = false; window._1flow.on('ready', function () { window.readyFired = true })")
    assert page.evaluate("window.readyFired") is True
    page.evaluate("window._1flow.logUser('u-2', {name: 'Ada'}); window._1flow.logEvent('Viewed', {page: 2})")
    calls = wait_for_calls(live_sandbox, 4)
    assert [(c["method"], c["args"]) for c in calls] == [
        ("init", []),
        ("on", ["ready"]),
        ("logUser", ["u-2", {"name": "Ada"}]),
        ("logEvent", ["Viewed", {"page": 2}]),
    ]
    page.close()


def test_default_form_is_the_one_1flow_publishes(chromium, site, live_sandbox):
    """1Flow's published SDK (javascript-1flow-sdk) calls `_1flow.logEvent/logUser/on` on an object, after
    `window.glob`: that is the sandbox's default; the other shapes are options."""
    page = open_page(chromium, site, live_sandbox.sdk_url(), US_KEY)
    page.wait_for_function("window.glob !== undefined")
    assert page.evaluate(
        "typeof window._1flow === 'object' && "
        "['logEvent', 'logUser', 'on'].every(m => typeof window._1flow[m] === 'function')"
    )
    page.evaluate("window._1flow.logEvent('Viewed', {page: 1})")
    assert [(c["method"], c["form"]) for c in wait_for_calls(live_sandbox, 2)] == [
        ("init", "methods"),
        ("logEvent", "methods"),
    ]
    page.close()


def test_both_form_is_callable_and_has_the_methods(chromium, site, live_sandbox):
    page = open_page(chromium, site, live_sandbox.sdk_url("both"), US_KEY)
    page.wait_for_function("window.glob !== undefined")
    assert page.evaluate("typeof window._1flow === 'function' && typeof window._1flow.logEvent === 'function'")
    page.close()


def test_refused_key_never_becomes_ready(chromium, site, live_sandbox):
    page = open_page(chromium, site, live_sandbox.sdk_url(), UNKNOWN_KEY)
    calls = wait_for_calls(live_sandbox, 1)
    assert [(c["method"], c["status"]) for c in calls] == [("init", 401)]
    page.wait_for_timeout(200)
    assert page.evaluate("window.glob") is None
    page.close()
