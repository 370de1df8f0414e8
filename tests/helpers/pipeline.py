"""The durable pipeline as real processes, for the fault tests: `serve` and `worker` subprocesses that can be
SIGKILLed, a configuration writer, and a load generator that retries like Segment's clients do."""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

from .process import CliProcess
from .sandbox import SandboxServer


def write_pipeline_config(
    directory: Path,
    destinations: list[dict[str, Any]],
    *,
    pipeline: dict[str, Any] | None = None,
    write_key: str = "wk_faults",
    name: str = "pipeline.yaml",
    storage: str | None = None,
) -> Path:
    """A configuration with one source and cloud-mode 1Flow destinations given as `{name, key, api_url}`; the store
    is `storage` (e.g. a PostgreSQL URL), else a SQLite file in `directory`."""
    config = {
        "storage": storage or f"sqlite:///{directory / 'pipeline.db'}",
        "pipeline": {
            "poll_interval": "50ms",
            "batch_age": "50ms",
            "retry_base": "200ms",
            "retry_cap": "1s",
            **(pipeline or {}),
        },
        "sources": [{"name": "load", "write_key": write_key}],
        "destinations": [
            {
                "name": d["name"],
                "mode": "cloud",
                "sources": ["load"],
                "settings": {"projectApiKey": d["key"], "apiBaseUrl": d["api_url"]},
            }
            for d in destinations
        ],
    }
    path = directory / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)  # it holds the keys: readable by others, the server would warn
    return path


class ServerProcess(CliProcess):
    """`actions-1flow serve` on a fixed port (so it can be restarted where clients expect it)."""

    def __init__(self, config: Path, port: int, log_path: Path, *, worker: bool = True) -> None:
        args = ["serve", "--config", str(config), "--port", str(port), "--log-level", "warning"]
        super().__init__(args + ([] if worker else ["--no-worker"]), log_path)
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 20.0) -> ServerProcess:
        self.wait_answering(self.url + "/health", timeout)
        return self


class WorkerProcess(CliProcess):
    """`actions-1flow worker` against the configuration's store."""

    def __init__(self, config: Path, log_path: Path) -> None:
        super().__init__(["worker", "--config", str(config), "--log-level", "warning"], log_path)


def track(n: int, run: str) -> dict[str, Any]:
    """Numbered event `n`: its number travels to 1Flow in `properties.n`."""
    return {
        "type": "track",
        "event": "Load Test",
        "userId": f"user-{n % 97}",
        "messageId": f"{run}-{n}",
        "properties": {"n": n},
    }


class LoadGenerator:
    """Threads posting numbered events in batches to `/v1/batch`, as Segment's clients do: a batch that gets no 200
    (connection refused or reset, timeout, 5xx) is sent again, same messageIds, until it is acknowledged.

    `acked` holds the numbers of acknowledged events (numbered from `first`, so that several generators' numbers do
    not overlap); `answered` the (sent, answered) monotonic times of every 200; `stop()` lets each thread finish
    its batch in hand.
    """

    def __init__(
        self,
        url: str,
        write_key: str,
        *,
        run: str = "load",
        threads: int = 4,
        batch: int = 10,
        pause: float = 0.01,
        first: int = 0,
    ) -> None:
        self.url = url
        self.auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        self.run = run
        self.batch = batch
        self.pause = pause
        self.acked: set[int] = set()
        self.attempts = Counter[str]()
        self.answered: list[tuple[float, float]] = []
        self._next = first
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def start(self) -> LoadGenerator:
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self._threads), "a load thread could not get its batch acknowledged"

    def next_number(self) -> int:
        """The number the next batch taken will start with (events from here on are posted after this call)."""
        with self._lock:
            return self._next

    def _take(self) -> list[int]:
        with self._lock:
            first, self._next = self._next, self._next + self.batch
        return list(range(first, first + self.batch))

    def _loop(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set():
                numbers = self._take()
                body = {"batch": [track(n, self.run) for n in numbers]}
                while True:  # this batch until acknowledged, however long the server is down
                    sent = time.monotonic()
                    try:
                        answer = http.post(self.url + "/v1/batch", json=body, headers={"authorization": self.auth})
                        outcome = str(answer.status_code)
                    except httpx.TransportError as exc:
                        outcome = type(exc).__name__
                    self.attempts[outcome] += 1
                    if outcome == "200":
                        with self._lock:
                            self.acked.update(numbers)
                            self.answered.append((sent, time.monotonic()))
                        break
                    assert outcome not in ("400", "401", "404"), f"the server refused a valid batch: {outcome}"
                    time.sleep(0.02)
                time.sleep(self.pause)


def delivered_numbers(sandbox: SandboxServer, key_mask: str | None = None) -> tuple[Counter[int], list[dict[str, Any]]]:
    """How many times each event number reached the sandbox with a 200 (optionally for one masked key), and the
    calls themselves."""
    calls = [c for c in sandbox.calls("http") if key_mask is None or c.get("api_key") == key_mask]
    seen: Counter[int] = Counter()
    for call in calls:
        if call.get("status") == 200:
            for item in call["body"]["batch"]:
                seen[item["properties"]["n"]] += 1
    return seen, calls


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


__all__ = [
    "LoadGenerator",
    "ServerProcess",
    "WorkerProcess",
    "delivered_numbers",
    "track",
    "wait_until",
    "write_pipeline_config",
]
