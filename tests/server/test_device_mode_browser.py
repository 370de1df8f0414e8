"""Device mode end to end in real Chromium: a customer page on its own origin with the analytics.js snippet of
docs/web.md, `actions-1flow serve` as the CDN (loader, chunks, settings, plugin) and error sink, and the 1Flow
sandbox's fake SDK recording what reaches 1Flow.

The browser reaches only 127.0.0.1 and nothing is routed by Playwright, so every cross-origin request (settings,
chunks, plugin, SDK, reports) goes through real CORS.
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
from tests.helpers.sandbox import US_KEY
from tests.helpers.server import ServeProcess

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "web.md"
DOCS_SERVER = '"http://127.0.0.1:8080"'
DOCS_WRITE_KEY = '"wk_web_demo"'
DESTINATION = "1Flow Web (Actions)"

TRACK = {
    "name": "Track Event",
    "subscribe": 'type = "track"',
    "partnerAction": "trackEvent",
    "mapping": {
        "event_name": {"@path": "$.event"},
        "userId": {"@path": "$.userId"},
        "anonymousId": {"@path": "$.anonymousId"},
        "properties": {"@path": "$.properties"},
    },
}
IDENTIFY = {
    "name": "Identify User",
    "subscribe": 'type = "identify"',
    "partnerAction": "identifyUser",
    "mapping": {"userId": {"@path": "$.userId"}, "traits": {"@path": "$.traits"}},
}
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


def docs_snippet() -> str:
    """The snippet of docs/web.md ("Add the snippet to your page"), as a newcomer would paste it."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### 3. Add the snippet to your page") :]
    return re.search(r"```html\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def device_server(tmp_path_factory, sandbox_server):
    """One server for the module: a source per scenario, each with its own device-mode 1Flow destination."""
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
        "sources": [{"name": s, "write_key": f"wk_{s}"} for s in ("shop", "callable", "offline", "strict", "consent")],
        "destinations": [
            destination("1flow-shop", "shop", [TRACK, IDENTIFY, BIG_ORDERS], sdkUrl=sandbox_server.sdk_url("methods")),
            destination("1flow-callable", "callable", "presets", sdkUrl=sandbox_server.sdk_url("callable")),
            # The real SDK URL: the browser cannot resolve 1flow.app, as if an ad blocker stopped it.
            destination("1flow-offline", "offline", "presets"),
            destination("1flow-strict", "strict", "presets", sdkUrl=sandbox_server.sdk_url("methods")),
            # Consent from the settings alone (no integrationCategoryMappings in the page), and a field kept out.
            {
                **destination("1flow-consent", "consent", "presets", sdkUrl=sandbox_server.sdk_url("methods")),
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
    server.stop()


@pytest.fixture
def open_shop(chromium, site, device_server, live_sandbox):
    """Opens a fresh page (own storage) with the docs snippet for a write key; closes it afterwards."""
    contexts = []

    def open_(write_key: str, query: str = "", head=lambda snippet: snippet):
        """`head` turns the snippet (`<script>…</script>`) into the page's `<head>` (e.g. adds a policy)."""
        snippet = docs_snippet()
        assert snippet.count(DOCS_SERVER) == 1 and snippet.count(DOCS_WRITE_KEY) == 1
        snippet = snippet.replace(DOCS_SERVER, json.dumps(device_server.url)).replace(
            DOCS_WRITE_KEY, json.dumps(write_key)
        )
        html = f"<!doctype html><html><head>{head(snippet)}</head><body>shop</body></html>"
        url = site.add(f"/{write_key}-{len(site.pages)}.html", html)
        context = chromium.new_context()
        contexts.append(context)
        page = context.new_page()
        page.errors, page.requests = [], []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("request", lambda request: page.requests.append(request.url))
        page.on("console", lambda message: page.console.append(message.text))
        page.console = []
        page.goto(url + query)
        # Functions, not expressions: Playwright evaluates an expression with eval, which a strict policy forbids.
        page.wait_for_function("() => window.analytics && window.analytics.initialized === true", timeout=10_000)
        return page

    yield open_
    for context in contexts:
        context.close()


def plugins(page) -> list[list]:
    return page.evaluate(
        "analytics.queue.plugins.filter(p => p.name.startsWith('1Flow')).map(p => [p.name, p.isLoaded()])"
    )


def wait_loaded(page) -> None:
    page.wait_for_function(
        "() => { const ours = analytics.queue.plugins.filter(p => p.name.startsWith('1Flow'));"
        " return ours.length > 0 && ours.every(p => p.isLoaded()) }",
        timeout=10_000,
    )


def sdk_calls(sandbox, count: int, timeout: float = 10.0) -> list[tuple[str, list]]:
    """The SDK calls (not the SDK's own init) once `count` arrived, or what there is at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        calls = [(c["method"], c["args"]) for c in sandbox.calls("sdk") if c["method"] != "init"]
        if len(calls) >= count or time.monotonic() > deadline:
            return calls
        time.sleep(0.05)


def test_track_and_identify_reach_the_sdk_methods_through_the_docs_snippet(
    open_shop, device_server, site, live_sandbox
):
    page = open_shop("wk_shop")
    wait_loaded(page)
    # Loader, settings and plugin from our server (another origin than the page), the SDK from the sandbox.
    origins = {re.match(r"https?://[^/]+", url).group(0) for url in page.requests}
    assert origins == {site.url, device_server.url, live_sandbox.url}
    assert {url.removeprefix(device_server.url) for url in page.requests} >= {
        "/analytics.js/v1/wk_shop/analytics.min.js",
        "/v1/projects/wk_shop/settings",
        "/plugins/actions-1flow.js",
    }
    assert plugins(page) == [[DESTINATION, True], [DESTINATION, True]]
    assert page.evaluate("typeof window.actions1flowDestination") == "function"
    # The plugin and SDK came from our server and the sandbox, the SDK with the project key on its tag.
    assert page.evaluate(
        "[...document.scripts].filter(s => s.src.includes('/js/1flow.js')).map(s => s.getAttribute('data-api-key'))"
    ) == [US_KEY]
    anonymous = page.evaluate("async () => (await analytics.identify({plan: 'free'})).event.traits")
    assert anonymous == {"plan": "free"}
    traits = page.evaluate(
        "async () => (await analytics.identify('u1', {email: 'ada@example.com', plan: 'pro'})).event.traits"
    )
    event = page.evaluate(f"async () => (await analytics.track('Order Completed', {json.dumps(ORDER)})).event")
    assert event["userId"] == "u1"
    calls = sdk_calls(live_sandbox, 3)
    # The custom subscription's mapping gives in the page what the Python engine gives for the same event.
    big_order = mapping.transform(BIG_ORDERS["mapping"], event)
    assert big_order["properties"] == {"revenue": 120, "currency": "USD", "page": event["context"]["page"]["path"]}
    assert calls == [
        ("logUser", ["u1", traits]),  # the identify without a userId sent nothing
        ("logEvent", ["Order Completed", ORDER]),
        ("logEvent", ["Big order o-1", big_order["properties"]]),  # the custom trigger and mapping
    ]
    assert traits["email"] == "ada@example.com" and traits["plan"] == "pro"
    records = live_sandbox.calls("sdk")
    assert {(r["form"], r["api_key"], r["status"]) for r in records} == {("methods", mask_secret(US_KEY), 200)}
    # A small order matches the preset-like subscription only.
    page.evaluate("analytics.track('Order Completed', {order_id: 'o-2', total: 5})")
    assert sdk_calls(live_sandbox, 4)[3:] == [("logEvent", ["Order Completed", {"order_id": "o-2", "total": 5}])]
    assert page.errors == []


def test_per_event_opt_out_is_honoured(open_shop, live_sandbox):
    page = open_shop("wk_shop")
    wait_loaded(page)
    page.evaluate(
        "async () => {"
        f"  await analytics.track('Skipped', {{n: 1}}, {{integrations: {{{json.dumps(DESTINATION)}: false}}}});"
        "  await analytics.track('Only identify skipped', {n: 2}, "
        f"{{integrations: {{{json.dumps(DESTINATION + ' identifyUser')}: false}}}});"
        "  await analytics.identify('u2', {a: 1}, {integrations: {'1Flow Web (Actions) identifyUser': false}});"
        "  await analytics.track('Sent', {n: 3});"
        "}"
    )
    assert sdk_calls(live_sandbox, 2) == [
        ("logEvent", ["Only identify skipped", {"n": 2}]),
        ("logEvent", ["Sent", {"n": 3}]),
    ]


def test_lazy_chunks_load_from_the_server(open_shop, device_server, live_sandbox):
    """analytics-next's query-string feature (`?ajs_uid=…&ajs_event=…`) lives in a lazy chunk."""
    page = open_shop("wk_shop", "?ajs_uid=u9&ajs_event=Shared")
    chunks = sorted(url.removeprefix(device_server.url) for url in page.requests if "/analytics-next/bundles/" in url)
    # ajs-destination: the classic-destination loader, fetched because `integrations` lists 1Flow (it installs nothing).
    assert [re.sub(r"\.[0-9a-f]+\.js$", "", c) for c in chunks] == [
        "/analytics-next/bundles/ajs-destination.bundle",
        "/analytics-next/bundles/queryString.bundle",
    ]
    calls = sdk_calls(live_sandbox, 2)
    assert sorted(calls) == [("logEvent", ["Shared", {}]), ("logUser", ["u9", {}])]


def test_callable_sdk_form(open_shop, live_sandbox):
    page = open_shop("wk_callable")
    wait_loaded(page)
    page.evaluate(
        "async () => { await analytics.identify('u1', {name: 'Ada'}); "
        "await analytics.track('Order Completed', {total: 5}) }"
    )
    anonymous_id = page.evaluate("analytics.user().anonymousId()")
    assert sdk_calls(live_sandbox, 2) == [
        ("identify", ["u1", {"name": "Ada"}]),
        ("track", ["Order Completed", {"userId": "u1", "anonymousId": anonymous_id, "properties": {"total": 5}}]),
    ]
    assert {c["form"] for c in live_sandbox.calls("sdk")} == {"callable"}


def test_unreachable_sdk_reports_one_error_and_the_page_carries_on(open_shop, device_server, live_sandbox):
    page = open_shop("wk_offline")
    # analytics.track resolves although the SDK never loads, and the page keeps working.
    first = page.evaluate("async () => (await analytics.track('Order Completed', {total: 1})).event.event")
    assert first == "Order Completed"
    store = SQLiteStore(device_server.db)
    try:
        deadline = time.monotonic() + 10
        while not store.device_events(10) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert page.evaluate("async () => (await analytics.track('Again', {total: 2})).event.event") == "Again"
        assert page.evaluate("document.body.textContent") == "shop"
        assert plugins(page) == [[DESTINATION, False], [DESTINATION, False]]
        page.wait_for_timeout(500)  # room for a second report, which must not come
        reports = store.device_events(10)
    finally:
        store.close()
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
    assert log.count("device event sdk-load from source offline") == 1
    assert US_KEY not in log
    assert live_sandbox.calls("sdk") == []
    assert page.errors == []


def strict_policy(sources: str) -> str:
    """A page's strict Content-Security-Policy (as a `<meta>`, which Chromium enforces like the header)."""
    return f'<meta http-equiv="Content-Security-Policy" content="script-src {sources}">'


def test_strict_csp_nonce_reaches_the_sdk_script(open_shop, device_server, live_sandbox):
    """`script-src 'nonce-…' <server>`: the snippet carries the nonce, our server's scripts are allowed by origin,
    and the SDK (another origin) loads only because the plugin puts the page's nonce on it."""
    nonce = base64.b64encode(b"per-response-nonce").decode()

    def head(snippet: str) -> str:
        return strict_policy(f"'nonce-{nonce}' {device_server.url}") + snippet.replace(
            "<script>", f'<script nonce="{nonce}">', 1
        )

    page = open_shop("wk_strict", head=head)
    wait_loaded(page)
    assert page.evaluate("[...document.scripts].filter(s => s.src.includes('/js/1flow.js')).map(s => s.nonce)") == [
        nonce
    ]
    page.evaluate("analytics.track('Order Completed', {total: 5})")
    assert sdk_calls(live_sandbox, 1) == [("logEvent", ["Order Completed", {"total": 5}])]
    assert not [m for m in page.console if "Content Security Policy" in m]
    assert page.errors == []


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

    page = open_shop("wk_strict", head=head)
    wait_loaded(page)
    assert page.evaluate("[...document.scripts].filter(s => s.src.includes('/js/1flow.js')).map(s => s.nonce)") == [
        nonce
    ]
    page.evaluate("analytics.track('Order Completed', {total: 7})")
    assert sdk_calls(live_sandbox, 1) == [("logEvent", ["Order Completed", {"total": 7}])]


def test_strict_csp_without_a_nonce_reports_the_policy_once(open_shop, device_server, live_sandbox):
    """The snippet is allowed by its hash, so the page has no nonce to give: the SDK is refused by the policy and
    the plugin says so in one `sdk-load` report (not a vague network error)."""

    def head(snippet: str) -> str:
        return strict_policy(f"{snippet_hash(snippet)} {device_server.url}") + snippet

    page = open_shop("wk_strict", head=head)
    assert (
        page.evaluate("async () => (await analytics.track('Order Completed', {total: 1})).event.event")
        == "Order Completed"
    )
    store = SQLiteStore(device_server.db)
    try:
        deadline = time.monotonic() + 10
        while not [r for r in store.device_events(50) if r.source == "strict"] and time.monotonic() < deadline:
            time.sleep(0.05)
        page.wait_for_timeout(500)  # room for a second report, which must not come
        reports = [r for r in store.device_events(50) if r.source == "strict"]
    finally:
        store.close()
    assert plugins(page) == [[DESTINATION, False], [DESTINATION, False]]
    assert [(r.kind, r.sdk_url) for r in reports] == [("sdk-load", live_sandbox.sdk_url("methods"))], reports
    assert "Content-Security-Policy (script-src-elem) blocked the 1Flow SDK" in reports[0].message
    assert "no nonce found on the page" in reports[0].message
    assert live_sandbox.calls("sdk") == []


def test_integrations_entry_is_not_installed_as_a_classic_destination(open_shop, device_server, live_sandbox):
    """The settings list 1Flow under `integrations` (as Segment's CDN does); analytics-next's classic loader runs
    but installs nothing for it: the only 1Flow plugins are the remote loader's action wrappers, and no legacy
    bundle is requested from anywhere."""
    page = open_shop("wk_shop")
    wait_loaded(page)
    settings = device_server.http.get("/v1/projects/wk_shop/settings").json()
    assert settings["integrations"][DESTINATION]["versionSettings"] == {"componentTypes": []}
    ours = page.evaluate(
        "analytics.queue.plugins.filter(p => p.name.startsWith('1Flow'))"
        ".map(p => ({name: p.name, action: p.action ? p.action.name : null}))"
    )
    assert ours == [
        {"name": DESTINATION, "action": f"{DESTINATION} trackEvent"},
        {"name": DESTINATION, "action": f"{DESTINATION} identifyUser"},
    ]
    assert any("/analytics-next/bundles/ajs-destination.bundle." in url for url in page.requests)
    assert not [url for url in page.requests if "integrations" in url]
    page.evaluate("analytics.track('Order Completed', {total: 3})")
    assert sdk_calls(live_sandbox, 1) == [("logEvent", ["Order Completed", {"total": 3}])]
    assert page.errors == []


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

    page = open_shop("wk_shop", head=head)
    page.evaluate("analytics.track('Order Completed', {total: 4})")
    if consented:
        wait_loaded(page)
        assert sdk_calls(live_sandbox, 1) == [("logEvent", ["Order Completed", {"total": 4}])]
    else:
        page.wait_for_timeout(500)
        assert plugins(page) == []
        assert not [url for url in page.requests if "/plugins/actions-1flow.js" in url or "/js/1flow.js" in url]
        assert live_sandbox.calls("sdk") == []
    assert page.errors == []


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


def sdk_requested(page) -> bool:
    return any("/js/1flow.js" in url for url in page.requests) or page.evaluate(
        "() => [...document.scripts].some(s => s.src.includes('/js/1flow.js'))"
    )


@pytest.mark.parametrize("granted", [False, True])
def test_consent_opt_in_from_the_published_categories_alone(open_shop, consent_tools_bundle, granted, live_sandbox):
    """The docs' wrapper, opt-in, no mappings in the page: the categories the settings publish are what keeps the
    plugin and the SDK off the page without consent (and lets them on with it)."""
    page = open_shop("wk_consent", head=consent_head(consent_tools_bundle, consent_wrapper(), granted))
    sent = page.evaluate("async () => (await analytics.track('Order Completed', {total: 4})).event.context.consent")
    assert sent == {"categoryPreferences": {"Analytics": granted, "Advertising": True}}  # the wrapper's stamp
    if granted:
        wait_loaded(page)
        assert sdk_calls(live_sandbox, 1) == [("logEvent", ["Order Completed", {"total": 4}])]
    else:
        assert plugins(page) == []
        assert not [url for url in page.requests if "/plugins/actions-1flow.js" in url]
        assert not sdk_requested(page)
        assert live_sandbox.calls("sdk") == []
    assert page.errors == []


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
    page = open_shop("wk_consent", head=consent_head(consent_tools_bundle, wrapper, granted=False))
    page.evaluate(
        "async () => { await analytics.track('Before consent', {n: 1});"
        " await analytics.identify('u1', {email: 'ada@example.com', plan: 'pro'}) }"
    )
    assert plugins(page) == [[DESTINATION, False], [DESTINATION, False]]  # loaded, waiting for consent
    assert not sdk_requested(page)
    assert live_sandbox.calls("sdk") == []

    def step(state: dict, script: str) -> None:
        page.evaluate(f"async () => {{ myConsentManager.set({json.dumps(state)}); {script} }}")

    step(
        {"Analytics": True},
        "await analytics.track('After grant', {n: 2});"
        " await analytics.identify('u1', {email: 'ada@example.com', plan: 'pro'})",
    )
    wait_loaded(page)
    step({"Analytics": False}, "await analytics.track('After revoke', {n: 3})")
    step({"Analytics": True}, "await analytics.track('Granted again', {n: 4})")
    updated = ("logEvent", ["Segment Consent Preference Updated", {}])  # the wrapper's own event, stamped
    assert sdk_calls(live_sandbox, 5) == [
        updated,
        ("logEvent", ["After grant", {"n": 2}]),
        ("logUser", ["u1", {"plan": "pro"}]),  # privacy.drop: no email reaches the SDK
        updated,
        ("logEvent", ["Granted again", {"n": 4}]),
    ]
    assert not [c for c in live_sandbox.calls("sdk") if "ada@example.com" in json.dumps(c)]
    assert page.errors == []
