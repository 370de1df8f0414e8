"""The fields Segment's five actions share, as Segment's definition declares them (keys, labels, types, sub-fields,
defaults, hidden ones); the descriptions are ours."""

from __future__ import annotations

from ...actions import Field


def _sub(label: str, description: str, type_: str = "string") -> Field:
    return Field(label=label, description=description, type=type_)  # type: ignore[arg-type]


def _dictionary(label: str, description: str, properties: dict[str, Field]) -> Field:
    return Field(
        label=label, description=description, type="object", default_object_ui="keyvalue", properties=properties
    )


USER_ID = Field(label="User ID", description="Your id for the user; the event needs it or an Anonymous ID.")
ANONYMOUS_ID = Field(
    label="Anonymous ID", description="The id of a visitor not yet known; needed when there is no User ID."
)
TIMESTAMP = Field(
    label="Timestamp",
    description="When the event happened (ISO-8601 text); the receiving API uses its time of receipt without it.",
)
PAGE_NAME = Field(label="Page Name", description="The name of the page viewed.")
SCREEN_NAME = Field(label="Screen Name", description="The name of the screen viewed.")
EVENT_NAME = Field(label="Event Name", description="What the user did (the track's `event`).", required=True)
PAGE_CATEGORY = Field(label="Page Category", description="The category of the page viewed.")
APPLICATION = _dictionary(
    "Application",
    "The app the event came from (`context.app`).",
    {
        "name": _sub("Name", "App name."),
        "version": _sub("Version", "App version."),
        "build": _sub("Build", "App build."),
        "namespace": _sub("Namespace", "App namespace (bundle id)."),
    },
)
CAMPAIGN = _dictionary(
    "Campaign Parameters",
    "The campaign that brought the user (`context.campaign`, the UTM parameters).",
    {
        "name": _sub("Name", "utm_campaign."),
        "source": _sub("Source", "utm_source."),
        "medium": _sub("Medium", "utm_medium."),
        "term": _sub("Term", "utm_term."),
        "content": _sub("Content", "utm_content."),
    },
)
DEVICE = _dictionary(
    "Device",
    "The device the event came from (`context.device`).",
    {
        "id": _sub("ID", "Device id."),
        "advertising_id": _sub("Advertising ID", "Advertising id (IDFA, AAID)."),
        "adTracking_Enabled": _sub("Ad Tracking Enabled", "Whether ad tracking is allowed.", "boolean"),
        "manufacturer": _sub("Manufacturer", "Device maker."),
        "model": _sub("Model", "Device model."),
        "name": _sub("Name", "Device name."),
        "type": _sub("Type", "Device type (ios, android…)."),
        "token": _sub("Token", "Push notification token."),
    },
)
IP_ADDRESS = Field(label="IP Address", description="The user's IP address (`context.ip`).")
LOCALE = Field(label="Locale", description="The user's locale, e.g. en-US (`context.locale`).")
LOCATION = _dictionary(
    "Location",
    "Where the user is (`context.location`).",
    {
        "city": _sub("City", "City."),
        "country": _sub("Country", "Country."),
        "latitude": _sub("Latitude", "Latitude.", "number"),
        "longitude": _sub("Longitude", "Longitude.", "number"),
        "speed": _sub("Speed", "Speed.", "number"),
    },
)
NETWORK = _dictionary(
    "Network",
    "The network connection (`context.network`).",
    {
        "bluetooth": _sub("Bluetooth", "Bluetooth on.", "boolean"),
        "carrier": _sub("Carrier", "Mobile carrier."),
        "cellular": _sub("Cellular", "Cellular data on.", "boolean"),
        "wifi": _sub("WiFi", "Wi-Fi on.", "boolean"),
    },
)
OPERATING_SYSTEM = _dictionary(
    "Operating System",
    "The operating system (`context.os`).",
    {"name": _sub("Name", "OS name."), "version": _sub("Version", "OS version.")},
)
PAGE = _dictionary(
    "Page",
    "The web page (`context.page`).",
    {
        "path": _sub("Path", "URL path."),
        "referrer": _sub("Referrer", "Referring URL."),
        "search": _sub("Search", "Query string."),
        "title": _sub("Title", "Page title."),
        "url": _sub("URL", "Full URL."),
    },
)
SCREEN = _dictionary(
    "Screen",
    "The device's screen (`context.screen`).",
    {
        "density": _sub("Density", "Pixel density.", "number"),
        "height": _sub("Height", "Height.", "number"),
        "width": _sub("Width", "Width.", "number"),
    },
)
USER_AGENT = Field(label="User Agent", description="The client's user agent (`context.userAgent`).")
TIMEZONE = Field(label="Timezone", description="The user's tz database zone, e.g. Europe/Paris (`context.timezone`).")
GROUP_ID = Field(label="Group ID", description="The account or group the user belongs to.")
PROPERTIES = Field(
    label="Properties",
    description="Free-form details of the event.",
    type="object",
    default_object_ui="keyvalue",
    additional_properties=True,
)
TRAITS = Field(
    label="Traits",
    description="Free-form attributes of the user or group.",
    type="object",
    default_object_ui="keyvalue",
    additional_properties=True,
)
MESSAGE_ID = Field(
    label="MessageId",
    description="The event's messageId, kept so the receiving API de-duplicates.",
    default={"@path": "$.messageId"},
    hidden=True,
)
CONSENT = Field(
    label="Consent",
    description="The visitor's consent stamp (`context.consent`); sent only in its `categoryPreferences` form.",
    type="object",
    default={"@path": "$.context.consent"},
    hidden=True,
)
ADDRESS = _dictionary(
    "Address",
    "The user's postal address, sent as the `address` trait.",
    {
        "street": _sub("Street", "Street."),
        "city": _sub("City", "City."),
        "state": _sub("State", "State."),
        "country": _sub("Country", "Country."),
        "postalCode": _sub("Postal Code", "Postal code."),
    },
)

CONTEXT_FIELDS: dict[str, Field] = {
    "application": APPLICATION,
    "campaign_parameters": CAMPAIGN,
    "device": DEVICE,
    "ip_address": IP_ADDRESS,
    "locale": LOCALE,
    "location": LOCATION,
    "network": NETWORK,
    "operating_system": OPERATING_SYSTEM,
    "page": PAGE,
    "screen": SCREEN,
    "user_agent": USER_AGENT,
    "timezone": TIMEZONE,
}
"""The fields each action puts under `context`, in Segment's order (field key → the context key is in `wire`)."""
