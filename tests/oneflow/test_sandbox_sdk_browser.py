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


def test_default_form_is_callable_as_segments_integration_calls_it(chromium, site, live_sandbox):
    """Segment's integration, last changed by 1Flow's own engineer in 2024, calls `_1flow('track' | 'identify', …)`
    through a stub that re-calls `window._1flow`: that only works with a callable SDK, so the sandbox's default is
    the callable form (docs/oneflow.md weighs the evidence); the methods form is an option."""
    page = open_page(chromium, site, live_sandbox.sdk_url(), US_KEY)
    page.wait_for_function("window.glob !== undefined")
    assert page.evaluate("typeof window._1flow === 'function' && window._1flow.logEvent === undefined")
    page.evaluate("window._1flow('track', 'Viewed', {properties: {page: 1}})")
    calls = wait_for_calls(live_sandbox, 2)
    assert [(c["method"], c["form"]) for c in calls] == [("init", "callable"), ("track", "callable")]
    assert calls[1]["args"] == ["Viewed", {"properties": {"page": 1}}]
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
