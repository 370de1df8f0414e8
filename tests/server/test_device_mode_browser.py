"""Device mode end to end in each browser engine (Chromium, Firefox, WebKit: every test runs in all three): a
customer page on its own origin with the analytics.js snippet of docs/web.md, `actions-1flow serve` as the CDN
(loader, chunks, settings, plugin) and error sink, and the 1Flow sandbox's fake SDK recording what reaches 1Flow.

The browsers reach only 127.0.0.1 and nothing is routed, so every cross-origin request (settings, chunks, plugin,
SDK, reports) goes through real CORS. The sandbox serves its SDK in its default form, callable as Segment's
integration calls it, except where a scenario names another form; the exact calls are read through `sdk_calls`,
what reached 1Flow without the ids a track carries through `sdk_received`. One source has the SDK hosted first-party
(`sdkProxy`): the page loads it from our server's origin and never asks the vendor's URL for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from actions_1flow import mapping
from actions_1flow.pipeline import SQLiteStore
from actions_1flow.secrets import mask_secret
from tests.helpers.engines import Tab, watched
from tests.helpers.sandbox import US_KEY
from tests.helpers.server import OPTIONAL_SUBSCRIPTIONS, PRESET_SUBSCRIPTIONS, ServeProcess

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "web.md"
DOCS_SERVER = '"http://127.0.0.1:8080"'
DOCS_WRITE_KEY = '"wk_web_demo"'
DESTINATION = "1Flow Web (Actions)"

BIG_ORDERS = {
    "name": "Big orders",
    "subscribe": 'event = "Order Completed" and properties.total > 100',
    "partnerAction": "trackEvent",
    "mapping": {
        "event_name": {"@template": "Big order {{properties.order_id}}"},
        "properties": {
            "revenue": {"@path": "$.properties.total"},
            "currency": {
                "@if": {
                    "exists": {"@path": "$.properties.currency"},
                    "then": {"@path": "$.properties.currency"},
                    "else": "USD",
                }
            },
            "page": {"@path": "$.context.page.path"},
        },
    },
}
ORDER = {"order_id": "o-1", "total": 120, "currency": "USD"}
ORDER_2 = {"order_id": "o-2", "total": 5}


def docs_snippet() -> str:
    """The snippet of docs/web.md ("Add the snippet to your page"), as a newcomer would paste it."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### 3. Add the snippet to your page") :]
    return re.search(r"```html\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def device_server(tmp_path_factory, sandbox_server, site):
    """One server for the module: a source per scenario, each with its own device-mode 1Flow destination and the
    sandbox's SDK in its default form unless the source is named for another (`methods`, `both`)."""
    tmp = tmp_path_factory.mktemp("device")

    def destination(name: str, source: str, subscriptions, **settings):
        return {
            "name": name,
            "type": "1flow",
            "mode": "device",
            "sources": [source],
            "settings": {"projectApiKey": US_KEY, **settings},
            "subscriptions": subscriptions,
        }

    config = {
        "storage": f"sqlite:///{tmp}/device.db",
        "server": {"sdk_proxy_private": True},  # the first-party source's upstream is the sandbox, on loopback
        # The shop's origin may send the sources events (docs/web.md), so analytics.js's own sends succeed.
        "sources": [
            {"name": s, "write_key": f"wk_{s}", "cors_origins": [site.url]}
            for s in ("shop", "methods", "both", "pages", "offline", "strict", "consent", "fp")
        ],
        "destinations": [
            destination("1flow-shop", "shop", [*PRESET_SUBSCRIPTIONS, BIG_ORDERS], sdkUrl=sandbox_server.sdk_url()),
            destination("1flow-methods", "methods", "presets", sdkUrl=sandbox_server.sdk_url("methods")),
            destination("1flow-both", "both", "presets", sdkUrl=sandbox_server.sdk_url("both")),
            destination(
                "1flow-pages",
                "pages",
                [*PRESET_SUBSCRIPTIONS, OPTIONAL_SUBSCRIPTIONS["Track Page"]],
                sdkUrl=sandbox_server.sdk_url(),
            ),
            # The real SDK URL: the browser cannot resolve 1flow.app, as if an ad blocker stopped it.
            destination("1flow-offline", "offline", "presets"),
            destination("1flow-strict", "strict", "presets", sdkUrl=sandbox_server.sdk_url()),
            # First-party hosting: the server fetches the SDK from sdkUrl and serves its copy from its own origin.
            destination("1flow-first-party", "fp", "presets", sdkUrl=sandbox_server.sdk_url(), sdkProxy=True),
            # Consent from the settings alone (no integrationCategoryMappings in the page), and a field kept out.
            {
                **destination("1flow-consent", "consent", "presets", sdkUrl=sandbox_server.sdk_url()),
                "consent": {"categories": ["Analytics"]},
                "privacy": {"drop": ["traits.email"]},
            },
            # A destination without consent makes the source "unmapped", so the wrapper keeps analytics.js running.
            {
                "name": "consent-cloud",
                "type": "1flow",
                "mode": "cloud",
                "sources": ["consent"],
                "settings": {"projectApiKey": US_KEY, "apiBaseUrl": sandbox_server.api_url()},
            },
        ],
    }
    path = tmp / "device.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    server = ServeProcess(path, tmp / "serve.log", "--no-worker", "--log-level", "info")
    server.db = tmp / "device.db"
    yield server
    assert server.stop() in (0, -15), server.log_text()
    assert "Traceback" not in server.log_text()


def origin(url: str) -> str:
    return re.match(r"https?://[^/]+", url).group(0)


def page_html(snippet: str, head=lambda snippet: snippet) -> str:
    """A shop page whose `<head>` is `head(snippet)` (e.g. with a policy added); the snippet runs `WATCH` first."""
    return f"<!doctype html><html><head>{head(watched(snippet))}</head><body>shop</body></html>"


def wait_initialized(tab: Tab) -> None:
    tab.wait_for("() => window.analytics && window.analytics.initialized === true", what="analytics.js initialized")


@pytest.fixture
def open_shop(engine, site, device_server, live_sandbox):
    """Opens a fresh tab (own storage) in the engine with the docs snippet for a write key; closes it afterwards."""
    tabs = []

    def open_(write_key: str, query: str = "", head=lambda snippet: snippet) -> Tab:
        """`head` turns the snippet (`<script>…</script>`) into the page's `<head>` (e.g. adds a policy)."""
        snippet = docs_snippet()
        assert snippet.count(DOCS_SERVER) == 1 and snippet.count(DOCS_WRITE_KEY) == 1
        snippet = snippet.replace(DOCS_SERVER, json.dumps(device_server.url)).replace(
            DOCS_WRITE_KEY, json.dumps(write_key)
        )
        url = site.add(f"/{write_key}-{len(site.pages)}.html", page_html(snippet, head))
        tab = engine.open(url + query)
        tabs.append(tab)
        wait_initialized(tab)
        return tab

    yield open_
    for tab in tabs:
        tab.close()


def plugins(tab: Tab) -> list[list]:
    return tab.evaluate(
        "() => analytics.queue.plugins.filter(p => p.name.startsWith('1Flow')).map(p => [p.name, p.isLoaded()])"
    )


def wait_loaded(tab: Tab) -> None:
    tab.wait_for(
        "() => { const ours = analytics.queue.plugins.filter(p => p.name.startsWith('1Flow'));"
        " return ours.length > 0 && ours.every(p => p.isLoaded()) }",
        what="the 1Flow plugins loaded",
    )


def sdk_calls(sandbox, count: int, timeout: float = 10.0) -> list[tuple[str, list]]:
    """The SDK calls (not the SDK's own init) once `count` arrived, or what there is at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        calls = [(c["method"], c["args"]) for c in sandbox.calls("sdk") if c["method"] != "init"]
        if len(calls) >= count or time.monotonic() > deadline:
            return calls
        time.sleep(0.05)


def sdk_received(sandbox, count: int, timeout: float = 10.0) -> list[tuple[str, object, object]]:
    """What the SDK in its default form received, without the ids a track carries: `("track", name, properties)`
    for `_1flow("track", name, {userId, anonymousId, properties})`, `("identify", userId, traits)` for
    `_1flow("identify", userId, traits)`."""
    received: list[tuple[str, object, object]] = []
    for method, args in sdk_calls(sandbox, count, timeout):
        if method == "track":
            received.append(("track", args[0], args[1].get("properties")))
        elif method == "identify":
            received.append(("identify", args[0], args[1]))
        else:
            raise AssertionError(f"the plugin called the SDK's {method}{args}")
    return received


def sdk_forms(sandbox) -> set[str]:
    """The forms of the SDK that reported calls (`callable`, `methods`, `both`: the sandbox says which it served)."""
    return {c["form"] for c in sandbox.calls("sdk")}


def is_sdk(url: str) -> bool:
    """Whether `url` is 1Flow's SDK: the vendor's, the sandbox's (`…/js/1flow.js?form=…`) or a first-party copy."""
    return url.split("?")[0].endswith("/1flow.js")


def sdk_requested(tab: Tab) -> bool:
    """Whether the page asked for 1Flow's SDK (a script tag for it, or a fetch of it)."""
    return any(is_sdk(url) for url in tab.resources()) or bool(sdk_tags(tab, "src"))


def sdk_tags(tab: Tab, attribute: str) -> list:
    """`attribute` of each SDK `<script>` on the page (`nonce` is read as the property, which keeps it)."""
    return tab.evaluate(
        "(name) => [...document.scripts].filter(s => s.src && new URL(s.src).pathname.endsWith('/1flow.js'))"
        ".map(s => name === 'nonce' ? s.nonce : s.getAttribute(name))",
        attribute,
    )


def device_reports(server, source: str, since: float, timeout: float = 10.0) -> list:
    """The device-mode reports of `source` received after `since` (a `time.time()`), once one arrived. (That no
    second one comes is the page's to say: the plugin writes each report to `console.error` before sending it.)"""
    store = SQLiteStore(server.db)
    try:
        deadline = time.monotonic() + timeout
        while True:
            mine = [r for r in store.device_events(50) if r.source == source and r.received_at >= since]
            if mine or time.monotonic() > deadline:
                return mine
            time.sleep(0.05)
    finally:
        store.close()


def test_track_and_identify_reach_the_sdk_as_segment_calls_it_through_the_docs_snippet(
    open_shop, device_server, site, live_sandbox
):
    """The sandbox's SDK as it serves it by default (callable, no methods) gets Segment's calls: identify with the
    userId and traits, a track with the userId and anonymousId beside its properties; an Identify without a userId
    sends nothing; a custom trigger and mapping run in the page as the Python engine runs them."""
    tab = open_shop("wk_shop")
    wait_loaded(tab)
    # Loader, settings and plugin from our server (another origin than the page), the SDK from the sandbox.
    fetched = tab.resources()
    assert {origin(url) for url in fetched} | {site.url} == {site.url, device_server.url, live_sandbox.url}
    assert {url.removeprefix(device_server.url) for url in fetched} >= {
        "/analytics.js/v1/wk_shop/analytics.min.js",
        "/v1/projects/wk_shop/settings",
        "/plugins/actions-1flow.js",
    }
    assert plugins(tab) == [[DESTINATION, True], [DESTINATION, True]]
    assert tab.evaluate("() => typeof window.actions1flowDestination") == "function"
    # The SDK came from the sandbox with the project key on its tag, in its default form: a function, no methods.
    assert sdk_tags(tab, "data-api-key") == [US_KEY]
    assert tab.evaluate("() => typeof window._1flow === 'function' && window._1flow.logEvent === undefined")
    anonymous = tab.evaluate("async () => (await analytics.identify({plan: 'free'})).event.traits")
    assert anonymous == {"plan": "free"}
    traits = tab.evaluate(
        "async () => (await analytics.identify('u1', {email: 'ada@example.com', plan: 'pro'})).event.traits"
    )
    event = tab.evaluate("async (order) => (await analytics.track('Order Completed', order)).event", ORDER)
    assert event["userId"] == "u1" and event["anonymousId"]
    assert traits["email"] == "ada@example.com" and traits["plan"] == "pro"
    # The custom subscription's mapping gives in the page what the Python engine gives for the same event.
    big_order = mapping.transform(BIG_ORDERS["mapping"], event)
    assert big_order["properties"] == {"revenue": 120, "currency": "USD", "page": event["context"]["page"]["path"]}
    ids = {"userId": "u1", "anonymousId": event["anonymousId"]}
    assert sdk_calls(live_sandbox, 3) == [
        ("identify", ["u1", traits]),  # the identify without a userId sent nothing
        ("track", ["Order Completed", {**ids, "properties": ORDER}]),
        ("track", ["Big order o-1", {"properties": big_order["properties"]}]),  # its mapping names no ids
    ]
    assert {(r["form"], r["api_key"], r["status"]) for r in live_sandbox.calls("sdk")} == {
        ("callable", mask_secret(US_KEY), 200)
    }
    # A small order matches the preset only.
    tab.evaluate("(order) => { analytics.track('Order Completed', order) }", ORDER_2)
    assert sdk_calls(live_sandbox, 4)[3:] == [("track", ["Order Completed", {**ids, "properties": ORDER_2}])]
    assert tab.errors() == []


SDK_FORM_CALLS = {
    # An SDK object without a call form (1Flow's 2022 npm loader's): its methods, which take no ids.
    "methods": lambda anonymous_id: [
        ("logUser", ["u1", {"name": "Ada"}]),
        ("logEvent", ["Order Completed", {"total": 5}]),
    ],
    # A callable that also has the methods: Segment's call all the same.
    "both": lambda anonymous_id: [
        ("identify", ["u1", {"name": "Ada"}]),
        ("track", ["Order Completed", {"userId": "u1", "anonymousId": anonymous_id, "properties": {"total": 5}}]),
    ],
}


@pytest.mark.parametrize("form", SDK_FORM_CALLS)
def test_the_sdk_form_decides_the_call(open_shop, form, live_sandbox):
    tab = open_shop(f"wk_{form}")
    wait_loaded(tab)
    shape = "() => [typeof window._1flow, typeof window._1flow.logEvent, typeof window._1flow.logUser]"
    assert tab.evaluate(shape) == ["object" if form == "methods" else "function", "function", "function"]
    tab.evaluate(
        "async () => { await analytics.identify('u1', {name: 'Ada'});"
        " await analytics.track('Order Completed', {total: 5}) }"
    )
    anonymous_id = tab.evaluate("() => analytics.user().anonymousId()")
    assert sdk_calls(live_sandbox, 2) == SDK_FORM_CALLS[form](anonymous_id)
    assert sdk_forms(live_sandbox) == {form}
    assert tab.errors() == []


def test_per_event_opt_out_is_honoured(open_shop, live_sandbox):
    tab = open_shop("wk_shop")
    wait_loaded(tab)
    tab.evaluate(
        "async (destination) => {"
        "  await analytics.track('Skipped', {n: 1}, {integrations: {[destination]: false}});"
        "  await analytics.track('Only identify skipped', {n: 2}, "
        "{integrations: {[destination + ' identifyUser']: false}});"
        "  await analytics.identify('u2', {a: 1}, {integrations: {[destination + ' identifyUser']: false}});"
        "  await analytics.track('Sent', {n: 3});"
        "}",
        DESTINATION,
    )
    assert sdk_received(live_sandbox, 2) == [
        ("track", "Only identify skipped", {"n": 2}),
        ("track", "Sent", {"n": 3}),
    ]


def test_lazy_chunks_load_from_the_server(open_shop, device_server, live_sandbox):
    """analytics-next's query-string feature (`?ajs_uid=…&ajs_event=…`) lives in a lazy chunk."""
    tab = open_shop("wk_shop", "?ajs_uid=u9&ajs_event=Shared")
    received = sorted(sdk_received(live_sandbox, 2))
    assert received == [("identify", "u9", {}), ("track", "Shared", {})]
    chunks = sorted(url.removeprefix(device_server.url) for url in tab.resources() if "/analytics-next/bundles/" in url)
    # ajs-destination: the classic-destination loader, fetched because `integrations` lists 1Flow (it installs nothing).
    assert [re.sub(r"\.[0-9a-f]+\.js$", "", c) for c in chunks] == [
        "/analytics-next/bundles/ajs-destination.bundle",
        "/analytics-next/bundles/queryString.bundle",
    ]


def test_the_page_loads_the_sdk_first_party_and_track_reaches_it(open_shop, device_server, live_sandbox):
    """`sdkProxy`: the page fetches the SDK once, from our server's origin, never from the vendor's (the sandbox's)
    URL, so a blocker of that URL, or a tracker list naming it, has nothing to block; and a track reaches it."""
    tab = open_shop("wk_fp")
    wait_loaded(tab)
    sdk_scripts = [url for url in tab.resources() if is_sdk(url)]
    assert len(sdk_scripts) == 1, sdk_scripts  # one fetch of the SDK: not the vendor's URL
    assert sdk_scripts[0].startswith(device_server.url + "/sdk/actions-1flow/")  # our origin, not the sandbox's
    assert sdk_tags(tab, "src") == sdk_scripts and sdk_tags(tab, "data-api-key") == [US_KEY]
    tab.evaluate("async () => { await analytics.track('Signed Up', {plan: 'pro'}) }")
    assert sdk_received(live_sandbox, 1) == [("track", "Signed Up", {"plan": "pro"})]
    init = [c for c in live_sandbox.calls("sdk") if c["method"] == "init"]
    assert [c["status"] for c in init] == [200]  # the hosted copy reports to 1Flow (the sandbox), key accepted
    assert tab.errors() == []


def test_the_optional_page_preset_sends_pages_as_1flow_tracks(open_shop, live_sandbox):
    """`Track Page` (our optional preset, docs/oneflow.md) in the page: a named page as `page_<name>`, an unnamed
    one (the snippet's own `analytics.page()` as the page loads) as `page_view`, with the ids."""
    tab = open_shop("wk_pages")
    tab.evaluate("async () => { await analytics.page('Pricing'); await analytics.page() }")
    calls = sdk_calls(live_sandbox, 3)
    assert [(method, args[0]) for method, args in calls] == [
        ("track", "page_view"),
        ("track", "page_Pricing"),
        ("track", "page_view"),
    ]
    anonymous_id = tab.evaluate("() => analytics.user().anonymousId()")
    assert {args[1]["anonymousId"] for _, args in calls} == {anonymous_id}
    assert calls[1][1][1]["properties"]["path"] == tab.evaluate("() => location.pathname")
    assert tab.errors() == []


def test_unreachable_sdk_reports_one_error_and_the_page_carries_on(open_shop, device_server, live_sandbox):
    logged = "device event sdk-load from source offline"
    since, logged_before = time.time(), device_server.log_text().count(logged)
    tab = open_shop("wk_offline")
    # analytics.track resolves although the SDK never loads, and the page keeps working.
    first = tab.evaluate("async () => (await analytics.track('Order Completed', {total: 1})).event.event")
    assert first == "Order Completed"
    reports = device_reports(device_server, "offline", since)
    assert tab.evaluate("async () => (await analytics.track('Again', {total: 2})).event.event") == "Again"
    assert tab.evaluate("() => document.body.textContent") == "shop"
    assert plugins(tab) == [[DESTINATION, False], [DESTINATION, False]]
    assert len(reports) == 1, reports
    (report,) = reports
    assert (report.source, report.destination, report.kind, report.sdk_url) == (
        "offline",
        "1flow-offline",
        "sdk-load",
        "https://1flow.app/js/1flow.js",
    )
    assert report.message.startswith("the 1Flow SDK failed to load from https://1flow.app/js/1flow.js")
    assert report.origin is not None and report.origin.startswith("http://127.0.0.1:")
    log = device_server.log_text()
    assert log.count(logged) == logged_before + 1
    assert US_KEY not in log
    assert live_sandbox.calls("sdk") == []
    # The page's console says it once too, in the report's words; nothing else went wrong.
    assert tab.errors() == [f"console.error: [{DESTINATION}] {report.message}"]


def strict_policy(sources: str) -> str:
    """A page's strict Content-Security-Policy (as a `<meta>`, which browsers enforce like the header)."""
    return f'<meta http-equiv="Content-Security-Policy" content="script-src {sources}">'


def test_strict_csp_nonce_reaches_the_sdk_script(open_shop, device_server, live_sandbox):
    """`script-src 'nonce-…' <server>`: the snippet carries the nonce, our server's scripts are allowed by origin,
    and the SDK (another origin) loads only because the plugin puts the page's nonce on it."""
    nonce = base64.b64encode(b"per-response-nonce").decode()

    def head(snippet: str) -> str:
        return strict_policy(f"'nonce-{nonce}' {device_server.url}") + snippet.replace(
            "<script>", f'<script nonce="{nonce}">', 1
        )

    tab = open_shop("wk_strict", head=head)
    wait_loaded(tab)
    assert sdk_tags(tab, "nonce") == [nonce]
    tab.evaluate("() => { analytics.track('Order Completed', {total: 5}) }")
    assert sdk_received(live_sandbox, 1) == [("track", "Order Completed", {"total": 5})]
    assert tab.errors() == []  # no policy violation either


def snippet_hash(snippet: str) -> str:
    """The CSP source that allows this inline `<script>…</script>` by its hash (so the page needs no nonce)."""
    body = snippet.removeprefix("<script>").removesuffix("</script>\n").removesuffix("</script>")
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


def test_csp_nonce_given_in_load_options_reaches_the_sdk(open_shop, device_server, live_sandbox):
    """A page without nonced script tags passes its nonce as the destination's `nonce` setting, through
    `analytics.load(key, {integrations: {"1Flow Web (Actions)": {nonce}}})` (merged via the `integrations` entry)."""
    nonce = "bG9hZC1vcHRpb25z"
    options = json.dumps({"integrations": {DESTINATION: {"nonce": nonce}}})

    def head(snippet: str) -> str:
        assert snippet.count("analytics.load(writeKey);") == 1
        snippet = snippet.replace("analytics.load(writeKey);", f"analytics.load(writeKey, {options});")
        return strict_policy(f"{snippet_hash(snippet)} 'nonce-{nonce}' {device_server.url}") + snippet

    tab = open_shop("wk_strict", head=head)
    wait_loaded(tab)
    assert sdk_tags(tab, "nonce") == [nonce]
    tab.evaluate("() => { analytics.track('Order Completed', {total: 7}) }")
    assert sdk_received(live_sandbox, 1) == [("track", "Order Completed", {"total": 7})]
    assert tab.errors() == []


def test_strict_csp_without_a_nonce_reports_the_policy_once(open_shop, device_server, live_sandbox):
    """The snippet is allowed by its hash, so the page has no nonce to give: the SDK is refused by the policy and
    the plugin says so in one `sdk-load` report (not a vague network error)."""

    def head(snippet: str) -> str:
        return strict_policy(f"{snippet_hash(snippet)} {device_server.url}") + snippet

    since = time.time()
    tab = open_shop("wk_strict", head=head)
    assert (
        tab.evaluate("async () => (await analytics.track('Order Completed', {total: 1})).event.event")
        == "Order Completed"
    )
    reports = device_reports(device_server, "strict", since)
    assert plugins(tab) == [[DESTINATION, False], [DESTINATION, False]]
    assert [(r.kind, r.sdk_url) for r in reports] == [("sdk-load", live_sandbox.sdk_url())], reports
    assert "Content-Security-Policy (script-src-elem) blocked the 1Flow SDK" in reports[0].message
    assert "no nonce found on the page" in reports[0].message
    assert live_sandbox.calls("sdk") == []
    assert sorted(tab.errors()) == [
        f"console.error: [{DESTINATION}] {reports[0].message}",
        f"csp: script-src-elem {live_sandbox.sdk_url()}",
    ]


def test_the_settings_integrations_entries_install_nothing_and_fetch_nothing(
    open_shop, device_server, site, live_sandbox
):
    """The settings list 1Flow under `integrations` (as Segment's CDN does) and 1Flow's mobile plugin for apps
    (`1Flow Mobile Plugin`, docs/mobile.md); analytics-next's classic loader runs but installs nothing for either:
    the only 1Flow plugins are the remote loader's action wrappers, the only scripts ever added to the page are the
    loader, the plugin and the SDK, and nothing else is fetched but the loader's chunk, its settings and the events."""
    settings = device_server.http.get("/v1/projects/wk_shop/settings").json()
    assert settings["integrations"][DESTINATION]["versionSettings"] == {"componentTypes": []}
    assert settings["integrations"]["1Flow Mobile Plugin"] == {"apiKey": US_KEY}
    tab = open_shop("wk_shop")
    wait_loaded(tab)
    tab.evaluate("async () => { await analytics.track('Order Completed', {total: 3}) }")
    assert sdk_received(live_sandbox, 1) == [("track", "Order Completed", {"total": 3})]
    ours = tab.evaluate(
        "() => analytics.queue.plugins.filter(p => /1flow/i.test(p.name))"
        ".map(p => ({name: p.name, action: p.action ? p.action.name : null}))"
    )
    assert ours == [
        {"name": DESTINATION, "action": f"{DESTINATION} trackEvent"},
        {"name": DESTINATION, "action": f"{DESTINATION} identifyUser"},
    ]
    loader, plugin = "/analytics.js/v1/wk_shop/analytics.min.js", "/plugins/actions-1flow.js"
    # Every script tag, whether it loaded or not (a classic destination's would stay; webpack removes its chunk's).
    scripts = tab.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
    assert sorted(url.removeprefix(device_server.url) for url in scripts) == sorted(
        [loader, plugin, live_sandbox.sdk_url()]
    )
    # Everything that completed (a resource is listed once its body arrived: the track's is waited for), but the
    # browser's own favicon request on the page's origin.
    tab.wait_for("(url) => performance.getEntriesByName(url).length", device_server.url + "/v1/t", what="/v1/t")
    fetched = {
        re.sub(r"\.[0-9a-f]+\.js$", ".js", url.removeprefix(device_server.url))
        for url in tab.resources()
        if not url.startswith(site.url + "/")
    }
    assert fetched == {
        loader,
        "/v1/projects/wk_shop/settings",
        "/analytics-next/bundles/ajs-destination.bundle.js",  # the classic loader, which installs nothing
        plugin,
        live_sandbox.sdk_url(),
        f"{live_sandbox.url}/_sandbox/sdk",  # the sandbox's SDK reporting what it is called with
        "/v1/p",  # the cloud copies of the snippet's page() and the track
        "/v1/t",
    }
    assert tab.errors() == []


@pytest.fixture(scope="module")
def consent_tools_bundle() -> str:
    """`@segment/analytics-consent-tools` (pinned in package.json) bundled for the page, as a site would ship it."""
    root = Path(__file__).resolve().parents[2]
    entry = root / "node_modules" / "@segment" / "analytics-consent-tools" / "dist" / "esm" / "index.js"
    out = subprocess.run(
        [
            str(root / "node_modules" / ".bin" / "esbuild"),
            str(entry),
            "--bundle",
            "--format=iife",
            "--global-name=consentTools",
            "--minify",
            "--log-level=warning",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "</script" not in out.stdout
    return out.stdout


@pytest.mark.parametrize("consented", [False, True])
def test_consent_tools_gate_the_destination_by_its_integrations_entry(
    open_shop, consent_tools_bundle, consented, live_sandbox
):
    """Opt-in consent with Segment's consent tools: they prune `remotePlugins` by the keys of `integrations`, so
    without consent 1Flow is never loaded (no plugin, no SDK), with it 1Flow works as usual."""
    wrapper = (
        "consentTools.createWrapper({"
        f"  getCategories: () => ({{Analytics: {json.dumps(consented)}}}),"
        f"  integrationCategoryMappings: {{{json.dumps(DESTINATION)}: ['Analytics']}},"
        "})(analytics);"
    )

    def head(snippet: str) -> str:
        assert snippet.count("analytics.load(writeKey);") == 1
        return f"<script>{consent_tools_bundle}</script>" + snippet.replace(
            "analytics.load(writeKey);", wrapper + "analytics.load(writeKey);"
        )

    tab = open_shop("wk_shop", head=head)
    # Awaited: whatever the event makes a plugin do in the page (inject the SDK first) is done when it resolves.
    tab.evaluate("async () => { await analytics.track('Order Completed', {total: 4}) }")
    if consented:
        wait_loaded(tab)
        assert sdk_received(live_sandbox, 1) == [("track", "Order Completed", {"total": 4})]
    else:
        assert plugins(tab) == []
        assert not [url for url in tab.resources() if "/plugins/actions-1flow.js" in url]
        assert not sdk_requested(tab)
        assert live_sandbox.calls("sdk") == []
    assert tab.errors() == []


CONSENT_PAGE = """<script>
  window.myConsentManager = {
    state: %s, listeners: [],
    categories() { return {...this.state} },
    onChange(listener) { this.listeners.push(listener) },
    set(state) { this.state = state; this.listeners.forEach((listener) => listener()) },
  }
</script>"""


def consent_wrapper(*, opt_out: bool = False, extra: str = "") -> str:
    """The wrapper code of docs/web.md ("Consent managers"), opt-in as written or with its opt-out line on."""
    text = DOCS.read_text(encoding="utf-8")
    code = re.search(r"```js\n(.*?)```", text[text.index("## Consent managers") :], re.S).group(1)
    assert code.count("// shouldLoadSegment:") == 1 and code.count("analytics.load(writeKey);") == 1
    if opt_out:
        code = code.replace("// shouldLoadSegment:", "shouldLoadSegment:")
    return code.replace("createWrapper({", "createWrapper({" + extra)


def consent_head(bundle: str, wrapper: str, granted: bool):
    def head(snippet: str) -> str:
        assert snippet.count("analytics.load(writeKey);") == 1
        page = CONSENT_PAGE % json.dumps({"Analytics": granted, "Advertising": True})
        return page + f"<script>{bundle}</script>" + snippet.replace("analytics.load(writeKey);", wrapper)

    return head


@pytest.mark.parametrize("granted", [False, True])
def test_consent_opt_in_from_the_published_categories_alone(open_shop, consent_tools_bundle, granted, live_sandbox):
    """The docs' wrapper, opt-in, no mappings in the page: the categories the settings publish are what keeps the
    plugin and the SDK off the page without consent (and lets them on with it)."""
    tab = open_shop("wk_consent", head=consent_head(consent_tools_bundle, consent_wrapper(), granted))
    sent = tab.evaluate("async () => (await analytics.track('Order Completed', {total: 4})).event.context.consent")
    assert sent == {"categoryPreferences": {"Analytics": granted, "Advertising": True}}  # the wrapper's stamp
    if granted:
        wait_loaded(tab)
        assert sdk_received(live_sandbox, 1) == [("track", "Order Completed", {"total": 4})]
    else:
        assert plugins(tab) == []
        assert not [url for url in tab.resources() if "/plugins/actions-1flow.js" in url]
        assert not sdk_requested(tab)
        assert live_sandbox.calls("sdk") == []
    assert tab.errors() == []


@pytest.mark.parametrize("permissive", [False, True], ids=["wrapper-blocks", "plugin-alone-blocks"])
def test_consent_granted_later_loads_the_sdk_revoking_stops_it(
    open_shop, consent_tools_bundle, permissive, live_sandbox
):
    """Opt-out: the plugin is on the page but injects no SDK before consent; granting it in the page loads the SDK
    and the next track reaches it; revoking stops it; privacy.drop keeps traits.email out. `plugin-alone-blocks`:
    the wrapper lets every event through (`shouldEnableIntegration: () => true`), so only the plugin's own check of
    each event's stamp stands between the page and 1Flow."""
    extra = "shouldEnableIntegration: () => true," if permissive else ""
    wrapper = consent_wrapper(opt_out=True, extra=extra)
    tab = open_shop("wk_consent", head=consent_head(consent_tools_bundle, wrapper, granted=False))
    tab.evaluate(
        "async () => { await analytics.track('Before consent', {n: 1});"
        " await analytics.identify('u1', {email: 'ada@example.com', plan: 'pro'}) }"
    )
    assert plugins(tab) == [[DESTINATION, False], [DESTINATION, False]]  # loaded, waiting for consent
    assert not sdk_requested(tab)
    assert live_sandbox.calls("sdk") == []

    def step(state: dict, script: str) -> None:
        tab.evaluate(f"async (state) => {{ myConsentManager.set(state); {script} }}", state)

    step(
        {"Analytics": True},
        "await analytics.track('After grant', {n: 2});"
        " await analytics.identify('u1', {email: 'ada@example.com', plan: 'pro'})",
    )
    wait_loaded(tab)
    step({"Analytics": False}, "await analytics.track('After revoke', {n: 3})")
    step({"Analytics": True}, "await analytics.track('Granted again', {n: 4})")
    updated = ("track", "Segment Consent Preference Updated", {})  # the wrapper's own event, stamped
    assert sdk_received(live_sandbox, 5) == [
        updated,
        ("track", "After grant", {"n": 2}),
        ("identify", "u1", {"plan": "pro"}),  # privacy.drop: no email reaches the SDK
        updated,
        ("track", "Granted again", {"n": 4}),
    ]
    assert not [c for c in live_sandbox.calls("sdk") if "ada@example.com" in json.dumps(c)]
    assert tab.errors() == []
