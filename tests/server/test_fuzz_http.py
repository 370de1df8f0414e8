"""A bounded Hypothesis run over the whole ASGI app: random methods, paths, headers, encodings, chunking, bodies
(JSON-ish, binary, invalid UTF-8, nesting 10,000 deep, zip bombs) and clients hanging up midway.

Properties: the app never raises and never answers 5xx; every refusal is JSON with a code; an accepted request
stored its events; no request allocates more than a bounded amount of memory.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions_1flow.app import create_app
from actions_1flow.config import parse_config
from actions_1flow.pipeline import SQLiteStore

MEMORY_BOUND = 24 * 1024 * 1024
"""Peak Python allocation for one request: a full 500 KB batch parses into a few MB; nothing may approach this."""

KEYS = ["wk_a", "wk_b"]
BOMB = gzip.compress(b'{"batch": [' + b" " * 64 * 1024 * 1024 + b"]}", 9)
"""64 MB of JSON in about 64 KB of gzip: inflating it would break MEMORY_BOUND."""

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
event = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias"] * 3 + ["nope", 7, None]),
        "userId": st.text(min_size=1, max_size=4) | st.integers() | st.none() | st.just(""),
        "writeKey": st.sampled_from(["wk_a"] * 6 + ["wk_b", "", "wk_nope", 7]),
    },
    optional={
        "anonymousId": st.none() | st.text(max_size=4),
        "messageId": st.none() | st.text(max_size=4) | st.integers() | st.booleans(),
        "timestamp": st.text(max_size=25)
        | st.sampled_from(["2026-01-01T00:00:00Z", "+275760-09-13T00:00:00Z", "0001-01-01T00:00:00-23:59"]),
        "sentAt": st.text(max_size=25) | st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+23:59"]),
        "context": json_value,
        "properties": json_value,
    },
)


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, picked in proportion to its weight (most requests should get past routing and auth)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


def deep(depth: int, opener: bytes, closer: bytes) -> bytes:
    return b'{"userId": "u", "writeKey": "wk_a", "properties": ' + opener * depth + closer * depth + b"}"


def dumps(value) -> bytes:
    return json.dumps(value).encode()  # integers of any size, as a client could send them


bodies = weighted(
    (6, event.map(dumps)),
    (6, st.lists(event, max_size=4).map(lambda b: dumps({"batch": b, "writeKey": "wk_a"}))),
    (1, st.binary(max_size=200)),
    (
        1,
        st.binary(max_size=40).map(lambda b: b'{"userId": "' + b + b'", "writeKey": "wk_a"}'),
    ),  # invalid UTF-8 inside JSON
    (1, st.integers(1, 10_000).map(lambda d: deep(d, b"[", b"]"))),
    (1, st.integers(1, 10_000).map(lambda d: deep(d, b'{"a":', b"}"))),
    (1, st.integers(1, 10_000).map(lambda d: b'{"batch": ' + b"[" * d + b"]" * d + b', "writeKey": "wk_a"}')),
    (
        1,
        st.integers(1, 1_000).map(
            lambda d: (
                b'{"batch": [{"type": "track", "userId": "u"}], "writeKey": "wk_a", "context": '
                + b'{"a":' * d
                + b"1"
                + b"}" * d
                + b"}"
            )
        ),
    ),
    (1, st.sampled_from([b"\xef\xbb\xbf{}", b"null", b"[]", b'"x"', b"1e999999", b'{"batch": null}', b"{" * 5000])),
)


def encode(raw: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(raw)
    if how == "deflate":
        return zlib.compress(raw)
    if how == "bomb":
        return BOMB
    if how == "truncated":
        return gzip.compress(raw)[: max(1, len(raw) // 2)]
    return raw


header_text = st.text(max_size=30).map(lambda t: t.encode("utf-8")) | st.binary(max_size=30)
some_headers = st.fixed_dictionaries(
    {},
    optional={
        b"content-type": st.sampled_from(
            [b"text/plain", b"application/json", b"application/json; charset=utf-8", b"multipart/form-data"]
        )
        | header_text,
        b"content-encoding": st.sampled_from([b"gzip", b"deflate", b"identity", b"br", b"GZIP", b"gzip, gzip"])
        | header_text,
        b"authorization": st.sampled_from(
            [b"Basic d2tfYTo=", b"Basic d2tfYg==", b"Basic %%%", b"Bearer t", b"Basic ", b"Basic \xff"]
        )
        | header_text,
        b"origin": st.sampled_from([b"http://shop.example", b"null", b"http://server.test", b"https://evil.example"])
        | header_text,
        b"content-length": st.sampled_from([b"0", b"5", b"99999999", b"-1", b"x"]),
        b"access-control-request-method": st.sampled_from([b"POST", b"PUT"]) | header_text,
        b"access-control-request-headers": header_text,
        b"host": st.sampled_from([b"server.test", b""]) | header_text,
    },
)
headers = weighted(
    (2, st.sampled_from([{}, {b"content-type": b"text/plain"}, {b"authorization": b"Basic d2tfYTo="}])),
    (1, some_headers),
)
methods = st.sampled_from(["POST"] * 30 + ["GET", "HEAD", "OPTIONS", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE"])
endpoints = [
    "/v1/track",
    "/v1/t",
    "/v1/batch",
    "/v1/b",
    "/v1/identify",
    "/v1/i",
    "/v1/page",
    "/v1/p",
    "/v1/screen",
    "/v1/group",
    "/v1/alias",
    "/v1/a",
]
paths = weighted(
    (8, st.sampled_from(endpoints)),
    (1, st.sampled_from(["/v1/x", "/v1/", "/", "/health", "/v1/track/", "/v1/T"])),
    (1, st.text(max_size=20).map(lambda t: "/" + t)),
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz")
    config = parse_config(
        f"""
storage: sqlite:///{directory}/db.sqlite
server: {{public_url: "http://server.test", body_timeout: 0.05}}
sources:
  - {{name: a, write_key: wk_a, cors_origins: ["http://shop.example"]}}
  - {{name: b, write_key: wk_b}}
""",
        "fuzz.yaml",
    )
    store = SQLiteStore(directory / "db.sqlite")
    yield create_app(config, store=store, run_worker=False)
    store.close()


async def call(app, method: str, path: str, hdrs: dict[bytes, bytes], parts: list[bytes], ending: str) -> list[dict]:
    """Run one request through the ASGI app. `ending`: `complete` (the body ends), `hang_up` (the client
    disconnects before the body ends) or `stall` (more body is announced but never comes)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": b"",
        "root_path": "",
        "headers": list(hdrs.items()),
        "client": ("203.0.113.9", 5000),
        "server": ("server.test", 80),
    }
    last = len(parts) - 1
    messages = [
        {"type": "http.request", "body": p, "more_body": i < last or ending != "complete"} for i, p in enumerate(parts)
    ]
    if ending == "hang_up":
        messages.append({"type": "http.disconnect"})
    sent: list[dict] = []

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        if ending == "stall":
            await asyncio.sleep(3600)  # the body timeout must answer first
        return {"type": "http.disconnect"}  # after the response, as a server reports a closed connection

    async def send(message: dict) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    return sent


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    method=methods,
    path=paths,
    hdrs=headers,
    raw=bodies,
    how=st.sampled_from(["plain"] * 5 + ["gzip", "deflate", "bomb", "truncated"]),
    split=st.integers(1, 4),
    ending=st.sampled_from(["complete"] * 16 + ["hang_up"] * 3 + ["stall"]),
)
def test_any_request_gets_a_4xx_or_success_never_a_crash(app, method, path, hdrs, raw, how, split, ending):
    body = encode(raw, how)
    if how in ("gzip", "deflate", "bomb") and b"content-encoding" not in hdrs:
        hdrs = {**hdrs, b"content-encoding": b"deflate" if how == "deflate" else b"gzip"}
    size = -(-len(body) // split) or 1
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    store = app.state.server.store
    before = store.last_seq()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    sent = asyncio.run(call(app, method, path, hdrs, parts, ending))
    peak = tracemalloc.get_traced_memory()[1] - baseline
    assert peak < MEMORY_BOUND, f"{peak:,} bytes for one request"
    if not sent:
        assert ending == "hang_up", "no answer although the client waited"
        assert store.last_seq() == before
        return
    status = sent[0]["status"]
    assert status < 500, (status, sent)
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    if status == 200 and path.startswith("/v1/"):
        assert ending == "complete" and json.loads(payload) == {"success": True}
    else:
        assert store.last_seq() == before
        if payload and status >= 400:
            answer = json.loads(payload)
            assert answer["success"] is False and isinstance(answer["code"], str) and answer["message"]
    if status == 408:
        assert ending == "stall"


@pytest.fixture(autouse=True, scope="module")
def _trace_memory():
    tracemalloc.start()
    yield
    tracemalloc.stop()
