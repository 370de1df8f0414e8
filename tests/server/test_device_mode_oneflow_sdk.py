"""1Flow's SDK as Segment's integration calls it, in real Chromium with stock analytics-next and docs/web.md's
snippet: the sandbox's SDK in its default (callable) form gets `_1flow('identify', userId, traits)` and
`_1flow('track', name, {userId, anonymousId, properties})`; an SDK that also has the methods is still called that
way; the optional page preset runs in the page; and the settings document, which also names 1Flow's mobile plugin
for apps, makes analytics-next load the web plugin and nothing else.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.helpers.sandbox import US_KEY
from tests.helpers.server import OPTIONAL_SUBSCRIPTIONS, PRESET_SUBSCRIPTIONS, ServeProcess
from tests.server.test_device_mode_browser import DOCS_SERVER, DOCS_WRITE_KEY, docs_snippet, sdk_calls, wait_loaded

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory, sandbox_server):
    """Source `default` loads the sandbox's SDK as served by default, `both` the callable that also has methods,
    `pages` the default SDK with Segment's presets plus the optional page preset."""
    tmp = tmp_path_factory.mktemp("sdkforms")

    def destination(source: str, sdk_url: str, subscriptions) -> dict:
        return {
            "name": f"1flow-{source}",
            "type": "1flow",
            "mode": "device",
            "sources": [source],
            "settings": {"projectApiKey": US_KEY, "sdkUrl": sdk_url},
            "subscriptions": subscriptions,
        }

    config = {
        "storage": f"sqlite:///{tmp}/db.sqlite",
        "sources": [{"name": s, "write_key": f"wk_{s}"} for s in ("default", "both", "pages")],
        "destinations": [
            destination("default", sandbox_server.sdk_url(), "presets"),
            destination("both", sandbox_server.sdk_url("both"), "presets"),
            destination(
                "pages", sandbox_server.sdk_url(), [*PRESET_SUBSCRIPTIONS, OPTIONAL_SUBSCRIPTIONS["Track Page"]]
            ),
        ],
    }
    path = tmp / "server.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    server = ServeProcess(path, tmp / "serve.log", "--no-worker", "--log-level", "info")
    yield server
    assert server.stop() in (0, -15), server.log_text()


@pytest.fixture
def open_page(chromium, site, sdk_server):
    contexts = []

    def open_(write_key: str):
        snippet = docs_snippet().replace(DOCS_SERVER, json.dumps(sdk_server.url))
        snippet = snippet.replace(DOCS_WRITE_KEY, json.dumps(write_key))
        url = site.add(f"/{write_key}-{len(site.pages)}.html", f"<!doctype html><html><head>{snippet}</head></html>")
        context = chromium.new_context()
        contexts.append(context)
        page = context.new_page()
        page.requests, page.errors = [], []
        page.on("request", lambda request: page.requests.append(request.url))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(url)
        page.wait_for_function("() => window.analytics && window.analytics.initialized === true", timeout=10_000)
        wait_loaded(page)
        return page

    yield open_
    for context in contexts:
        context.close()


def test_the_default_sdk_is_called_as_segment_calls_it(open_page, live_sandbox):
    page = open_page("wk_default")
    page.evaluate(
        "async () => { await analytics.identify({plan: 'free'});"  # no userId: not sent
        " await analytics.identify('u1', {plan: 'pro'});"
        " await analytics.track('Order Completed', {total: 5}) }"
    )
    anonymous_id = page.evaluate("analytics.user().anonymousId()")
    assert anonymous_id
    assert sdk_calls(live_sandbox, 2) == [
        ("identify", ["u1", {"plan": "pro"}]),
        ("track", ["Order Completed", {"userId": "u1", "anonymousId": anonymous_id, "properties": {"total": 5}}]),
    ]
    assert {c["form"] for c in live_sandbox.calls("sdk")} == {"callable"}  # the sandbox's default
    assert page.errors == []


def test_an_sdk_with_both_forms_gets_segments_call(open_page, live_sandbox):
    page = open_page("wk_both")
    assert page.evaluate("typeof window._1flow === 'function' && typeof window._1flow.logEvent === 'function'")
    page.evaluate("async () => { await analytics.track('Signed Up', {plan: 'pro'}) }")
    anonymous_id = page.evaluate("analytics.user().anonymousId()")
    assert sdk_calls(live_sandbox, 1) == [
        ("track", ["Signed Up", {"anonymousId": anonymous_id, "properties": {"plan": "pro"}}])  # no userId yet
    ]


def test_the_optional_page_preset_sends_pages_as_1flow_tracks(open_page, live_sandbox):
    page = open_page("wk_pages")
    page.evaluate("async () => { await analytics.page('Pricing'); await analytics.page() }")
    calls = sdk_calls(live_sandbox, 3)
    assert [(method, args[0]) for method, args in calls] == [
        ("track", "page_view"),  # the snippet's own analytics.page() as the page loads
        ("track", "page_Pricing"),
        ("track", "page_view"),
    ]
    assert calls[1][1][1]["properties"]["path"] == page.evaluate("location.pathname")


def test_the_mobile_plugin_entry_changes_nothing_analytics_next_loads(open_page, sdk_server, site, live_sandbox):
    """The document names `1Flow Mobile Plugin` for apps; in the page, analytics-next loads the web plugin and the
    SDK, and requests nothing for that entry (the browser is offline but for 127.0.0.1, so any try would show)."""
    document = sdk_server.http.get("/v1/projects/wk_default/settings").json()
    assert document["integrations"]["1Flow Mobile Plugin"] == {"apiKey": US_KEY}
    page = open_page("wk_default")
    page.evaluate("async () => { await analytics.track('Checked', {n: 1}) }")
    assert sdk_calls(live_sandbox, 1)[0][0] == "track"
    page.wait_for_timeout(300)  # room for a late request, which must not come
    ours = sorted({re.sub(r"\?.*$", "", u).removeprefix(sdk_server.url) for u in page.requests})
    chunks = [u for u in ours if u.startswith("/analytics-next/bundles/")]
    # ajs-destination: analytics-next's classic loader, fetched because `integrations` lists entries; installs none.
    assert [re.sub(r"\.[0-9a-f]+\.js$", "", c) for c in chunks] == ["/analytics-next/bundles/ajs-destination.bundle"]
    assert {u for u in ours if u not in chunks} == {
        f"{site.url}/wk_default-{len(site.pages) - 1}.html",  # the page
        "/analytics.js/v1/wk_default/analytics.min.js",  # the loader, its settings, the web plugin: our server
        "/v1/projects/wk_default/settings",
        "/plugins/actions-1flow.js",
        f"{live_sandbox.url}/js/1flow.js",  # 1Flow's SDK (the sandbox's), which reports what it is called with
        f"{live_sandbox.url}/_sandbox/sdk",
        "/v1/p",  # the cloud copies of the snippet's page() and the track
        "/v1/t",
    }
    assert page.evaluate("analytics.queue.plugins.map(p => p.name).filter(n => /mobile/i.test(n))") == []
    assert page.errors == []
