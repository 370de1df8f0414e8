"""Segment (Actions) between two real servers: analytics-python (segment-analytics-python, unchanged) sends 2,000
events of each type to server A, whose `segment` destination (the forwarding presets) points at server B, a second
`actions-1flow serve` with its own store. A is killed with SIGKILL and restarted mid-way.

Every event A acknowledged (the client reports every batch it was refused) is stored at B exactly once, with its
messageId, type, userId/anonymousId, properties/traits, context and timestamp as A stored them; what a crash sends
twice, B de-duplicates by messageId, as Segment does."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml
from segment.analytics import Client

from actions_1flow.pipeline import SQLiteStore
from tests.helpers.pipeline import ServerProcess, wait_until
from tests.helpers.process import free_port

PER_TYPE = 2_000
TYPES = ("track", "identify", "page", "screen", "group", "alias")
A_KEY = "wk_site"
B_KEY = "wk_upstream_source"
STARTUP_S = 60.0
"""How long a server may take to answer (a restart replays nothing, but a loaded machine is slow to start one)."""
KEPT = ("messageId", "type", "userId", "anonymousId", "properties", "traits", "context", "timestamp")
"""What B must hold as A stored it (and, per type, event / name / groupId / previousId)."""


def write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def stored(db: Path, source: str) -> list[dict[str, Any]]:
    store = SQLiteStore(db)
    try:
        return [item.event for item in store.read_after(0, [source], 1_000_000)]
    finally:
        store.close()


def enqueue_all(client: Client, start: int, stop: int) -> None:
    for n in range(start, stop):
        kind = TYPES[n % len(TYPES)]
        user = {"user_id": f"user-{n % 211}"} if n % 3 else {"anonymous_id": f"anon-{n % 101}"}
        context = {"campaign": {"source": "newsletter"}, "locale": "fr-FR", "n": n}
        if kind == "track":
            ok, _ = client.track(event="Order Completed", properties={"n": n, "total": n / 4}, context=context, **user)
        elif kind == "identify":
            ok, _ = client.identify(traits={"n": n, "plan": "pro", "name": "Zoë"}, context=context, **user)
        elif kind == "page":
            ok, _ = client.page(category="Docs", name="Install", properties={"n": n}, context=context, **user)
        elif kind == "screen":
            ok, _ = client.screen(category="App", name="Home", properties={"n": n}, context=context, **user)
        elif kind == "group":
            ok, _ = client.group(group_id=f"acct-{n % 13}", traits={"n": n}, context=context, **user)
        else:
            ok, _ = client.alias(previous_id=f"anon-{n}", user_id=f"user-{n % 211}", context=context)
        assert ok, "the client's queue refused an event"


def test_forwarded_exactly_once_unchanged_through_a_crash(tmp_path):
    b_dir, a_dir = tmp_path / "b", tmp_path / "a"
    b_dir.mkdir()
    a_dir.mkdir()
    b_config = write(
        b_dir / "b.yaml",
        {"storage": f"sqlite:///{b_dir / 'b.db'}", "sources": [{"name": "upstream", "write_key": B_KEY}]},
    )
    b = ServerProcess(b_config, free_port(), b_dir / "serve.log")
    a: ServerProcess | None = None
    a_config = write(
        a_dir / "a.yaml",
        {
            "storage": f"sqlite:///{a_dir / 'a.db'}",
            "pipeline": {"poll_interval": "50ms", "batch_age": "50ms", "retry_base": "200ms", "retry_cap": "1s"},
            "sources": [{"name": "site", "write_key": A_KEY}],
            "destinations": [
                {
                    "name": "to-b",
                    "type": "segment",
                    "mode": "cloud",
                    "settings": {"source_write_key": B_KEY, "apiBaseUrl": f"{b.url}/v1"},
                    "subscriptions": "presets",
                }
            ],
        },
    )
    a_port = free_port()
    errors: list[tuple[Exception, list[dict[str, Any]]]] = []
    client = Client(
        A_KEY,
        host=f"http://127.0.0.1:{a_port}",
        gzip=True,
        upload_size=250,
        upload_interval=0.05,
        max_queue_size=50_000,
        max_retries=8,
        on_error=lambda exc, batch: errors.append((exc, batch)),
    )
    total = PER_TYPE * len(TYPES)
    try:
        b.wait_ready(STARTUP_S)
        a = ServerProcess(a_config, a_port, a_dir / "serve.log")
        a.wait_ready(STARTUP_S)
        enqueue_all(client, 0, total // 2)
        wait_until(lambda: len(stored(b_dir / "b.db", "upstream")) >= 500, 60, "A forwarding to B")
        a.kill()  # SIGKILL mid-way: A is receiving and forwarding
        assert len(stored(b_dir / "b.db", "upstream")) < total // 2
        enqueue_all(client, total // 2, total)  # the client keeps sending into the outage, retrying
        time.sleep(0.3)
        a = ServerProcess(a_config, a_port, a_dir / "serve.log")
        a.wait_ready(STARTUP_S)
        client.flush()
        client.shutdown()
        assert errors == [], f"{len(errors)} batches refused, e.g. {errors[0][0]!r}"
        at_a = stored(a_dir / "a.db", "site")
        assert len(at_a) == total  # everything acknowledged, each once
        wait_until(lambda: len(stored(b_dir / "b.db", "upstream")) >= total, 180, "every event forwarded to B")
        time.sleep(0.5)  # anything still in flight would arrive now
    finally:
        for consumer in client.consumers or []:
            consumer.pause()  # no waiting on a queue that can no longer drain: the servers stop next
        if a is not None:
            a.stop()
        b.stop()
    at_b = stored(b_dir / "b.db", "upstream")
    by_id = {e["messageId"]: e for e in at_b}
    assert len(at_b) == len(by_id) == total, "an event stored twice, or one missing, at B"
    assert "Traceback" not in (a_dir / "serve.log").read_text(encoding="utf-8")
    for sent in at_a:
        got = by_id[sent["messageId"]]
        for key in (*KEPT, "event", "name", "groupId", "previousId"):
            assert got.get(key) == sent.get(key), (sent["type"], key, sent.get(key), got.get(key))
    assert {e["type"] for e in at_b} == set(TYPES)
    assert {e["context"]["library"]["name"] for e in at_b} == {"analytics-python"}  # the context whole, library too
    assert B_KEY not in (a_dir / "serve.log").read_text(encoding="utf-8")
