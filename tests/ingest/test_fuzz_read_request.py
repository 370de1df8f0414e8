"""Any request body, header and encoding: `read_request` accepts or raises IngestError (a 4xx), nothing else."""

from __future__ import annotations

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions_1flow.ingest import IngestError, read_request

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["track", "identify", "page", "bogus", 1, None]),
        "userId": st.none() | st.text(max_size=5) | st.integers(),
        "anonymousId": st.none() | st.text(max_size=5),
        "messageId": st.none() | st.text(max_size=5) | st.integers(),
        "timestamp": st.none()
        | st.text(max_size=30)
        | st.sampled_from(["2026-11-29T12:00:00Z", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"]),
        "sentAt": st.none()
        | st.text(max_size=30)
        | st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00"]),
        "context": json_values,
        "properties": json_values,
        "writeKey": st.none() | st.text(max_size=5),
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    event_like.map(lambda e: json.dumps(e).encode()),
    st.lists(event_like, max_size=5).map(lambda b: json.dumps({"batch": b, "sentAt": "x"}).encode()),
    st.integers(1, 10_000).map(lambda d: b'{"batch": ' + b"[" * d + b"]" * d + b"}"),
    st.integers(1, 10_000).map(lambda d: b'{"userId": "u", "properties": ' + b"[" * d + b"]" * d + b"}"),
    st.binary(max_size=50).map(lambda b: b'{"userId": "' + b + b'"}'),
)
encodings = st.sampled_from(["", "gzip", "deflate", "identity", "br", "GZIP", " gzip "])
auth = st.one_of(st.just(""), st.text(max_size=20), st.binary(max_size=12).map(lambda b: "Basic " + b.hex()))
kinds = st.sampled_from(["track", "t", "identify", "i", "page", "p", "screen", "group", "alias", "batch", "b", "nope"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=kinds, raw=bodies, encoding=encodings, gzip_it=st.booleans(), authorization=auth)
def test_read_request_accepts_or_refuses_with_a_4xx(kind, raw, encoding, gzip_it, authorization):
    if gzip_it:
        raw = gzip.compress(raw)
    headers = {"content-encoding": encoding, "authorization": authorization}
    try:
        request = read_request(kind, raw, headers, "127.0.0.1")
    except IngestError as err:
        assert 400 <= err.status < 500
        json.dumps(err.to_json())
        return
    for event in request.events:
        assert event["type"] in ("track", "identify", "page", "screen", "group", "alias")
        assert isinstance(event["messageId"], str) and "writeKey" not in event
