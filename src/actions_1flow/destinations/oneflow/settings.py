"""The 1Flow destination's settings: the one declaration the configuration validates with and the definition
lists (names as in Segment's definition; what Segment's does not have is marked `addition`)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import SecretStr

from ...actions import Choice, DestinationSettings, setting
from ...actions.settings import Mode
from .regions import DEFAULT_REGION, REGIONS, RegionError, api_base_url, sdk_url

MAX_LOAD_TIMEOUT_MS = 120_000


class OneFlowSettings(DestinationSettings):
    vendor: ClassVar[str] = "1Flow"

    projectApiKey: SecretStr = setting(
        "Project API Key",
        "Your 1Flow project's API key (1Flow dashboard → Settings → Project settings → API keys). Masked in logs "
        "and outputs; device mode gives it to the page and the app, where 1Flow's SDKs read it.",
        example='"${ONEFLOW_PROJECT_KEY}"',
    )
    region: Literal["us", "eu"] = setting(
        "Region",
        "Where your 1Flow project's data is hosted. 1Flow documents only the US endpoints; "
        "choosing eu requires apiBaseUrl (cloud mode) or sdkUrl (device mode).",
        default=DEFAULT_REGION,
        choices=tuple(Choice(r.name, r.label) for r in REGIONS.values()),
        addition=True,
    )
    apiBaseUrl: str | None = setting(
        "API Base URL",
        "Advanced: overrides the region's HTTP API endpoint (cloud mode), e.g. the 1Flow sandbox.",
        default=None,
        advanced=True,
        addition=True,
    )
    sdkUrl: str | None = setting(
        "SDK URL",
        "Advanced: overrides the region's web SDK script (device mode), e.g. the 1Flow sandbox.",
        default=None,
        advanced=True,
        addition=True,
    )
    loadTimeoutMs: int | None = setting(
        "SDK Load Timeout (ms)",
        "Device mode: how long the plugin waits for the 1Flow SDK before it reports it failed (10000 when unset).",
        default=None,
        gt=0,
        le=MAX_LOAD_TIMEOUT_MS,
        advanced=True,
        addition=True,
    )

    sdkProxy: bool = setting(
        "Host the SDK First-Party",
        "Device mode: the server fetches the web SDK from sdkUrl (or the region's), caches it, refreshes it on a "
        "schedule and serves it from its own origin, so ad blockers that drop third-party vendor scripts let it load.",
        default=False,
        advanced=True,
        addition=True,
    )

    def api_base_url(self) -> str:
        return api_base_url(self.region, self.apiBaseUrl)

    def sdk_url(self) -> str:
        return sdk_url(self.region, self.sdkUrl)

    def problems(self, mode: Mode) -> list[tuple[str, str]]:
        """A region whose endpoint for `mode` 1Flow does not document, without an override."""
        try:
            self.api_base_url() if mode == "cloud" else self.sdk_url()
        except RegionError as exc:
            return [("region", str(exc))]
        return []
