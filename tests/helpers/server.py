"""`actions-1flow serve` as a subprocess on a free port, for tests that need real sockets and real clients."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.helpers.sandbox import US_KEY, cli_command, free_port

PAGE_SUBSCRIPTION = {
    "name": "Page Viewed",
    "subscribe": 'type = "page"',
    "partnerAction": "trackEvent",
    "mapping": {
        "event_name": "Page Viewed",
        "userId": {"@path": "$.userId"},
        "anonymousId": {"@path": "$.anonymousId"},
        "properties": {"@path": "$.properties"},
    },
}
"""Pages reach 1Flow as a `Page Viewed` track, so every call a client makes has a 1Flow counterpart to count."""

PRESETS_AND_PAGES = [
    {"name": "Track Event", "subscribe": 'type = "track"', "partnerAction": "trackEvent",
     "mapping": {"event_name": {"@path": "$.event"}, "userId": {"@path": "$.userId"},
                 "anonymousId": {"@path": "$.anonymousId"}, "properties": {"@path": "$.properties"}}},
    {"name": "Identify User", "subscribe": 'type = "identify"', "partnerAction": "identifyUser",
     "mapping": {"userId": {"@path": "$.userId"}, "anonymousId": {"@path": "$.anonymousId"},
                 "traits": {"@path": "$.traits"}}},
    PAGE_SUBSCRIPTION,
]


def cloud_config(
    directory: Path, api_url: str, sources: list[dict[str, Any]], *, port: int, **server: Any
) -> Path:
    """A configuration whose sources all feed one cloud-mode 1Flow destination at `api_url` (the sandbox)."""
    config = {
        "server": {"host": "127.0.0.1", "port": port, **server},
        "storage": f"sqlite:///{directory / 'events.db'}",
        "pipeline": {"poll_interval": "50ms", "retry_base": "200ms", "retry_cap": "1s"},
        "sources": sources,
        "destinations": [
            {
                "name": "1flow-cloud",
                "mode": "cloud",
                "sources": [s["name"] for s in sources],
                "settings": {"projectApiKey": US_KEY, "apiBaseUrl": api_url},
                "subscriptions": PRESETS_AND_PAGES,
            }
        ],
    }
    path = directory / "server.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class ServeProcess:
    """`actions-1flow serve --config FILE` on a free port (output in `log_path`); stop() ends it with SIGTERM."""

    def __init__(self, config_path: Path, log_path: Path, port: int | None = None, *args: str) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [*cli_command(), "serve", "--config", str(config_path), "--port", str(self.port), "--log-level", "warning", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.log_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"serve did not answer within {timeout}s: {self.log_text()}")

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode
