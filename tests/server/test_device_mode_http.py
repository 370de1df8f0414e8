"""Device-mode routes over HTTP (in process): the settings document, the loader, chunks and plugin with their CORS
and cache headers, and the error-report endpoint's validation, limits and storage."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import httpx
import pytest

from actions_1flow import fql
from actions_1flow.config import parse_config
from actions_1flow.server import create_app
from actions_1flow.server import device_events as device_events_module
from actions_1flow.server.assets import ANALYTICS_NEXT_ENV, AnalyticsNextMissing, locate_analytics_next
from actions_1flow.server.device_events import RateLimiter
from tests.helpers.sandbox import EU_KEY, US_KEY

ROOT = Path(__file__).resolve().parents[2]
UMD = ROOT / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
PLUGIN = ROOT / "src" / "actions_1flow" / "destinations" / "oneflow" / "web" / "dist" / "actions-1flow.min.js"
ORIGIN = {"origin": "https://shop.example"}

pytestmark = pytest.mark.anyio

CONFIG = f"""
storage: sqlite:///{{tmp}}/db.sqlite
server: {{public_url: {{public_url}}}}
sources:
  - {{name: web, write_key: wk_web}}
  - {{name: other, write_key: wk_other}}
  - {{name: backend, write_key: wk_backend}}
destinations:
  - name: 1flow-web
    mode: device
    sources: [web]
    settings: {{projectApiKey: "{US_KEY}", loadTimeoutMs: 4000}}
    subscriptions:
      - {{name: Orders, subscribe: 'event = "Order Completed" and properties.total > 100', partnerAction: trackEvent,
          mapping: {{event_name: {{"@path": "$.event"}}, properties: {{total: {{"@path": "$.properties.total"}}}}}}}}
      - {{name: Paused, subscribe: 'type = "identify"', partnerAction: identifyUser, enabled: false}}
  - name: 1flow-other
    mode: device
    sources: [other]
    settings: {{projectApiKey: "{EU_KEY}", region: eu, sdkUrl: "https://eu.example/js/1flow.js"}}
  - name: 1flow-cloud
    mode: cloud
    sources: [web, backend]
    settings: {{projectApiKey: "{EU_KEY}", apiBaseUrl: "http://127.0.0.1:9/v1"}}
"""


class Server:
    def __init__(self, tmp_path: Path, public_url: str = "null", base_url: str = "http://127.0.0.1:8080") -> None:
        self.config = parse_config(CONFIG.replace("{tmp}", str(tmp_path)).replace("{public_url}", public_url), "t.yaml")
        self.app = create_app(self.config, run_worker=False)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=base_url)

    @property
    def store(self):
        return self.app.state.server.store

    async def __aenter__(self) -> Server:
        self._ctx = self.app.router.lifespan_context(self.app)
        await self._ctx.__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.aclose()
        await self._ctx.__aexit__(*exc)


# --- settings ---------------------------------------------------------------------------------------------------


async def test_settings_document_for_a_source(tmp_path):
    async with Server(tmp_path) as server:
        response = await server.http.get("/v1/projects/wk_web/settings", headers=ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=60"
    doc = response.json()
    # Segment.io, and the destination as Segment's CDN lists an Actions destination: its settings without the
    # subscriptions and no "browser" component, so analytics-next's classic loader does not install it.
    assert doc["integrations"] == {
        "Segment.io": {"apiKey": "wk_web", "apiHost": "127.0.0.1:8080/v1", "protocol": "http"},
        "1Flow Web (Actions)": {
            "projectApiKey": US_KEY,
            "sdkUrl": "https://1flow.app/js/1flow.js",
            "loadTimeoutMs": 4000,
            "deviceEventsUrl": "http://127.0.0.1:8080/v1/device-events",
            "writeKey": "wk_web",
            "versionSettings": {"componentTypes": []},
        },
        # 1Flow's plugins for analytics-swift and Android read their key here (docs/mobile.md).
        "1Flow Mobile Plugin": {"apiKey": US_KEY},
    }
    assert doc["metrics"] == {"sampleRate": 0}
    assert "consentSettings" not in doc
    (plugin,) = doc["remotePlugins"]  # the device destination of this source; not the cloud one, not other's
    assert {k: plugin[k] for k in ("name", "creationName", "libraryName", "url")} == {
        "name": "1Flow Web (Actions)",
        "creationName": "1Flow Web (Actions)",
        "libraryName": "actions1flowDestination",
        "url": "http://127.0.0.1:8080/plugins/actions-1flow.js",
    }
    settings = plugin["settings"]
    subscribe = 'event = "Order Completed" and properties.total > 100'
    assert settings == {
        "projectApiKey": US_KEY,
        "sdkUrl": "https://1flow.app/js/1flow.js",
        "loadTimeoutMs": 4000,
        "deviceEventsUrl": "http://127.0.0.1:8080/v1/device-events",
        "writeKey": "wk_web",
        "consent": None,  # no consent configured: the plugin loads 1Flow at once
        "privacy": {"drop": []},
        "subscriptions": [
            {
                "id": "1flow-web:0",
                "name": "Orders",
                "enabled": True,
                "partnerAction": "trackEvent",
                "subscribe": subscribe,
                "ast": fql.parse(subscribe).ast,  # the disabled one is not published
                "mapping": {
                    "event_name": {"@path": "$.event"},
                    "properties": {"total": {"@path": "$.properties.total"}},
                },
            }
        ],
    }


async def test_settings_presets_region_override_and_public_url(tmp_path):
    async with Server(tmp_path, public_url="'https://cdn.example.com/segment/'") as server:
        doc = (await server.http.get("/v1/projects/wk_other/settings")).json()
        backend = (await server.http.get("/v1/projects/wk_backend/settings")).json()
    assert doc["integrations"]["Segment.io"] == {
        "apiKey": "wk_other",
        "apiHost": "cdn.example.com/segment/v1",
        "protocol": "https",
    }
    settings = doc["remotePlugins"][0]["settings"]
    assert doc["remotePlugins"][0]["url"] == "https://cdn.example.com/segment/plugins/actions-1flow.js"
    assert settings["deviceEventsUrl"] == "https://cdn.example.com/segment/v1/device-events"
    assert (settings["projectApiKey"], settings["sdkUrl"], settings["loadTimeoutMs"]) == (
        EU_KEY,
        "https://eu.example/js/1flow.js",
        10_000,
    )
    assert [(s["name"], s["partnerAction"], s["ast"]) for s in settings["subscriptions"]] == [
        ("Track Event", "trackEvent", fql.parse('type = "track"').ast),
        ("Identify User", "identifyUser", fql.parse('type = "identify"').ast),
    ]
    assert backend["remotePlugins"] == [] and list(backend["integrations"]) == ["Segment.io"]


async def test_settings_without_public_url_follow_the_request(tmp_path):
    async with Server(tmp_path, base_url="https://localhost:9443") as server:
        doc = (await server.http.get("/v1/projects/wk_web/settings")).json()
    assert doc["integrations"]["Segment.io"]["apiHost"] == "localhost:9443/v1"
    assert doc["integrations"]["Segment.io"]["protocol"] == "https"
    assert doc["remotePlugins"][0]["url"] == "https://localhost:9443/plugins/actions-1flow.js"


async def test_settings_revalidate_with_etag(tmp_path):
    async with Server(tmp_path) as server:
        first = await server.http.get("/v1/projects/wk_web/settings")
        again = await server.http.get("/v1/projects/wk_web/settings", headers={"if-none-match": first.headers["etag"]})
        other = await server.http.get(
            "/v1/projects/wk_other/settings", headers={"if-none-match": first.headers["etag"]}
        )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["access-control-allow-origin"] == "*"
    assert other.status_code == 200


async def test_unknown_write_key_is_a_404_json_readable_cross_origin(tmp_path):
    async with Server(tmp_path) as server:
        settings = await server.http.get("/v1/projects/wk_nope/settings", headers=ORIGIN)
        loader = await server.http.get("/analytics.js/v1/wk_nope/analytics.min.js")
    for response in (settings, loader):
        assert response.status_code == 404
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.json()["code"] == "unknown_write_key"


# --- loader, chunks, plugin ---------------------------------------------------------------------------------------


async def test_loader_is_analytics_next_standalone_with_gzip_and_etag(tmp_path):
    async with Server(tmp_path) as server:
        plain = await server.http.get(
            "/analytics.js/v1/wk_web/analytics.min.js", headers={"accept-encoding": "identity"}
        )
        zipped = await server.http.get(
            "/analytics.js/v1/wk_web/analytics.min.js", headers={"accept-encoding": "gzip, br"}
        )
        cached = await server.http.get(
            "/analytics.js/v1/wk_web/analytics.min.js", headers={"if-none-match": f'"x", {plain.headers["etag"]}'}
        )
    assert plain.content == (UMD / "standalone.js").read_bytes()
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-type"].startswith("application/javascript")
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert plain.headers["access-control-allow-origin"] == "*"
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content  # httpx decodes
    assert zipped.headers["etag"] == plain.headers["etag"]
    assert cached.status_code == 304


async def test_chunks_are_immutable_and_only_files_of_the_build(tmp_path):
    chunk = next(UMD.glob("ajs-destination.bundle.*.js")).name
    async with Server(tmp_path) as server:
        ok = await server.http.get(f"/analytics-next/bundles/{chunk}")
        refused = [
            await server.http.get(f"/analytics-next/bundles/{name}")
            for name in (
                "standalone.js",
                "index.js",
                "..%2F..%2Fpackage.json",
                "nope.bundle.0123456789abcdef0123.js",
                "%2e%2e",
                "..",
                "ajs-destination.bundle.40628baed746e9904edc.js.gz",
            )
        ]
        traversal = await server.http.get("/analytics-next/bundles/../../package.json")
    assert ok.status_code == 200 and ok.content == (UMD / chunk).read_bytes()
    assert ok.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert ok.headers["access-control-allow-origin"] == "*"
    assert [r.status_code for r in refused] == [404] * len(refused)
    assert traversal.status_code == 404


async def test_plugin_is_the_committed_build(tmp_path):
    async with Server(tmp_path) as server:
        plugin = await server.http.get("/plugins/actions-1flow.js", headers={"accept-encoding": "gzip"})
        obfuscated = await server.http.get("/cGx1Z2lucw/actions-1flow.js")
        cached = await server.http.get("/plugins/actions-1flow.js", headers={"if-none-match": plugin.headers["etag"]})
    assert plugin.content == PLUGIN.read_bytes() == obfuscated.content
    assert plugin.headers["content-encoding"] == "gzip"
    assert plugin.headers["cache-control"] == "public, max-age=300"
    assert plugin.headers["access-control-allow-origin"] == "*"
    assert b"actions1flowDestination" in plugin.content
    assert cached.status_code == 304


def test_analytics_next_is_found_in_the_project_or_where_configured(tmp_path):
    assert locate_analytics_next(env={}) == UMD
    assert locate_analytics_next(str(UMD.parent.parent), env={}) == UMD
    assert locate_analytics_next(env={ANALYTICS_NEXT_ENV: str(UMD)}) == UMD
    with pytest.raises(AnalyticsNextMissing, match=r"server.analytics_next_dir is .* point it at"):
        locate_analytics_next(str(tmp_path), env={ANALYTICS_NEXT_ENV: str(UMD)})
    with pytest.raises(AnalyticsNextMissing, match=ANALYTICS_NEXT_ENV):
        locate_analytics_next(env={ANALYTICS_NEXT_ENV: str(tmp_path)})


async def test_missing_analytics_next_is_a_clear_503_and_logged(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(ANALYTICS_NEXT_ENV, str(tmp_path / "nowhere"))
    with caplog.at_level(logging.ERROR, "actions_1flow.server"):
        async with Server(tmp_path) as server:
            loader = await server.http.get("/analytics.js/v1/wk_web/analytics.min.js")
            chunk = await server.http.get("/analytics-next/bundles/x.bundle.0123456789abcdef.js")
            settings = await server.http.get("/v1/projects/wk_web/settings")
    assert loader.status_code == chunk.status_code == 503
    assert loader.json()["code"] == "analytics_next_missing"
    assert ANALYTICS_NEXT_ENV in loader.json()["message"]
    assert settings.status_code == 200  # settings and the plugin do not need it
    assert any("cannot serve the analytics.js loader" in r.getMessage() for r in caplog.records)


# --- device events ------------------------------------------------------------------------------------------------

REPORT = {
    "writeKey": "wk_web",
    "destination": "1Flow Web (Actions)",
    "kind": "mapping",
    "message": 'mapping of subscription "Orders" failed: @flatten requires a "separator" key',
    "subscription": {"id": "1flow-web:0", "name": "Orders", "partnerAction": "trackEvent"},
    "type": "track",
    "messageId": "ajs-next-1",
}


def beacon(body) -> dict:
    text = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return {"content": text, "headers": {"content-type": "text/plain;charset=UTF-8", **ORIGIN}}


async def test_a_report_is_stored_and_logged_once_without_keys(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    leaky = {**REPORT, "kind": "sdk-load", "message": f"key {US_KEY} refused", "sdkUrl": f"https://x/?k={US_KEY}"}
    async with Server(tmp_path) as server:
        first = await server.http.post("/v1/device-events", **beacon(REPORT))
        second = await server.http.post("/v1/device-events", **beacon(leaky))
        stored = server.store.device_events(10)
    assert first.status_code == second.status_code == 204
    assert first.headers["access-control-allow-origin"] == "*"
    newest, oldest = stored
    assert (oldest.source, oldest.destination, oldest.kind, oldest.message) == (
        "web",
        "1flow-web",
        "mapping",
        REPORT["message"],
    )
    assert (oldest.subscription, oldest.event_type, oldest.message_id, oldest.origin) == (
        REPORT["subscription"],
        "track",
        "ajs-next-1",
        "https://shop.example",
    )
    assert US_KEY not in newest.message and US_KEY not in newest.sdk_url and "****" in newest.message
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("device event")]
    assert len(lines) == 2
    assert lines[0].startswith("device event mapping from source web (destination 1flow-web, https://shop.example)")
    assert "\n" not in lines[0]
    assert all(US_KEY not in r.getMessage() and "wk_web" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not json", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        ([REPORT], 400, "invalid_report"),
        ("null", 400, "invalid_report"),
        ({**REPORT, "kind": "boom"}, 400, "invalid_report"),
        ({**REPORT, "message": ""}, 400, "invalid_report"),
        ({**REPORT, "message": 5}, 400, "invalid_report"),
        ({**REPORT, "subscription": "Orders"}, 400, "invalid_report"),
        ({**REPORT, "type": {"x": 1}}, 400, "invalid_report"),
        ({k: v for k, v in REPORT.items() if k != "writeKey"}, 400, "invalid_report"),
        ({**REPORT, "writeKey": "wk_nope"}, 401, "unknown_write_key"),
        ({**REPORT, "writeKey": "wk_backend"}, 400, "no_device_destination"),
        ({**REPORT, "message": "x" * 5000}, 400, "invalid_report"),
        ("x" * 9000, 413, "report_too_large"),
    ],
)
async def test_bad_reports_get_a_4xx_with_a_reason_and_are_not_stored(tmp_path, body, status, code):
    async with Server(tmp_path) as server:
        response = await server.http.post("/v1/device-events", **beacon(body))
        assert server.store.device_events(10) == []
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["message"]


async def test_reports_are_rate_limited_per_write_key(tmp_path, monkeypatch):
    monkeypatch.setattr(device_events_module, "REPORT_BURST", 3)
    other = {**REPORT, "writeKey": "wk_other"}
    async with Server(tmp_path) as server:
        statuses = [(await server.http.post("/v1/device-events", **beacon(REPORT))).status_code for _ in range(5)]
        limited = await server.http.post("/v1/device-events", **beacon(REPORT))
        other_key = await server.http.post("/v1/device-events", **beacon(other))
        assert len(server.store.device_events(10)) == 4
    assert statuses == [204, 204, 204, 429, 429]
    assert limited.json()["code"] == "rate_limited"
    assert other_key.status_code == 204


def test_rate_limiter_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.allow("k") for _ in range(3)] == [True, True, False]
    now[0] = 0.49
    assert limiter.allow("k") is False
    now[0] = 0.5
    assert limiter.allow("k") is True and limiter.allow("k2") is True
    now[0] = 100.0
    assert [limiter.allow("k") for _ in range(3)] == [True, True, False]  # never more than the burst


def test_plugin_size_in_docs_is_the_served_file():
    """docs/performance.md states the gzipped size of the file the server sends."""
    size = len(gzip.compress(PLUGIN.read_bytes(), 9))
    assert size <= 8 * 1024
    assert f"{size:,} B" in (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")


def test_no_body_gets_a_5xx(tmp_path):
    """Whatever a page (or anyone) posts, the answer is 204 or a 4xx with a JSON reason."""
    import asyncio

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    )
    reports = st.fixed_dictionaries(
        {}, optional={k: st.one_of(st.just(v), values) for k, v in {**REPORT, "sdkUrl": "https://x"}.items()}
    )
    bodies = st.one_of(reports.map(json.dumps), values.map(json.dumps), st.binary(max_size=200))
    config = parse_config(CONFIG.replace("{tmp}", str(tmp_path)).replace("{public_url}", "null"), "t.yaml")
    app = create_app(config, run_worker=False)

    async def post(body):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
            return await client.post("/v1/device-events", content=body, headers={"content-type": "text/plain"})

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body=bodies)
    def check(body):
        response = asyncio.run(post(body))
        assert response.status_code in (204, 400, 401, 413, 429), (body, response.text)
        if response.status_code != 204:
            assert response.json()["code"]

    try:
        check()
    finally:
        app.state.server.store.close()


CONSENT_CONFIG = f"""
storage: sqlite:///{{tmp}}/db.sqlite
sources: [{{name: web, write_key: wk_web}}, {{name: mapped, write_key: wk_mapped}}]
destinations:
  - name: 1flow-web
    mode: device
    sources: [web, mapped]
    settings: {{projectApiKey: "{US_KEY}"}}
    consent: {{categories: [C0004, C0002]}}
    privacy: {{drop: [traits.email, context.ip]}}
  - name: 1flow-cloud
    mode: cloud
    sources: [web, mapped]
    settings: {{projectApiKey: "{EU_KEY}", apiBaseUrl: "http://127.0.0.1:9/v1"}}
    consent: {{categories: [C0003], missing: allow}}
  - name: 1flow-unmapped
    mode: cloud
    sources: [web]
    settings: {{projectApiKey: "{EU_KEY}", apiBaseUrl: "http://127.0.0.1:9/v1"}}
"""


def test_settings_publish_consent_as_segments_cdn_for_the_consent_wrapper(tmp_path):
    """What `@segment/analytics-consent-tools` reads: `integrations[creationName].consentSettings.categories` and the
    top-level `consentSettings`; the plugin gets its own `consent` and `privacy.drop`."""
    from actions_1flow.server.settings_cdn import settings_document

    config = parse_config(CONSENT_CONFIG.replace("{tmp}", str(tmp_path)), "t.yaml")
    web, mapped = (settings_document(config, s, "http://127.0.0.1:8080") for s in config.sources)
    entry = web["integrations"]["1Flow Web (Actions)"]
    assert entry["consentSettings"] == {"categories": ["C0004", "C0002"]}
    assert entry["versionSettings"] == {"componentTypes": []}  # still nothing for the classic loader
    assert "consent" not in entry and "privacy" not in entry  # each plugin's own, never merged over it
    # The mobile plugins' entry carries the categories where Segment's mobile consent plugins read them.
    assert web["integrations"]["1Flow Mobile Plugin"] == {
        "apiKey": US_KEY,
        "consentSettings": {"categories": ["C0004", "C0002"]},
    }
    (plugin,) = web["remotePlugins"]
    assert plugin["creationName"] == "1Flow Web (Actions)"  # the key the wrapper filters remotePlugins by
    assert plugin["settings"]["consent"] == {"categories": ["C0004", "C0002"], "missing": "deny"}
    assert plugin["settings"]["privacy"] == {"drop": ["traits.email", "context.ip"]}
    # Every category of the source's destinations, cloud ones included; one destination without consent is unmapped.
    assert web["consentSettings"] == {"allCategories": ["C0004", "C0002", "C0003"], "hasUnmappedDestinations": True}
    assert mapped["consentSettings"] == {"allCategories": ["C0004", "C0002", "C0003"], "hasUnmappedDestinations": False}


def test_integrations_entry_keeps_only_what_every_1flow_plugin_of_the_source_shares():
    """All of a source's 1Flow plugins are merged with the one `integrations` entry of their shared name."""
    from actions_1flow.server.settings_cdn import integration_entry

    def plugin(**settings):
        return {"settings": {"projectApiKey": "k", "sdkUrl": "u", "subscriptions": [], **settings}}

    assert integration_entry([plugin(loadTimeoutMs=1000), plugin(loadTimeoutMs=2000)]) == {
        "projectApiKey": "k",
        "sdkUrl": "u",
        "versionSettings": {"componentTypes": []},
    }
    assert integration_entry([plugin(loadTimeoutMs=1000)])["loadTimeoutMs"] == 1000
    # Consent: the union of the plugins' categories, so none of them loads without all of them.
    a, b = (
        plugin(consent={"categories": ["A"], "missing": "deny"}),
        plugin(consent={"categories": ["B", "A"], "missing": "deny"}),
    )
    assert integration_entry([a, b, plugin(consent=None)])["consentSettings"] == {"categories": ["A", "B"]}
    assert "consentSettings" not in integration_entry([plugin(consent=None)])


# --- published URLs and the Host header (issue 16, point 3) -----------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "localhost:80/evil", "localhost@evil.example"])
async def test_settings_refuse_a_host_the_server_is_not_known_by(tmp_path, host):
    """Without public_url, `Host: evil.example` must not become `http://evil.example/plugins/…` in a cached document."""
    async with Server(tmp_path) as server:
        response = await server.http.get("/v1/projects/wk_web/settings", headers={"host": host})
    assert response.status_code == 400
    assert response.json()["code"] == "host_not_allowed" and "server.public_url" in response.json()["message"]
    assert "evil" not in response.headers.get("cache-control", "") and "remotePlugins" not in response.text


async def test_settings_built_from_an_allowed_host_vary_on_host(tmp_path):
    async with Server(tmp_path) as server:
        response = await server.http.get("/v1/projects/wk_web/settings")
    assert response.status_code == 200
    assert {v.strip().lower() for v in response.headers["vary"].split(",")} == {"accept-encoding", "host"}


async def test_allowed_hosts_and_public_url(tmp_path):
    server = Server(tmp_path)
    server.config.server.allowed_hosts = ["Shop.Example"]
    server.app = create_app(server.config, run_worker=False)
    server.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="https://shop.example:8443")
    async with server:
        doc = (await server.http.get("/v1/projects/wk_web/settings")).json()
        evil = await server.http.get("/v1/projects/wk_web/settings", headers={"host": "evil.example"})
    assert (
        doc["remotePlugins"][0]["url"] == "https://shop.example:8443/plugins/actions-1flow.js"
        and evil.status_code == 400
    )
    async with Server(tmp_path, public_url="https://cdn.example.com", base_url="http://evil.example") as server:
        response = await server.http.get("/v1/projects/wk_web/settings")  # public_url: the Host is never used
    assert response.json()["remotePlugins"][0]["url"] == "https://cdn.example.com/plugins/actions-1flow.js"
    assert response.headers["vary"] == "Accept-Encoding"


async def test_a_previous_write_key_gets_the_current_settings_and_may_report(tmp_path):
    """Rotation: pages still loading with the old key get a document that sends with the current one."""
    server = Server(tmp_path)
    text = CONFIG.replace("{tmp}", str(tmp_path)).replace("{public_url}", "null")
    server.config = parse_config(
        text.replace(
            "{name: web, write_key: wk_web}", "{name: web, write_key: wk_web2, previous_write_keys: [wk_web]}"
        ),
        "t.yaml",
    )
    server.app = create_app(server.config, run_worker=False)
    server.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=server.app), base_url="http://127.0.0.1:8080")
    async with server:
        old = (await server.http.get("/v1/projects/wk_web/settings")).json()
        new = (await server.http.get("/v1/projects/wk_web2/settings")).json()
        loader = await server.http.get("/analytics.js/v1/wk_web/analytics.min.js")
        report = await server.http.post("/v1/device-events", **beacon(REPORT))  # REPORT carries the old key
        stored = server.store.device_events(10)
    assert old == new and old["integrations"]["Segment.io"]["apiKey"] == "wk_web2"
    assert loader.status_code == 200 and report.status_code == 204
    assert [(e.source, e.destination) for e in stored] == [("web", "1flow-web")]
