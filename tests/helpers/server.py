"""`actions-1flow serve` as a subprocess on a free port, a tiny customer site on another origin for browser tests,
and configurations feeding a cloud-mode 1Flow destination (the sandbox)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import yaml

from actions_1flow.destinations.oneflow.definition import ONEFLOW
from tests.helpers.process import CliProcess, free_port
from tests.helpers.sandbox import US_KEY

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


def as_subscriptions(presets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Presets of `definition --json` as a configuration lists them under `subscriptions`."""
    return [{k: p[k] for k in ("name", "subscribe", "partnerAction", "mapping")} for p in presets]


PRESET_SUBSCRIPTIONS = as_subscriptions(ONEFLOW.metadata()["presets"])
"""1Flow's two presets (Segment's) written out as subscriptions."""
OPTIONAL_SUBSCRIPTIONS = {s["name"]: s for s in as_subscriptions(ONEFLOW.metadata()["additions"]["optionalPresets"])}
"""Our optional presets (`Track Page`, `Track Screen`) as subscriptions, by name."""

PRESETS_AND_PAGES = [*PRESET_SUBSCRIPTIONS, PAGE_SUBSCRIPTION]


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
    path.chmod(0o600)  # it holds the keys: readable by others, the server would warn
    return path


class ServeProcess(CliProcess):
    """`actions-1flow serve --config FILE --port P`; output (the server log) goes to `log_path`."""

    def __init__(
        self, config_path: Path, log_path: Path, *extra: str, ca: Path | None = None, port: int | None = None
    ) -> None:
        """`ca`: the server has `server.tls`, with a certificate this CA file verifies (the URL is https). `port`:
        this one (a restarted server), else a free one."""
        self.port = port or free_port()
        self.url = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}"
        verify: bool | ssl.SSLContext = ssl.create_default_context(cafile=str(ca)) if ca else True
        super().__init__(["serve", "--config", str(config_path), "--port", str(self.port), *extra], log_path)
        self.http = httpx.Client(base_url=self.url, timeout=5, verify=verify)
        self.wait_answering(self.url + "/health", verify=verify)

    def stop(self, timeout: float = 10.0) -> int:
        self.http.close()
        return super().stop(timeout)


def admin_config(directory: Path, token: str, write_key: str, **server: Any) -> Path:
    """A configuration with the console on (`admin.token`), one source and a cloud-mode 1Flow destination that
    is never reached (`serve --no-worker` leaves its events stored)."""
    config = {
        "server": {"host": "127.0.0.1", **server},
        "storage": f"sqlite:///{directory / 'events.db'}",
        "admin": {"token": token},
        "sources": [{"name": "web", "write_key": write_key}],
        "destinations": [
            {
                "name": "1flow",
                "mode": "cloud",
                "sources": ["web"],
                "settings": {"projectApiKey": US_KEY, "apiBaseUrl": "http://127.0.0.1:9/"},
            }
        ],
    }
    path = directory / "server.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)  # it holds the keys
    return path
