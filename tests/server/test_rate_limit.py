"""Per-source rate limits: the token bucket's arithmetic (with a fake clock), and the tracking API's 429 (Retry-After,
JSON reason, nothing stored, counted per source) in-process."""

from __future__ import annotations

import json
import logging
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from actions_1flow.app import create_app
from actions_1flow.config import ConfigError, parse_config
from actions_1flow.server.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_the_rate():
    clock = Clock()
    limiter = RateLimiter({"s": (10.0, 5)}, clock)
    assert [limiter.admit("s", 1) for _ in range(5)] == [0] * 5
    assert limiter.admit("s", 1) == 1  # empty: one token takes 0.1 s, announced as the whole second clients read
    clock.now += 0.1
    assert limiter.admit("s", 1) == 0
    assert limiter.admit("s", 1) == 1
    clock.now += 100  # refills only up to the burst
    assert [limiter.admit("s", 1) for _ in range(6)] == [0] * 5 + [1]
    assert limiter.refused_requests["s"] == 3 and limiter.refused_events["s"] == 3


def test_a_batch_costs_one_token_per_event_and_a_batch_over_the_burst_passes_on_a_full_bucket():
    clock = Clock()
    limiter = RateLimiter({"s": (2.0, 10)}, clock)
    assert limiter.admit("s", 50) == 0  # full bucket: admitted, leaving 40 events of debt
    assert limiter.admit("s", 1) == 21  # (1 - (-40)) / 2 events per second
    assert limiter.refused_events["s"] == 1
    clock.now += 25  # debt paid, 10 back in the bucket
    assert limiter.admit("s", 10) == 0


def test_unlimited_sources_are_never_refused():
    limiter = RateLimiter({"s": (1.0, 1)}, Clock())
    assert all(limiter.admit("other", 1000) == 0 for _ in range(100))


def config(tmp_path, limit: str = "{events_per_second: 1, burst: 3}") -> str:
    return f"""
storage: sqlite:///{tmp_path}/db.sqlite
sources:
  - {{name: limited, write_key: wk_limited, rate_limit: {limit}, cors_origins: ["http://shop.example"]}}
  - {{name: free, write_key: wk_free}}
"""


def test_config_defaults_and_refuses_bad_limits(tmp_path):
    cfg = parse_config(config(tmp_path, "{events_per_second: 2.5}"))
    assert cfg.sources[0].rate_limit.bucket() == (2.5, 3)
    assert cfg.sources[1].rate_limit is None
    for bad, where in [
        ("{events_per_second: 0}", "events_per_second"),
        ("{events_per_second: 5, burst: 0}", "burst"),
        ("{burst: 5}", "events_per_second"),
        ("{events_per_second: 5, per: minute}", "per"),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_config(config(tmp_path, bad))
        assert f"sources[0].rate_limit.{where}" in str(caught.value)


def test_over_the_limit_is_a_429_with_retry_after_nothing_stored_and_counted(tmp_path, caplog):
    app = create_app(parse_config(config(tmp_path)), run_worker=False)
    with TestClient(app) as http:
        store = app.state.server.store
        batch = {"writeKey": "wk_limited", "batch": [{"type": "track", "userId": "u", "event": "E"}] * 3}
        assert http.post("/v1/batch", content=json.dumps(batch)).status_code == 200
        with caplog.at_level(logging.WARNING, "actions_1flow.server"):
            r = http.post("/v1/track", content=json.dumps({"writeKey": "wk_limited", "userId": "u", "event": "Over"}))
            again = http.post(
                "/v1/track", content=json.dumps({"writeKey": "wk_limited", "userId": "u", "event": "Over"})
            )
        assert r.status_code == 429 and again.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["success"] is False and body["code"] == "rate_limited" and "limited" in body["message"]
        assert [e.event["event"] for e in store.read_after(0, ["limited"], 100)] == ["E", "E", "E"]
        limiter = app.state.rate_limiter
        assert (limiter.refused_requests["limited"], limiter.refused_events["limited"]) == (2, 2)  # counted per source
        assert [m for m in caplog.messages if "rate limit" in m] == [
            "source limited is over its rate limit (1 events/s, burst 3): "
            "1 request(s), 1 event(s) refused with 429 so far"
        ]
        # A page's analytics.js may read Retry-After: the 429 carries the CORS headers and exposes it.
        r = http.post(
            "/v1/t",
            content=json.dumps({"writeKey": "wk_limited", "userId": "u"}),
            headers={"origin": "http://shop.example"},
        )
        assert r.status_code == 429
        assert r.headers["access-control-allow-origin"] == "http://shop.example"
        assert r.headers["access-control-expose-headers"] == "Retry-After"
        # Another source is not affected.
        for _ in range(20):
            assert (
                http.post(
                    "/v1/track", content=json.dumps({"writeKey": "wk_free", "userId": "u", "event": "F"})
                ).status_code
                == 200
            )
        assert "free" not in limiter.refused_requests
