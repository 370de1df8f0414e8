"""The 1Flow sandbox for tests: in-process (httpx ASGITransport) or as an `actions-1flow sandbox` subprocess.

Keys are real-looking on purpose, so the no-leak test can grep every output for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from actions_1flow.destinations.oneflow.client import OneFlowClient
from actions_1flow.sandbox import create_app

from .process import CliProcess, free_port

US_KEY = "1f_live_7Kq2vX9mRtB4nLpW3sYdQe8u"
"""Known to the sandbox for region us only."""
EU_KEY = "1f_live_Hc8ZfJ2kQw5TnV6rXa1mPo4z"
"""Known to the sandbox for regions us and eu."""
UNKNOWN_KEY = "1f_live_Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2R"
"""Not known to the sandbox (401)."""
SANDBOX_KEYS = [US_KEY, f"{EU_KEY}:us,eu"]
ALL_KEYS = (US_KEY, EU_KEY, UNKNOWN_KEY)

IN_PROCESS_ORIGIN = "http://sandbox.test"


def api_path(region: str = "us") -> str:
    return "/v1" if region == "us" else f"/{region}/v1"


class InProcessSandbox:
    """A sandbox app in this process; clients reach it through `httpx.ASGITransport`."""

    def __init__(self, keys: list[str] | None = None, rate: float | None = None) -> None:
        self.app = create_app(SANDBOX_KEYS if keys is None else keys, rate=rate)
        self.state = self.app.state.sandbox

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    def api_url(self, region: str = "us") -> str:
        return IN_PROCESS_ORIGIN + api_path(region)

    def client(self, key: str = US_KEY, region: str = "us", **options: Any) -> OneFlowClient:
        return OneFlowClient(key, self.api_url(region), transport=self.transport(), **options)

    def http(self) -> httpx.AsyncClient:
        """A raw client for talking to the sandbox directly."""
        return httpx.AsyncClient(transport=self.transport(), base_url=IN_PROCESS_ORIGIN)

    def calls(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.state.calls if channel is None or c["channel"] == channel]

    def fault(self, count: int | None = None, **spec: Any) -> None:
        """Queue a fault (see `POST /_sandbox/faults`): for the next `count` requests (default 1), or `duration`."""
        from actions_1flow.sandbox import Fault

        fault, n = Fault.from_json(spec if count is None else {"count": count, **spec})
        self.state.add_faults(fault, n)


class SandboxServer(CliProcess):
    """`actions-1flow sandbox` as a subprocess on a free port; its output goes to `log_path`."""

    def __init__(
        self,
        log_path: Path,
        keys: list[str] | None = None,
        rate: float | None = None,
        log_level: str = "info",
        *,
        webhook_url: str | None = None,
        webhook_interval: str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["sandbox", "--port", str(self.port), "--log-level", log_level]
        for key in SANDBOX_KEYS if keys is None else keys:
            args += ["--key", key]
        if rate is not None:
            args += ["--rate", str(rate)]
        if webhook_url is not None:
            args += ["--webhook-url", webhook_url]
        if webhook_interval is not None:
            args += ["--webhook-interval", webhook_interval]
        super().__init__(args, log_path)
        self._http = httpx.Client(base_url=self.url, timeout=5)
        self.wait_answering(self.url + "/_sandbox/calls")

    def api_url(self, region: str = "us") -> str:
        return self.url + api_path(region)

    def sdk_url(self, form: str | None = None) -> str:
        return f"{self.url}/js/1flow.js" + (f"?form={form}" if form else "")

    def calls(self, channel: str | None = None) -> list[dict[str, Any]]:
        params = {"channel": channel} if channel else None
        return self._http.get("/_sandbox/calls", params=params).json()["calls"]

    def surveys(self) -> list[dict[str, Any]]:
        """Every survey webhook the sandbox sent, with its attempts (`GET /_sandbox/surveys`)."""
        return self._http.get("/_sandbox/surveys").json()["surveys"]

    def reset(self) -> None:
        self._http.post("/_sandbox/reset").raise_for_status()

    def fault(self, count: int | None = None, **spec: Any) -> None:
        """Queue a fault (see `POST /_sandbox/faults`): for the next `count` requests (default 1), or `duration`."""
        self._http.post("/_sandbox/faults", json=spec if count is None else {"count": count, **spec}).raise_for_status()

    def stop(self, timeout: float = 10.0) -> int:
        self._http.close()
        return super().stop(timeout)
