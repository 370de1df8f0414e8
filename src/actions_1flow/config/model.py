"""The configuration file's sections as pydantic models: what is written, each value checked on its own.

Cross-section checks (sources named by destinations, triggers, mappings, each destination's own settings model)
are `checks`'; `load` builds the resolved `Config` from these.
"""

from __future__ import annotations

import ipaddress
import math
import re
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..actions import Destination, Subscription
from ..destinations import REGISTRY
from ..ingest.origins import check_origin
from ..secrets import redact_url
from ..times import parse_duration

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_STORAGE = SQLITE_PREFIX + "var/actions-1flow.db"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TLSConfig(_Model):
    """HTTPS served by the server itself (uvicorn's ssl): a PEM certificate (chain) and its private key."""

    cert: str
    key: str

    @model_validator(mode="after")
    def _loadable(self) -> TLSConfig:
        """The pair is loaded once here, so a wrong path or a key that does not match is a config error, not a
        traceback at start-up."""
        for name in ("cert", "key"):
            if not Path(getattr(self, name)).is_file():
                raise ValueError(f"tls.{name}: no such file {getattr(self, name)!r}")
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, OSError) as exc:
            raise ValueError(f"cannot use {self.cert} with {self.key}: {exc}") from None
        return self


class ServerConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    """How browsers reach this server (`https://cdn.example.com`); from each request's own URL when unset, for
    the hosts in `allowed_hosts` only (see `server.published_url`)."""
    allowed_hosts: list[str] = []
    """Without `public_url`: host names (besides loopback and `host`) a request may name in `Host` to get URLs
    built from it. Any other `Host` is refused: it would publish an attacker's URL to pages."""
    analytics_next_dir: str | None = None
    """Where `@segment/analytics-next` is installed (the package or its `dist/umd`); when unset, the env variable
    `ACTIONS_1FLOW_ANALYTICS_NEXT_DIR`, else `node_modules` next to the project."""
    body_timeout: float = Field(10.0, gt=0)
    """Seconds a request body may stall before it is refused (408): a client announcing more than it sends."""
    demo: str | None = None
    """A source's name: serve a demo page at `/demo` sending to that source (what `actions-1flow demo` runs)."""
    max_connections: int = Field(1_000, ge=1)
    """Open connections at most (uvicorn's `limit_concurrency`); a request beyond it gets uvicorn's 503, which
    clients retry. Idle keep-alive connections count too."""
    backlog: int = Field(2_048, ge=1)
    """Connections the kernel queues before they are accepted."""
    max_header_bytes: int = Field(16 * 1024, ge=1_024, le=1024 * 1024)
    """Request line plus headers at most; over it, 431 and the connection is closed."""
    header_timeout: float = Field(10.0, gt=0)
    """Seconds a connection may take to send a request's line and headers (from its opening, or from the previous
    answer); then it is closed (408 if part of a head arrived). Slow clients cannot hold connections for ever."""
    keep_alive_timeout: float = Field(5.0, gt=0)
    """Seconds an idle keep-alive connection is kept after an answer (uvicorn's `timeout_keep_alive`)."""
    tls: TLSConfig | None = None
    """Serve HTTPS with this certificate and key; None: plain HTTP (behind a TLS-terminating proxy, say)."""
    trusted_proxies: list[str] = []
    """Addresses or networks (`10.0.0.5`, `10.0.0.0/8`) of reverse proxies whose `X-Forwarded-For` and
    `X-Forwarded-Proto` are believed: the client address (login throttle, `context.ip`, connection caps) and the
    scheme (the session cookie's `Secure`) come from them. Empty (the default): from the connection itself."""
    request_timeout: float = Field(30.0, gt=0)
    """Seconds a request body may take in all (`body_timeout` bounds each stall): a body trickled a byte at a time
    is refused (408) and its connection closed at this bound, on the tracking API, device reports and the admin
    side."""
    max_connections_per_client: int = Field(50, ge=1)
    """Open connections one client address may hold (trusted proxies excepted); more are answered 503 and closed,
    so one client cannot take all of `max_connections`."""
    sdk_proxy_private: bool = False
    """Let first-party SDK hosting (`sdkProxy`) fetch from non-public addresses (loopback, private networks: a
    mirror of your own). Off: an upstream resolving to such an address is refused."""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        networks = []
        for entry in value:
            try:
                networks.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address or network (write 10.0.0.5 or 10.0.0.0/8)"
                ) from None
        return networks

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"public_url must be an absolute http:// or https:// URL, not {value!r}")
        return value.rstrip("/") if value else value


class RateLimitConfig(_Model):
    """A source's token bucket (see `server.ratelimit`): `burst` events at once, `events_per_second` on average."""

    events_per_second: float = Field(gt=0)
    burst: int | None = Field(None, ge=1)
    """Events the source may send at once; `events_per_second` (at least 1) when unset."""

    def bucket(self) -> tuple[float, int]:
        """(rate, burst) with the default burst filled in."""
        return self.events_per_second, self.burst or max(1, math.ceil(self.events_per_second))


class WebhookConfig(_Model):
    """A source that takes another tool's webhooks at `POST /v1/webhook?writeKey=…`: a mapping-kit `mapping` from the
    body to Segment events, or a `preset` a destination ships (`1flow-survey`). Exactly one of the two."""

    preset: str | None = None
    mapping: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> WebhookConfig:
        if (self.preset is None) == (self.mapping is None):
            presets = ", ".join(REGISTRY.source_preset_names) or "none"
            raise ValueError(f"give exactly one of preset (one of: {presets}) or mapping (type, event, userId, …)")
        if self.preset is not None and REGISTRY.source_preset(self.preset) is None:
            raise ValueError(
                f"unknown webhook preset {self.preset!r}; this server has {', '.join(REGISTRY.source_preset_names)}"
            )
        return self

    def resolved_mapping(self) -> dict[str, Any]:
        """The mapping the source runs: the preset's, or the one written."""
        if self.mapping is not None:
            return self.mapping
        preset = REGISTRY.source_preset(self.preset or "")
        assert preset is not None  # checked above
        return dict(preset.mapping)

    def dedup_window(self) -> float:
        """The dedup window the preset needs (its vendor's retries), 0 for a written mapping."""
        preset = REGISTRY.source_preset(self.preset) if self.preset is not None else None
        return preset.dedup_window if preset is not None else 0.0


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written as a number or as `500ms`, `10s`, `5m`, `4h`, `1d`."""


class SourceConfig(_Model):
    name: str
    write_key: str
    """The source's key: what pages and libraries send, and what the settings document hands to analytics.js."""
    previous_write_keys: list[str] = []
    """Keys also accepted for this source, for rotating `write_key` without a cut-over: clients still sending an
    old key keep being accepted (and pages loading with one get settings that send with `write_key`)."""
    cors_origins: list[str] = []
    """Browser origins allowed to send to this source (`"*"`: any); see `ingest.origins` for what is enforced."""
    rate_limit: RateLimitConfig | None = None
    """Events this source may send (per server process); over it requests get 429 with Retry-After. None: unlimited."""
    webhook: WebhookConfig | None = None
    """Take webhooks at `POST /v1/webhook` and map their bodies to events (see `WebhookConfig`)."""
    dedup_window: Duration | None = Field(None, gt=0)
    """This source's own dedup window when longer than `pipeline.dedup_window` (a webhook preset sets its own
    minimum, e.g. 1Flow's 3 days of retries)."""

    def kept_for_dedup(self, default: float) -> float:
        """Seconds this source's events are kept for dedup: the longest of `default`, its own and its preset's."""
        return max(default, self.dedup_window or 0.0, self.webhook.dedup_window() if self.webhook else 0.0)

    def accepted_write_keys(self) -> list[str]:
        """`write_key`, then `previous_write_keys`: every key that identifies this source."""
        return [self.write_key, *self.previous_write_keys]

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [check_origin(origin) for origin in value]


class SubscriptionConfig(_Model):
    name: str
    subscribe: str
    partnerAction: str
    mapping: dict[str, Any] = {}
    enabled: bool = True

    def spec(self) -> Subscription:
        return Subscription(self.name, self.subscribe, self.partnerAction, self.mapping, self.enabled)


_PATH = re.compile(r"^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$")


class ConsentConfig(_Model):
    """Which consent categories a visitor must have granted for this destination to get their events, as with
    Segment's Consent Management (`context.consent.categoryPreferences`, see docs/privacy.md)."""

    categories: list[str] = Field(min_length=1)
    """Every one of these must be granted (`true`) in the event's preferences."""
    missing: Literal["deny", "allow"] = "deny"
    """What an event without a consent stamp gets."""

    @field_validator("categories")
    @classmethod
    def _named(cls, value: list[str]) -> list[str]:
        if any(not c.strip() for c in value):
            raise ValueError("a consent category must be a non-empty name (e.g. C0001 or Analytics)")
        return value


class PrivacyConfig(_Model):
    """Fields removed from every event before triggers and mappings see it, in both modes."""

    drop: list[str] = []
    """Dotted paths into the event, e.g. `traits.email`, `context.ip`, `properties.card.number`."""

    @field_validator("drop")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not _PATH.match(p)]
        if bad:
            raise ValueError(
                f"privacy.drop takes dotted paths into the event (traits.email, context.ip), not {bad[0]!r}"
            )
        return value


class DestinationSpec(_Model):
    """One entry of `destinations:` as written (its settings not yet validated: see `DestinationConfig`)."""

    name: str
    type: str = Field(default_factory=lambda: REGISTRY.default.type)
    """Which registered destination this is (the first registered when unset)."""
    mode: Literal["device", "cloud"] = "device"
    sources: list[str] = []
    settings_input: dict[str, Any] = Field(alias="settings", exclude=True, repr=False)
    """The settings as written; the loader validates them with the destination's own model (`settings_model`) into
    the resolved `DestinationConfig.settings` and keeps no copy of these (they may hold secrets in plain text)."""
    subscriptions: Literal["presets"] | list[SubscriptionConfig] = "presets"
    consent: ConsentConfig | None = None
    """Consent categories the visitor must have granted (none: every event may go)."""
    privacy: PrivacyConfig = PrivacyConfig()
    max_requests_per_second: float | None = Field(None, gt=0, le=100_000)
    """Cloud mode: the most requests a second the destination receives from the workers together (1Flow recommends
    at most 500); none by default. A backfill then reaches it no faster, whatever its size."""

    @field_validator("type")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(REGISTRY.unknown_message(value))
        return value

    def subscription_specs(self, definition: Destination) -> list[Subscription]:
        """The subscriptions as the kit runs them: the destination's presets, or those written."""
        if self.subscriptions == "presets":
            return [Subscription.from_preset(p) for p in definition.presets]
        return [s.spec() for s in self.subscriptions]


class PipelineConfig(_Model):
    """Delivery guarantees and pacing (cloud mode)."""

    retry_window: Duration = 4 * 3600.0
    """Give up (dead-letter) a retryable delivery this long after its first attempt (Segment: 4 h)."""
    retry_base: Duration = 10.0
    """First retry delay; later ones grow exponentially with jitter."""
    retry_cap: Duration = 300.0
    """Longest delay between two attempts."""
    dedup_window: Duration = 24 * 3600.0
    """A messageId seen from the same source within this window is acknowledged but delivered once."""
    poll_interval: Duration = 0.2
    """How often an idle worker looks for new events and due retries (a separate `worker` process has no other
    way to learn of new events)."""
    batch_size: int = Field(500, ge=1, le=2_500)
    """Events a destination takes per round: one 1Flow `/batch` request (or more, to stay within 500 KB). Also
    the most a crash can re-send (the batch in flight)."""
    batch_age: Duration = 0.5
    """The longest new events wait for a fuller batch before they are sent anyway."""
    log_retention: Duration = 7 * 86400.0
    """How long dead-lettered deliveries (and their events) are kept for `events --failed` and `replay`."""
    retention: Duration | None = None
    """How long delivered and filtered events (with their delivery rows) are kept, for `replay` after a fix; at
    least the dedup window, which is also the default (events are forgotten once past it, as before)."""
    lease_ttl: Duration = Field(10.0, ge=1.0, le=600.0)
    """PostgreSQL: how long a worker's hold on a partition lasts without a heartbeat; a dead worker's partitions
    are taken over within it."""
    partitions: int = Field(16, ge=1, le=1024)
    """PostgreSQL: partitions of each destination's log, set when the store is created (later changes are ignored:
    they would reorder users' events). More partitions let more workers share one destination."""


MIN_TOKEN_LENGTH = 16
MAKE_TOKEN = 'make one with  python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
"""How to make an admin token, in the messages that ask for one."""

_LISTEN = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\s\[\]]+):(?P<port>\d{1,5})$")


class AdminConfig(_Model):
    """The operator console and the admin API (`/console`, `/admin/api/v1/`); off (404) without this section."""

    token: SecretStr
    """What an operator types at `/console/login` and what `Authorization: Bearer` carries (`${ENV}` it)."""
    listen: str | None = None
    """`host:port`: serve the console and admin API there only (a second server in the same process); the public
    port then answers 404 for them."""
    session_ttl: Duration = Field(12 * 3600.0, gt=0)
    """How long a console session lasts after logging in."""

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        length = len(value.get_secret_value())
        if length < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"the admin token is {'empty' if not length else f'{length} characters long'}; it guards the console "
                f"and the admin API, so it needs at least {MIN_TOKEN_LENGTH} characters: {MAKE_TOKEN}"
            )
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            match = _LISTEN.match(value.strip())
            if match is None or not 0 < int(match.group("port")) <= 65535:
                raise ValueError(f"listen must be host:port (127.0.0.1:9090), not {value!r}")
            return value.strip()
        return value

    def listen_address(self) -> tuple[str, int] | None:
        if self.listen is None:
            return None
        match = _LISTEN.match(self.listen)
        assert match is not None
        return match.group("host").strip("[]"), int(match.group("port"))


class MetricsConfig(_Model):
    public: bool = False
    """Serve `/metrics` without authentication (else the admin token or a console session is needed)."""


class ConfigSpec(_Model):
    """The configuration file as written, each section validated (see `Config` for the resolved whole)."""

    server: ServerConfig = ServerConfig()
    admin: AdminConfig | None = None
    metrics: MetricsConfig = MetricsConfig()
    storage: str = DEFAULT_STORAGE
    pipeline: PipelineConfig = PipelineConfig()

    @field_validator("storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if value.startswith(POSTGRES_SCHEMES):
            if value.split("://", 1)[1].strip("/") == "":
                raise ValueError(
                    "storage: a postgresql:// URL needs at least a host or a database (postgresql://user:pass@host:5432/db)"
                )
            return value
        if not value.startswith(SQLITE_PREFIX) or len(value) == len(SQLITE_PREFIX):
            raise ValueError(
                f"storage must be {SQLITE_PREFIX}PATH (relative), {SQLITE_PREFIX}/PATH (absolute) or "
                f"postgresql://user:pass@host:port/db, not {redact_url(value)!r}"
            )
        return value

    sources: list[SourceConfig] = []
    destinations: list[DestinationSpec] = []
