"""The Segment destination's settings: Segment's `source_write_key`, and ours (marked `addition`): the region and
an API base URL for any Segment-compatible API."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import SecretStr

from ...actions import Choice, DestinationSettings, setting

ENDPOINTS: dict[str, tuple[str, str]] = {
    "us": ("North America (default)", "https://api.segment.io/v1"),
    "eu": ("Europe", "https://events.eu1.segmentapis.com/v1"),
}
"""Segment's tracking API per region (label, base URL), as Segment's definition lists its two endpoints."""
DEFAULT_REGION = "us"


class SegmentSettings(DestinationSettings):
    vendor: ClassVar[str] = "Segment"

    source_write_key: SecretStr = setting(
        "Source Write Key",
        "The write key of the source the events go to (Segment: the source's Settings → API Keys). Sent as the "
        "user of HTTP Basic auth; masked in logs and outputs.",
        example='"${SEGMENT_WRITE_KEY}"',
    )
    region: Literal["us", "eu"] = setting(
        "Region",
        "Where the Segment workspace lives: us (api.segment.io) or eu (events.eu1.segmentapis.com).",
        default=DEFAULT_REGION,
        choices=tuple(Choice(name, label) for name, (label, _) in ENDPOINTS.items()),
        addition=True,
    )
    apiBaseUrl: str | None = setting(
        "API Base URL",
        "Advanced: any Segment-compatible tracking API instead of the region's (RudderStack's data plane, Jitsu, "
        "another actions-1flow), up to `/v1`; requests go to `{apiBaseUrl}/batch`.",
        default=None,
        advanced=True,
        addition=True,
    )

    def api_base_url(self) -> str:
        return self.apiBaseUrl.rstrip("/") if self.apiBaseUrl else ENDPOINTS[self.region][1]
