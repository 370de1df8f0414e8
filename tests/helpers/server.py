"""`actions-1flow serve` as a subprocess on a free port, a tiny customer site on another origin for browser tests,
and configurations feeding a cloud-mode 1Flow destination (the sandbox)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def cloud_config(directory: Path, api_url: str, sources: list[dict[str, Any]], **server: Any) -> Path:
    """A configuration whose sources all feed one cloud-mode 1Flow destination at `api_url` (the sandbox)."""
    config = {
        "server": {"host": "127.0.0.1", **server},
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
    """`actions-1flow serve --config FILE --port P`; output (the server log) goes to `log_path`."""

    def __init__(self, config_path: Path, log_path: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")
        args = [*cli_command(), "serve", "--config", str(config_path), "--port", str(self.port), *extra]
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ})
        self.http = httpx.Client(base_url=self.url, timeout=5)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.log_text()}")
            try:
                if self.http.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"serve did not answer within {timeout}s: {self.log_text()}")

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, then the exit status (uvicorn re-raises SIGTERM after a graceful shutdown: -15 is clean)."""
        self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


class Site:
    """A customer's site: serves registered HTML pages from its own origin (127.0.0.1, another port)."""

    def __init__(self) -> None:
        pages: dict[str, bytes] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = pages.get(self.path.split("?")[0], b"")
                self.send_response(200 if body else 404)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, path: str, html: str) -> str:
        """Serve `html` at `path`; returns its URL."""
        self.pages[path] = html.encode()
        return self.url + path

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
