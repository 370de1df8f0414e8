"""The tracking API over HTTP: every endpoint, body form and auth mode; every refusal's status and JSON reason; CORS.

The app runs in-process (Starlette's TestClient, which re-raises any server exception, so a bug cannot hide
behind a 500) without the delivery worker; what was stored is read back from the store.
"""

from __future__ import annotations

import base64
import gzip
import json
import warnings
import zlib

import pytest

with warnings.catch_warnings():  # Starlette would like `httpx2`; httpx is what this project uses
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from actions_1flow.app import create_app
from actions_1flow.config import ConfigError, parse_config
from actions_1flow.ingest import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES
from actions_1flow.pipeline import StoreError

WEB = "http://shop.example"
OTHER_SITE = "http://evil.example"


def config_text(tmp_path, public_url: str = "http://collector.example") -> str:
    return f"""
server: {{public_url: "{public_url}"}}
storage: sqlite:///{tmp_path}/db.sqlite
sources:
  - {{name: web, write_key: wk_web, cors_origins: ["{WEB}", "HTTP://Staging.Shop.Example/"]}}
  - {{name: backend, write_key: wk_backend}}
  - {{name: open, write_key: wk_open, cors_origins: ["*"]}}
"""


@pytest.fixture
def client(tmp_path):
    app = create_app(parse_config(config_text(tmp_path)), run_worker=False)
    with TestClient(app, base_url="http://collector.example") as http:
        http.store = app.state.server.store
        yield http


def basic(key: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def stored(client, source: str | None = None) -> list[dict]:
    sources = [source] if source else ["web", "backend", "open"]
    return [e.event for e in client.store.read_after(0, sources, 100_000)]


def allowed(response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


def refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["success"] is False and body["code"] == code and body["message"]
    return body


# --- accepted input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("identify", "identify"),
        ("track", "track"),
        ("page", "page"),
        ("screen", "screen"),
        ("group", "group"),
        ("alias", "alias"),
        ("i", "identify"),
        ("t", "track"),
        ("p", "page"),
        ("s", "screen"),
        ("g", "group"),
        ("a", "alias"),
    ],
)
def test_every_single_event_endpoint_stores_its_type(client, path, kind):
    r = client.post(
        f"/v1/{path}",
        content=json.dumps({"userId": "u1", "writeKey": "wk_backend"}),
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    [event] = stored(client)
    assert event["type"] == kind and event["userId"] == "u1" and "writeKey" not in event


@pytest.mark.parametrize("path", ["batch", "b"])
def test_batch_endpoints(client, path):
    batch = {"batch": [{"type": "track", "userId": "u", "event": "A"}, {"type": "identify", "anonymousId": "x"}]}
    r = client.post(f"/v1/{path}", json=batch, headers=basic("wk_backend"))
    assert r.json() == {"success": True}
    assert [e["type"] for e in stored(client)] == ["track", "identify"]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress), ("identity", lambda b: b)],
)
def test_compressed_bodies(client, encoding, compress):
    raw = json.dumps({"batch": [{"type": "track", "userId": "u", "event": "E"}]}).encode()
    r = client.post(
        "/v1/batch",
        content=compress(raw),
        headers={**basic("wk_backend"), "content-encoding": encoding, "content-type": "application/json"},
    )
    assert r.status_code == 200
    assert stored(client)[0]["event"] == "E"


@pytest.mark.parametrize(
    ("headers", "body_key", "source"),
    [
        (basic("wk_web"), None, "web"),  # analytics-python, analytics-node, analytics.js 1.8x
        ({}, "wk_web", "web"),  # older analytics.js: key in the body only
        ({"authorization": "Bearer an-oauth-token"}, "wk_backend", "backend"),  # OAuth clients: key in the body
        ({"authorization": "Basic " + base64.b64encode(b"wk_open").decode()}, None, "open"),  # no colon
        (basic("wk_web"), "wk_backend", "web"),  # Basic wins over the body
    ],
)
def test_auth_modes(client, headers, body_key, source):
    event = {"userId": "u", "event": "E", **({"writeKey": body_key} if body_key else {})}
    assert client.post("/v1/track", json=event, headers=headers).status_code == 200
    assert len(stored(client, source)) == 1


def test_enrichment_through_http(client):
    event = {"userId": "u", "timestamp": "2026-01-01T10:00:00Z", "sentAt": "2026-01-01T10:00:05Z"}
    assert client.post("/v1/t", json=event, headers=basic("wk_backend")).status_code == 200
    [got] = stored(client)
    assert got["messageId"].startswith("api-")
    assert got["context"] == {"ip": "testclient"}
    assert got["originalTimestamp"] == "2026-01-01T10:00:00Z" and got["receivedAt"].endswith("Z")
    # timestamp = receivedAt - (sentAt - originalTimestamp): 5 s before receipt
    assert got["timestamp"] < got["receivedAt"]


def test_a_utf8_byte_order_mark_is_skipped(client):
    r = client.post("/v1/track", content=b"\xef\xbb\xbf" + json.dumps({"userId": "u", "writeKey": "wk_web"}).encode())
    assert r.status_code == 200


def test_retries_are_acknowledged_and_stored_once(client):
    event = {"userId": "u", "messageId": "m-1", "writeKey": "wk_backend"}
    assert [client.post("/v1/track", json=event).status_code for _ in range(3)] == [200, 200, 200]
    assert len(stored(client)) == 1


# --- refusals: status, code, and nothing stored -----------------------------------------------------------------


def post_raw(client, path, raw: bytes, headers=None):
    return client.post(path, content=raw, headers={**basic("wk_backend"), **(headers or {})})


def test_event_over_32_kb(client):
    event = {"userId": "u", "properties": {"blob": "x" * MAX_EVENT_BYTES}}
    body = refused(client.post("/v1/track", json=event, headers=basic("wk_backend")), 400, "event_too_large")
    assert body["limit"] == MAX_EVENT_BYTES and "32 KB" in body["message"]
    batch = {"batch": [{"type": "track", "userId": "u"}, {"type": "track", **event}]}
    body = refused(client.post("/v1/batch", json=batch, headers=basic("wk_backend")), 400, "event_too_large")
    assert "batch[1]" in body["message"]
    assert stored(client) == []


def test_event_size_is_measured_as_sent_not_after_batch_defaults(client):
    """A batch's shared context and sentAt are not counted against each event (the clients measure the event)."""
    event = {"type": "track", "userId": "u", "properties": {"blob": ""}}
    event["properties"]["blob"] = "x" * (MAX_EVENT_BYTES - len(json.dumps(event, separators=(",", ":"))))
    batch = {"batch": [event], "sentAt": "2026-01-01T00:00:00.000Z", "context": {"library": {"name": "x" * 100}}}
    assert client.post("/v1/batch", json=batch, headers=basic("wk_backend")).status_code == 200


def test_shared_batch_context_is_measured_too(client):
    deep: dict = {}
    for _ in range(300):
        deep = {"d": deep}
    batch = {"batch": [{"type": "track", "userId": "u"}], "context": deep}
    body = refused(client.post("/v1/batch", json=batch, headers=basic("wk_backend")), 400, "event_too_deep")
    assert "shared context" in body["message"]
    batch = {"batch": [{"type": "track", "userId": "u"}], "context": {"blob": "x" * MAX_EVENT_BYTES}}
    refused(client.post("/v1/batch", json=batch, headers=basic("wk_backend")), 400, "event_too_large")


def test_batch_over_500_kb(client):
    events = [{"type": "track", "userId": "u", "properties": {"blob": "x" * 20_000}} for _ in range(30)]
    body = refused(
        client.post("/v1/batch", json={"batch": events}, headers=basic("wk_backend")), 400, "batch_too_large"
    )
    assert body["limit"] == MAX_BATCH_BYTES and "512,000" in body["message"]
    assert stored(client) == []


def test_batch_over_500_kb_without_content_length_is_cut_off(client):
    chunks = (b" " * 65_536 for _ in range(10))  # streamed: no Content-Length, the server counts as it reads
    r = client.post("/v1/batch", content=chunks, headers=basic("wk_backend"))
    refused(r, 400, "batch_too_large")


def test_gzip_bomb(client):
    raw = gzip.compress(b'{"batch": [' + b" " * (20 * MAX_BATCH_BYTES) + b"]}")
    body = refused(post_raw(client, "/v1/batch", raw, {"content-encoding": "gzip"}), 400, "batch_too_large")
    assert body["limit"] == MAX_BATCH_BYTES


def test_batch_over_2500_events(client):
    batch = {"batch": [{"type": "track", "userId": "u"}] * (MAX_BATCH_EVENTS + 1)}
    body = refused(client.post("/v1/batch", json=batch, headers=basic("wk_backend")), 400, "batch_too_many_events")
    assert body["limit"] == MAX_BATCH_EVENTS and "2,500" in body["message"]
    assert stored(client) == []


def test_exactly_2500_events_are_accepted(client):
    batch = {"batch": [{"type": "track", "userId": "u"}] * MAX_BATCH_EVENTS}
    assert client.post("/v1/batch", json=batch, headers=basic("wk_backend")).status_code == 200
    assert len(stored(client)) == MAX_BATCH_EVENTS


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"   ", b"[1,2]", b"null", b'{"userId": "\xff\xfe"}', b'{"a": NaN}', b"\xef\xbb\xbf"]
)
def test_invalid_json(client, raw):
    refused(post_raw(client, "/v1/track", raw), 400, "invalid_json")


def test_no_user_or_anonymous_id(client):
    body = refused(
        client.post("/v1/track", json={"event": "E", "userId": ""}, headers=basic("wk_backend")), 400, "no_user_anon_id"
    )
    assert "userId" in body["message"] and "anonymousId" in body["message"]


def test_unknown_type_in_a_batch(client):
    batch = {"batch": [{"type": "track", "userId": "u"}, {"type": "purchase", "userId": "u"}]}
    body = refused(client.post("/v1/batch", json=batch, headers=basic("wk_backend")), 400, "invalid_type")
    assert "batch[1]" in body["message"] and stored(client) == []


def test_malformed_batches(client):
    refused(client.post("/v1/batch", json={"batch": "x"}, headers=basic("wk_backend")), 400, "invalid_batch")
    refused(client.post("/v1/batch", json={"batch": [1]}, headers=basic("wk_backend")), 400, "invalid_event")


def test_encodings(client):
    refused(post_raw(client, "/v1/track", b"{}", {"content-encoding": "br"}), 415, "unsupported_encoding")
    refused(post_raw(client, "/v1/track", b"\x1f\x8bnot gzip", {"content-encoding": "gzip"}), 400, "invalid_encoding")
    truncated = gzip.compress(json.dumps({"userId": "u"}).encode())[:-9]
    refused(post_raw(client, "/v1/track", truncated, {"content-encoding": "gzip"}), 400, "invalid_encoding")


def test_write_key_refusals(client):
    refused(client.post("/v1/track", json={"userId": "u"}), 401, "missing_write_key")
    refused(client.post("/v1/track", json={"userId": "u"}, headers=basic("wk_nope")), 401, "unknown_write_key")
    refused(
        client.post("/v1/track", json={"userId": "u", "writeKey": "wk_web"}, headers={"authorization": "Basic %%%"}),
        401,
        "invalid_authorization",
    )
    refused(
        client.post("/v1/track", json={"userId": "u"}, headers={"authorization": "Bearer t"}), 401, "missing_write_key"
    )
    assert stored(client) == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_a_json_405(client, method):
    r = client.request(method, "/v1/track")
    body = refused(r, 405, "method_not_allowed")
    assert allowed(r) == {"POST", "OPTIONS"}
    assert f"does not accept {method}" in body["message"]


def test_head_is_a_405_without_body(client):
    r = client.head("/v1/batch")
    assert r.status_code == 405 and allowed(r) == {"POST", "OPTIONS"} and r.content == b""


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/", "/v1", "/v2/track", "/v1/track/extra", "/", "/v1/T"])
def test_unknown_path_is_a_json_404(client, path):
    refused(client.post(path, json={"userId": "u", "writeKey": "wk_web"}), 404, "not_found")


def test_plain_options_lists_the_methods(client):
    r = client.options("/v1/track")
    assert r.status_code == 204 and allowed(r) == {"POST", "OPTIONS"}
    assert "access-control-allow-origin" not in r.headers


class _BrokenStore:
    """A store refusing the write at once, as a closed one does."""

    error: Exception = StoreError("the store is closed")

    def __init__(self, store):
        self._store = store

    def append(self, *args):
        raise self.error

    def __getattr__(self, name):
        return getattr(self._store, name)


class _FailingWrites(_BrokenStore):
    """A store whose write fails, as a full disk or a database gone make it (the stores raise StoreError)."""

    error = StoreError("the event store events.db refused a write: database or disk is full")

    def append(self, *args):
        from concurrent.futures import Future

        failed = Future()
        failed.set_exception(self.error)
        return failed


class _Bug(_FailingWrites):
    """A bug on the way to the store, not the store failing."""

    error = TypeError("'NoneType' object is not subscriptable")


@pytest.mark.parametrize("broken", [_BrokenStore, _FailingWrites])
def test_storage_failure_is_a_503_so_clients_retry(client, broken):
    appender = client.app.state.server.appender
    appender.store = broken(appender.store)
    try:
        r = client.post("/v1/track", json={"userId": "u"}, headers=basic("wk_backend"))
        refused(r, 503, "storage_unavailable")
    finally:
        appender.store = appender.store._store
    assert client.post("/v1/track", json={"userId": "u"}, headers=basic("wk_backend")).status_code == 200


def test_a_bug_on_the_way_to_the_store_is_a_500_with_its_traceback_logged(client, caplog):
    appender = client.app.state.server.appender
    appender.store = _Bug(appender.store)
    try:
        r = client.post("/v1/track", json={"userId": "u"}, headers=basic("wk_backend"))
        refused(r, 500, "internal_error")  # not 503 storage_unavailable: the store is fine, the server is not
    finally:
        appender.store = appender.store._store
    assert "NoneType" not in r.text
    [logged] = [record for record in caplog.records if record.exc_info and "failed on a bug" in record.getMessage()]
    assert isinstance(logged.exc_info[1], TypeError)


# --- CORS -------------------------------------------------------------------------------------------------------


def preflight(client, origin, headers="authorization,content-type"):
    return client.options(
        "/v1/t",
        headers={"origin": origin, "access-control-request-method": "POST", "access-control-request-headers": headers},
    )


@pytest.mark.parametrize("origin", [WEB, "http://staging.shop.example"])
def test_preflight_for_a_listed_origin(client, origin):
    r = preflight(client, origin)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == origin
    assert r.headers["access-control-allow-methods"] == "POST, OPTIONS"
    assert r.headers["access-control-allow-headers"] == "authorization,content-type"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert int(r.headers["access-control-max-age"]) > 0 and r.headers["vary"] == "Origin"


def test_preflight_without_requested_headers_allows_the_clients_headers(client):
    r = client.options("/v1/b", headers={"origin": WEB, "access-control-request-method": "POST"})
    allowed = r.headers["access-control-allow-headers"]
    assert {"authorization", "content-type", "x-retry-count"} <= set(allowed.split(", "))


def test_preflight_for_an_unlisted_origin_is_refused(tmp_path):
    text = config_text(tmp_path).replace('cors_origins: ["*"]', "cors_origins: []")
    app = create_app(parse_config(text), run_worker=False)
    with TestClient(app, base_url="http://collector.example") as http:
        r = preflight(http, OTHER_SITE)
        refused(r, 403, "origin_not_allowed")
        assert "access-control-allow-origin" not in r.headers


def test_a_listed_origin_can_read_the_response(client):
    r = client.post("/v1/t", json={"userId": "u", "writeKey": "wk_web"}, headers={"origin": WEB})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == WEB
    # a refusal is readable too, so analytics.js sees a 400 (drops the event) instead of a network error (retries)
    r = client.post("/v1/t", json={"writeKey": "wk_web"}, headers={"origin": WEB})
    refused(r, 400, "no_user_anon_id")
    assert r.headers["access-control-allow-origin"] == WEB


def test_an_unlisted_origin_is_refused_and_nothing_stored(client):
    r = client.post(
        "/v1/t",
        content=json.dumps({"userId": "u", "writeKey": "wk_web"}),
        headers={"origin": OTHER_SITE, "content-type": "text/plain"},
    )
    body = refused(r, 403, "origin_not_allowed")
    assert OTHER_SITE in body["message"] and "access-control-allow-origin" not in r.headers
    # listed for `web`, but sending to `backend` (no browser origins): refused as well
    r = client.post("/v1/t", json={"userId": "u", "writeKey": "wk_backend"}, headers={"origin": WEB})
    refused(r, 403, "origin_not_allowed")
    assert stored(client) == []


def test_any_origin_with_a_star_may_read_but_never_with_credentials(client):
    r = client.post("/v1/t", json={"userId": "u", "writeKey": "wk_open"}, headers={"origin": OTHER_SITE})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == OTHER_SITE
    assert "access-control-allow-credentials" not in r.headers and r.headers["vary"] == "Origin"
    r = client.post("/v1/t", json={"writeKey": "wk_open"}, headers={"origin": OTHER_SITE})  # a refusal, readable
    assert r.status_code == 400 and "access-control-allow-credentials" not in r.headers
    r = preflight(client, OTHER_SITE)
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == OTHER_SITE
    assert "access-control-allow-credentials" not in r.headers


def test_the_servers_own_pages_are_always_allowed(client):
    r = client.post(
        "/v1/t", json={"userId": "u", "writeKey": "wk_backend"}, headers={"origin": "http://collector.example"}
    )
    assert r.status_code == 200 and r.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize("public_url", ["http://collector.example", None])
def test_the_other_scheme_of_the_servers_host_is_another_origin(tmp_path, public_url):
    """`https://collector.example` is not the page `http://collector.example` served: not same-origin."""
    text = config_text(tmp_path, public_url or "x")
    if public_url is None:
        text = text.replace('server: {public_url: "x"}', "")
    app = create_app(parse_config(text), run_worker=False)
    with TestClient(app, base_url="http://collector.example") as http:
        r = http.post(
            "/v1/t", json={"userId": "u", "writeKey": "wk_backend"}, headers={"origin": "https://collector.example"}
        )
        refused(r, 403, "origin_not_allowed")
    app = create_app(parse_config(text), run_worker=False)
    with TestClient(app, base_url="https://collector.example") as http:  # and the other way round
        r = http.post(
            "/v1/t", json={"userId": "u", "writeKey": "wk_backend"}, headers={"origin": "http://collector.example"}
        )
        assert r.status_code == (200 if public_url else 403)  # the public URL's own origin is always the server's
        r = http.post(
            "/v1/t", json={"userId": "u", "writeKey": "wk_backend"}, headers={"origin": "https://collector.example"}
        )
        assert r.status_code == 200


def test_requests_without_origin_are_not_checked(client):
    assert (
        client.post(
            "/v1/batch", json={"batch": [{"type": "track", "userId": "u"}]}, headers=basic("wk_backend")
        ).status_code
        == 200
    )


@pytest.mark.parametrize("origin", ["shop.example", "http://shop.example/path", "ftp://shop.example", ""])
def test_configured_origins_must_be_origins(tmp_path, origin):
    with pytest.raises(ConfigError) as info:
        parse_config(f'sources: [{{name: web, write_key: k, cors_origins: ["{origin}"]}}]', "c.yaml")
    assert "sources[0].cors_origins" in str(info.value) and "is not an origin" in str(info.value)


def test_a_bug_is_a_json_500_so_clients_keep_the_events(tmp_path, monkeypatch, caplog):
    import actions_1flow.server.tracking as tracking

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(tracking, "read_request", broken)
    app = create_app(parse_config(config_text(tmp_path)), run_worker=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        r = http.post("/v1/track", json={"userId": "u", "writeKey": "wk_backend"})
    refused(r, 500, "internal_error")
    assert "a bug" not in r.text and "unhandled error on POST /v1/track" in caplog.text


def test_nothing_malformed_is_echoed_into_cors_headers(client):
    """Even for a source open to every origin, only well-formed origins and header lists are reflected."""
    r = client.post("/v1/t", json={"userId": "u", "writeKey": "wk_open"}, headers={"origin": "http://a b.example"})
    refused(r, 403, "origin_not_allowed")
    r = preflight(client, WEB, headers="authorization, x-custom\x7f")
    assert (
        r.status_code == 204
        and r.headers["access-control-allow-headers"] == "authorization, content-type, content-encoding, x-retry-count"
    )
    r = preflight(client, WEB, headers="authorization, x-custom-header")
    assert r.headers["access-control-allow-headers"] == "authorization, x-custom-header"


# --- key rotation (issue 16, point 8) ---------------------------------------------------------------------------


def test_a_source_accepts_its_previous_write_keys_during_a_rotation(tmp_path):
    text = config_text(tmp_path).replace(
        "{name: backend, write_key: wk_backend}",
        "{name: backend, write_key: wk_new, previous_write_keys: [wk_backend, wk_older]}",
    )
    app = create_app(parse_config(text), run_worker=False)
    with TestClient(app, base_url="http://collector.example") as http:
        http.store = app.state.server.store
        for i, key in enumerate(["wk_new", "wk_backend", "wk_older"]):
            assert http.post("/v1/track", json={"userId": "u", "event": f"E{i}"}, headers=basic(key)).status_code == 200
        refused(
            http.post("/v1/track", json={"userId": "u", "event": "E"}, headers=basic("wk_gone")),
            401,
            "unknown_write_key",
        )
        assert [e["event"] for e in stored(http, "backend")] == ["E0", "E1", "E2"]


def test_a_write_key_names_one_source(tmp_path):
    text = config_text(tmp_path).replace(
        "{name: backend, write_key: wk_backend}",
        "{name: backend, write_key: wk_backend, previous_write_keys: [wk_web]}",
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert "sources[1].previous_write_keys[0]: this write key is already a key of source 'web'" in str(info.value)
