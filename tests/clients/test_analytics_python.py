"""segment-analytics-python (PyPI), unchanged, with `host` set to our server.

It posts `/v1/batch` with HTTP Basic auth (here gzip-encoded) and calls `on_error(exc, batch)` for every batch the
server refuses; a batch it does not report was acknowledged. So: acknowledged events == what 1Flow received.
"""

from __future__ import annotations

from collections import Counter

from segment.analytics import Client
from segment.analytics.request import APIError

from tests.clients.conftest import delivered, wait_for_delivery

LARGE_FLUSH = 1_200


def make_client(server, key: str = "wk_python", **options) -> tuple[Client, list[tuple[Exception, list[dict]]]]:
    errors: list[tuple[Exception, list[dict]]] = []
    client = Client(
        key,
        host=server.url,
        gzip=True,
        on_error=lambda exc, batch: errors.append((exc, batch)),
        upload_interval=0.05,
        max_retries=2,
        **options,
    )
    return client, errors


def enqueue(ok_and_msg) -> dict:
    ok, msg = ok_and_msg
    assert ok, "the client's queue refused the message"
    return msg


def test_identify_track_page_and_a_large_flush_reach_1flow(tracking_server, live_sandbox, run_id):
    client, errors = make_client(tracking_server)
    enqueue(client.identify("user-py", {"run": run_id, "n": 0, "plan": "pro"}))
    enqueue(client.track("user-py", "Signed Up", {"run": run_id, "n": 0}))
    enqueue(client.page("user-py", "Docs", "Install", {"run": run_id, "n": 0}))
    for n in range(1, LARGE_FLUSH + 1):
        enqueue(client.track(anonymous_id=f"anon-{n % 7}", event="Bulk Event", properties={"run": run_id, "n": n}))
    client.flush()
    client.shutdown()
    assert errors == []
    expected = Counter(
        [("identify", "user-py", 0), ("track", "Signed Up", 0), ("track", "Page Viewed", 0)]
        + [("track", "Bulk Event", n) for n in range(1, LARGE_FLUSH + 1)]
    )
    wait_for_delivery(live_sandbox, run_id, expected)


def test_refused_batches_are_reported_with_our_code_and_never_delivered(tracking_server, live_sandbox, run_id):
    # An unknown write key: every batch refused with 401, which the client does not retry.
    client, errors = make_client(tracking_server, key="wk_unknown")
    for n in range(5):
        enqueue(client.track("u", "Nope", {"run": run_id, "n": n}))
    client.flush()
    client.shutdown()
    assert [(e.status, e.code) for e, _ in errors if isinstance(e, APIError)] == [(401, "unknown_write_key")]
    assert sum(len(batch) for _, batch in errors) == 5

    # A batch holding one event nested deeper than can be stored: the whole batch is refused (400, not retried),
    # the next batch is accepted; what 1Flow receives is exactly the accepted batch.
    client, errors = make_client(tracking_server, upload_size=10)
    deep: dict = {}
    for _ in range(300):
        deep = {"d": deep}
    bad = [
        enqueue(client.track("u", "In Bad Batch", {"run": run_id, "n": n, **({"deep": deep} if n == 3 else {})}))
        for n in range(10)
    ]
    client.flush()
    good = [enqueue(client.track("u", "In Good Batch", {"run": run_id, "n": n})) for n in range(10, 20)]
    client.flush()
    client.shutdown()
    [(exc, batch)] = errors
    assert isinstance(exc, APIError) and (exc.status, exc.code) == (400, "event_too_deep")
    assert "batch[3]" in exc.message
    assert {m["messageId"] for m in batch} == {m["messageId"] for m in bad}
    wait_for_delivery(live_sandbox, run_id, Counter(("track", "In Good Batch", m["properties"]["n"]) for m in good))
    assert not [k for k in delivered(live_sandbox, run_id) if k[1] in ("Nope", "In Bad Batch")]


def test_a_rate_limited_source_gets_everything_delivered_in_the_end(tracking_server, live_sandbox, run_id):
    # 400 events in batches of 100 against 100 events/s, burst 100: the first batch passes, the later ones are
    # refused with 429 + Retry-After until the bucket refills; the client waits and re-sends, losing nothing.
    client, errors = make_client(tracking_server, key="wk_limited", upload_size=100)
    for n in range(400):
        enqueue(client.track("user-limited", "Limited", {"run": run_id, "n": n}))
    client.flush()
    client.shutdown()
    assert errors == []
    wait_for_delivery(live_sandbox, run_id, Counter(("track", "Limited", n) for n in range(400)))
    assert "source limited is over its rate limit" in tracking_server.log_text()
