"""Where 1Flow lives, per region: the one table the HTTP client and the browser plugin read.

1Flow documents a single endpoint for its public HTTP API and a single web SDK URL. The EU row exists because
Segment's docs page for this destination talks about "Regional Data Hosting"; 1Flow itself documents no EU endpoint,
so an EU configuration must name its endpoint explicitly (`apiBaseUrl`, `sdkUrl`) and is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    name: str
    label: str
    api_base_url: str | None
    """Base URL of the public HTTP API (`/identify`, `/track`, `/batch` are appended); None when undocumented."""
    sdk_url: str | None
    """The web SDK script the browser plugin loads; None when undocumented."""


REGIONS: dict[str, Region] = {
    "us": Region("us", "US (default)", "https://api.1flow.app/v1", "https://1flow.app/js/1flow.js"),
    "eu": Region("eu", "EU", None, None),
}
DEFAULT_REGION = "us"


class RegionError(ValueError):
    """A region that cannot be resolved to an endpoint without guessing."""


def _region(name: str) -> Region:
    try:
        return REGIONS[name]
    except KeyError:
        raise RegionError(f"unknown region {name!r}; choose one of: {', '.join(REGIONS)}") from None


def api_base_url(region: str = DEFAULT_REGION, override: str | None = None) -> str:
    """The HTTP API base URL for `region`, or `override` (the `apiBaseUrl` setting) when given."""
    if override:
        return override.rstrip("/")
    entry = _region(region)
    if entry.api_base_url is None:
        raise RegionError(
            f"region {region!r} needs apiBaseUrl: 1Flow documents no {entry.label} endpoint for its HTTP API "
            "(only https://api.1flow.app/v1), so set apiBaseUrl to the endpoint 1Flow gave you, or use region: us"
        )
    return entry.api_base_url


def sdk_url(region: str = DEFAULT_REGION, override: str | None = None) -> str:
    """The web SDK URL for `region`, or `override` (the `sdkUrl` setting) when given."""
    if override:
        return override
    entry = _region(region)
    if entry.sdk_url is None:
        raise RegionError(
            f"region {region!r} needs sdkUrl: 1Flow documents no {entry.label} web SDK "
            "(only https://1flow.app/js/1flow.js), so set sdkUrl to the script 1Flow gave you, or use region: us"
        )
    return entry.sdk_url
