"""A damaged store is refused at start with the path and what to do, and one found damaged at run time makes the
server answer 503 (ingest, /health, /ready) instead of acknowledging events it cannot keep (issue 16, point 2)."""

from __future__ import annotations

import logging
import os
import pathlib
import random
import subprocess
import threading
import time
import warnings

import pytest

from actions_1flow.app import create_app
from actions_1flow.config import parse_config
from actions_1flow.pipeline import SQLiteStore
from tests.helpers.cli import invoke
from tests.helpers.process import cli_command, free_port
from tests.helpers.server import ServeProcess

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PAGE = 4096


def events(n: int, prefix: str = "m") -> list[dict]:
    return [{"type": "track", "event": "E" * 200, "userId": "u", "messageId": f"{prefix}{i}"} for i in range(n)]


def filled_store(path) -> None:
    """A store of a few hundred pages, checkpointed into the main file (no -wal left)."""
    store = SQLiteStore(path)
    for batch in range(20):
        store.append("web", events(100, f"b{batch}-"), 1.0).result()
    store.close()


def overwrite_pages(path, pages, seed: int = 7) -> None:
    rnd = random.Random(seed)
    with open(path, "r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * PAGE)
            handle.write(bytes(rnd.randrange(256) for _ in range(PAGE)))


def write_config(tmp_path, store_path) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"storage: sqlite:///{store_path}\nsources:\n  - {{name: web, write_key: wk}}\ndestinations:\n"
        "  - {name: a, mode: cloud, sources: [web], settings: {projectApiKey: k_0123456789, apiBaseUrl: 'http://127.0.0.1:9/v1'}}\n"
    )
    return str(path)


def damage(kind: str, path) -> str:
    """Leave a bad store of `kind` at `path`; returns what the refusal must say."""
    if kind == "random bytes":
        path.write_bytes(random.Random(1).randbytes(64 * 1024))
        return "is not an SQLite database"
    if kind == "directory":
        path.mkdir()
        return "is a directory"
    filled_store(path)
    size = path.stat().st_size
    if kind == "truncated":
        os.truncate(path, size // 3)
    elif kind == "pages overwritten":
        overwrite_pages(path, random.Random(3).sample(range(2, size // PAGE), 5))
    elif kind == "read-only":
        path.chmod(0o444)
        return "is read-only"
    return "is damaged"


KINDS = ["random bytes", "truncated", "pages overwritten", "directory", "read-only"]


def run(command: str, config: str) -> tuple[int, str, str]:
    """`serve`/`worker` as real processes (one that wrongly starts is stopped by the timeout: the test fails, the
    suite goes on); `status`/`events` in-process."""
    if command in ("serve", "worker"):
        extra = ["--port", str(free_port())] if command == "serve" else []
        try:
            done = subprocess.run(
                [*cli_command(), command, "--config", config, *extra], capture_output=True, text=True, timeout=20
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{command} started on a bad store instead of refusing it")
        return done.returncode, done.stdout, done.stderr
    result = invoke(command, "--config", config)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", ["serve", "worker", "status", "events"])
def test_a_bad_store_is_refused_with_the_path_and_what_to_do(tmp_path, kind, command):
    store_path = tmp_path / "events.db"
    expected = damage(kind, store_path)
    code, stdout, stderr = run(command, write_config(tmp_path, store_path))
    assert code == 2, stdout + stderr
    assert str(store_path) in stderr and expected in stderr
    assert "Traceback" not in stdout + stderr
    if expected in ("is damaged", "is not an SQLite database"):
        assert "restore the latest backup" in stderr


def test_the_integrity_check_is_bounded_in_time(tmp_path, caplog):
    """Out of time, the store opens unchecked with a warning saying how to check it (budget 0: at once)."""
    filled_store(tmp_path / "events.db")
    caplog.set_level(logging.WARNING)
    SQLiteStore(tmp_path / "events.db", integrity_budget=0).close()
    assert "was not integrity-checked: quick_check did not finish within 0s" in caplog.text
    assert f"sqlite3 {tmp_path / 'events.db'} 'PRAGMA quick_check'" in caplog.text


def test_a_store_found_damaged_at_run_time_makes_ingest_and_readiness_503(tmp_path, caplog):
    store_path = tmp_path / "events.db"
    filled_store(store_path)
    config = parse_config(open(write_config(tmp_path, store_path)).read())
    app = create_app(config, run_worker=False)
    with TestClient(app) as http:
        assert http.get("/ready").status_code == 200
        batch = {"batch": events(1, "before-"), "writeKey": "wk"}
        assert http.post("/v1/batch", json=batch).status_code == 200
        overwrite_pages(store_path, range(2, store_path.stat().st_size // PAGE))  # the disk goes bad under us
        failure: list[BaseException] = []

        def worker_read() -> None:  # as the worker would, on a connection of its own
            try:
                app.state.server.store.read_after(0, ["web"], 10_000)
            except BaseException as exc:
                failure.append(exc)

        reader = threading.Thread(target=worker_read)
        reader.start()
        reader.join()
        assert failure and "malformed" in str(failure[0])
        refused = http.post("/v1/batch", json={"batch": events(1, "after-"), "writeKey": "wk"})
        assert refused.status_code == 503 and refused.json()["code"] == "storage_unavailable"
        for route in ("/ready", "/health"):
            answer = http.get(route)
            assert answer.status_code == 503, route
            assert answer.json()["code"] == "storage_damaged" and str(store_path) not in answer.text  # unauthenticated
    assert "is damaged" in caplog.text and "refusing to store events from now on" in caplog.text
    assert f"/ready storage_damaged: the event store {store_path} is damaged" in caplog.text  # the detail is logged


def test_a_healthy_store_is_ready(tmp_path):
    app = create_app(parse_config(open(write_config(tmp_path, tmp_path / "new.db")).read()), run_worker=False)
    with TestClient(app) as http:
        assert http.get("/ready").json() == {"ok": True, "ready": True}
        assert http.get("/health").json() == {"ok": True}


def test_a_store_damaged_under_a_running_worker_is_logged_once_then_summarised(tmp_path):
    """Issue 22 point 9: the worker retried a damaged store thousands of times a second with a traceback each.
    Now: one traceback, a pause that grows, a few lines in all over several seconds."""
    store_path = tmp_path / "events.db"
    filled_store(store_path)
    config = write_config(tmp_path, store_path)
    server = ServeProcess(pathlib.Path(config), tmp_path / "serve.log")
    try:
        time.sleep(0.5)  # the worker is polling the log (its destination has nothing to send)
        lines_before = len(server.log_text().splitlines())
        overwrite_pages(store_path, range(2, store_path.stat().st_size // PAGE))  # the disk goes bad under it
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:  # events keep coming (and wake the worker): refused, never acknowledged
            answer = server.http.post("/v1/batch", json={"batch": events(1, "after-"), "writeKey": "wk"})
            assert answer.status_code in (200, 503)
            time.sleep(0.05)
    finally:
        server.stop()
    new = server.log_text().splitlines()[lines_before:]
    tracebacks = sum(line.startswith("Traceback") for line in new)
    assert tracebacks <= 2, "\n".join(new[:80])  # the first failure in full (one per task at most)
    assert len(new) < 200, f"{len(new)} log lines in 6 s:\n" + "\n".join(new[:80])
    assert "delivery round failed; retrying with a growing pause" in "\n".join(new)
