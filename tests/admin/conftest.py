"""An app with the console on (`admin.token`), over ASGI in-process, on a store of each backend where asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from actions_1flow.app import create_app
from actions_1flow.config import load_config
from tests.helpers.sandbox import US_KEY
from tests.helpers.server import PRESET_SUBSCRIPTIONS

TOKEN = "test-admin-token-0123456789"
WRITE_KEY = "wk_admin_tests"

SUBSCRIPTIONS = PRESET_SUBSCRIPTIONS


def write_config(directory: Path, storage: str, api_url: str = "http://127.0.0.1:9/", **extra: Any) -> Path:
    config: dict[str, Any] = {
        "storage": storage,
        "pipeline": {"poll_interval": "50ms", "retry_base": "200ms", "retry_cap": "1s", "batch_age": "50ms"},
        "admin": {"token": TOKEN},
        "sources": [{"name": "web", "write_key": WRITE_KEY}],
        "destinations": [
            {
                "name": "1flow-cloud",
                "mode": "cloud",
                "sources": ["web"],
                "settings": {"projectApiKey": US_KEY, "apiBaseUrl": api_url},
                "subscriptions": SUBSCRIPTIONS,
            }
        ],
    }
    for key, value in extra.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path = directory / "server.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


class AppClient:
    """The app run in-process (lifespan started) and an httpx client on it."""

    def __init__(self, config_path: Path, run_worker: bool = False) -> None:
        self.config_path = config_path
        self.config = load_config(config_path)
        self.app = create_app(self.config, run_worker=run_worker)
        self.state = self.app.state.server

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self._lifespan.__aexit__(None, None, None)


async def login(client: httpx.AsyncClient, token: str = TOKEN) -> str:
    """Log in through the form; returns the session's CSRF token."""
    r = await client.post("/console/login", data={"token": token, "next": "/console"})
    assert r.status_code == 303, r.text
    r = await client.get("/admin/api/v1/session")
    assert r.status_code == 200
    return r.json()["csrf"]


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path) -> str:
    """A new store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sqlite_config(tmp_path) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path}/events.db")


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
