"""The YAML configuration: sources, destinations (their type, settings and subscriptions), server and storage.

`load_config(path)` interpolates `${ENV}` (and `${ENV:-default}`; `$${` is a literal `${`) in string values,
validates the structure, then each destination's settings with its own settings model (the registry's, by
`type`), then what only the engine can judge: each trigger parses (FQL, with a caret under the problem), each
mapping validates (Segment's messages), required settings are not empty, the destination's own checks (a region
without a documented endpoint, say), and device-mode mappings avoid `@liquid` and nested `@transform`s whose
`apply` fails Segment's run-time validation (the browser plugin does not validate; see `mapping.nested`).
Every problem is reported with the file, the line and the key path; nothing half-valid is returned.
"""

from __future__ import annotations

import logging
import math
import os
import re
import ssl
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from . import fql, mapping
from .actions import Client, CompiledSubscription, Destination, DestinationSettings, Subscription
from .destinations import REGISTRY
from .ingest.origins import check_origin
from .mapping.nested import invalid_transform_applies
from .secrets import redact_url

log = logging.getLogger("actions_1flow.config")

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_STORAGE = SQLITE_PREFIX + "var/actions-1flow.db"
_ENV = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    path: Path_
    reason: str
    line: int | None = None

    @property
    def key_path(self) -> str:
        return format_path(self.path)


class ConfigError(Exception):
    """A configuration that cannot be used, with every problem found (file, line, key path, reason)."""

    def __init__(self, file: str | Path, problems: list[ConfigProblem]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__(self._render())

    def _render(self) -> str:
        lines = []
        for p in self.problems:
            where = self.file + (f":{p.line}" if p.line else "")
            subject = f"{where}: {p.key_path}" if p.path else where
            first, *rest = p.reason.splitlines() or [""]
            lines.append(f"{subject}: {first}")
            lines.extend(f"    {line}" for line in rest)
        return "\n".join(lines)


def format_path(path: Path_) -> str:
    """`destinations[0].settings.region`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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


class DestinationConfig(_Model):
    name: str
    type: str = Field(default_factory=lambda: REGISTRY.default.type)
    """Which registered destination this is (the first registered when unset)."""
    mode: Literal["device", "cloud"] = "device"
    sources: list[str] = []
    settings_input: dict[str, Any] = Field(alias="settings", exclude=True, repr=False)
    """The settings as written; validated by the destination's own model into `settings`."""
    subscriptions: Literal["presets"] | list[SubscriptionConfig] = "presets"
    consent: ConsentConfig | None = None
    """Consent categories the visitor must have granted (none: every event may go)."""
    privacy: PrivacyConfig = PrivacyConfig()

    _compiled: list[CompiledSubscription] = PrivateAttr(default_factory=list)
    _settings: DestinationSettings | None = PrivateAttr(default=None)

    @field_validator("type")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(REGISTRY.unknown_message(value))
        return value

    @property
    def definition(self) -> Destination:
        return REGISTRY.get(self.type)

    @property
    def settings(self) -> Any:
        """The validated settings (the destination's `settings_model`; its own methods, e.g. `api_base_url()`)."""
        if self._settings is None:
            self.adopt_settings(self.definition.settings_model.model_validate(self.settings_input))
        return self._settings

    def adopt_settings(self, settings: DestinationSettings) -> None:
        """Keep the validated settings and drop the raw copy, which may hold secrets in plain text."""
        self._settings = settings
        self.settings_input = {}

    def setting_values(self) -> dict[str, Any]:
        """The settings as the destination's actions receive them."""
        return self.settings.values()

    def create_client(self, **options: Any) -> Client:
        """The destination's cloud-mode client (options go to its factory, e.g. `transport`)."""
        factory = self.definition.create_client
        if factory is None:
            raise ValueError(f"{self.definition.vendor} has no cloud mode")
        return factory(self.settings, **options)

    def subscription_specs(self) -> list[Subscription]:
        if self.subscriptions == "presets":
            return [Subscription.from_preset(p) for p in self.definition.presets]
        return [s.spec() for s in self.subscriptions]

    @property
    def compiled(self) -> list[CompiledSubscription]:
        """The subscriptions with triggers parsed and mappings compiled (filled by `load_config`)."""
        return self._compiled


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or text such as `500ms`, `10s`, `5m`, `4h`, `1d`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10s, 5m or 4h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 10s, 5m, 4h or a number of seconds")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


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
    lease_ttl: Duration = Field(10.0, ge=1.0, le=600.0)
    """PostgreSQL: how long a worker's hold on a partition lasts without a heartbeat; a dead worker's partitions
    are taken over within it."""
    partitions: int = Field(16, ge=1, le=1024)
    """PostgreSQL: partitions of each destination's log, set when the store is created (later changes are ignored:
    they would reorder users' events). More partitions let more workers share one destination."""


_LISTEN = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\s\[\]]+):(?P<port>\d{1,5})$")


class AdminConfig(_Model):
    """The operator console and the admin API (`/console`, `/admin/api/v1/`); off (404) without this section."""

    token: SecretStr = Field(min_length=16)
    """What an operator types at `/console/login` and what `Authorization: Bearer` carries (`${ENV}` it)."""
    listen: str | None = None
    """`host:port`: serve the console and admin API there only (a second server in the same process); the public
    port then answers 404 for them."""
    session_ttl: Duration = Field(12 * 3600.0, gt=0)
    """How long a console session lasts after logging in."""

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


class Config(_Model):
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

    @property
    def storage_kind(self) -> Literal["sqlite", "postgresql"]:
        return "postgresql" if self.storage.startswith(POSTGRES_SCHEMES) else "sqlite"

    def storage_path(self) -> Path:
        """The SQLite file (`sqlite:///var/x.db` is relative to the working directory, `sqlite:////abs` absolute)."""
        if self.storage_kind != "sqlite":
            raise ValueError(f"storage is not an SQLite file: {redact_url(self.storage)}")
        return Path(self.storage[len(SQLITE_PREFIX) :])

    def storage_description(self) -> str:
        """Where events are stored, for messages: the file, or the URL without its password."""
        return str(self.storage_path()) if self.storage_kind == "sqlite" else redact_url(self.storage)

    def sources_of(self, destination: DestinationConfig) -> list[str]:
        """The source names a destination receives from (all sources when it names none)."""
        return destination.sources or [s.name for s in self.sources]

    sources: list[SourceConfig] = []
    destinations: list[DestinationConfig] = []

    _file: Path | None = PrivateAttr(default=None)

    @property
    def file(self) -> Path | None:
        return self._file

    def cloud_destinations(self) -> list[DestinationConfig]:
        return [d for d in self.destinations if d.mode == "cloud"]


# ---------------------------------------------------------------------------------------------------------------


def unset_secret(name: str) -> str:
    """What an unset `${NAME}` in a destination's settings reads as when secrets are optional (see `parse_config`)."""
    return f"<{name} not set>"


def _is_destination_setting(path: Path_) -> bool:
    """A secret a read-only command may go without: a destination's setting, or the admin token."""
    return (len(path) >= 4 and path[0] == "destinations" and path[2] == "settings") or path == ("admin", "token")


def _interpolate(
    value: Any, path: Path_, env: dict[str, str], problems: list[ConfigProblem], secrets_optional: bool = False
) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            escaped, name, default = match.groups()
            if escaped:
                return match.group(0)[1:]
            if name in env:
                return env[name]
            if default is not None:
                return default
            if secrets_optional and _is_destination_setting(path):
                return unset_secret(name)
            problems.append(ConfigProblem(path, f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, str(k)), env, problems, secrets_optional) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), env, problems, secrets_optional) for i, v in enumerate(value)]
    return value


def _lines(node: yaml.Node | None) -> dict[Path_, int]:
    """1-based line of every key path in the YAML document (a mapping key's own line for its path)."""
    found: dict[Path_, int] = {}

    def walk(n: yaml.Node, path: Path_) -> None:
        found.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for key, child in n.value:
                child_path = (*path, str(key.value))
                found[child_path] = key.start_mark.line + 1
                walk(child, child_path)
        elif isinstance(n, yaml.SequenceNode):
            for i, child in enumerate(n.value):
                walk(child, (*path, i))

    if node is not None:
        walk(node, ())
    return found


def _line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


_PYDANTIC_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a known key here",
}


def _structure_problems(error: ValidationError) -> list[ConfigProblem]:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        loc: Path_ = tuple(item["loc"])
        # A union (`presets` or a list) reports under its member names; show the key the user wrote.
        loc = tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("literal[") or p.startswith("list["))))
        problems.append(
            ConfigProblem(loc, _PYDANTIC_REASONS.get(item["type"], item["msg"].removeprefix("Value error, ")))
        )
    unique: dict[tuple[Path_, str], ConfigProblem] = {}
    for p in problems:
        unique.setdefault((p.path, p.reason), p)
    return list(unique.values())


def _liquid_paths(value: Any, path: Path_) -> Iterator[Path_]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "@liquid":
                yield (*path, key)
            yield from _liquid_paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _liquid_paths(child, (*path, i))


def _nested_apply_problems(where: Path_, mapping_: dict[str, Any]) -> list[ConfigProblem]:
    """Device mode: `@transform.apply` objects Segment would reject at run time (the plugin does not validate)."""
    return [
        ConfigProblem(
            (*where, *path),
            f"{message} (Segment validates a @transform's apply each time it runs, so every event reaching it "
            "would fail; the browser plugin cannot reproduce that)",
        )
        for path, messages in invalid_transform_applies(mapping_)
        for message in messages
    ]


def _engine_problems(where: Path_, subscribe: Any, mapping_: Any, mode: Any) -> list[ConfigProblem]:
    """What the engines say about one subscription's trigger and mapping (and @liquid in device mode)."""
    problems: list[ConfigProblem] = []
    if isinstance(subscribe, str):
        try:
            fql.parse(subscribe)
        except fql.FQLSyntaxError as exc:
            problems.append(ConfigProblem((*where, "subscribe"), f"invalid FQL: {exc}"))
    if isinstance(mapping_, dict):
        try:
            mapping.validate(mapping_)
        except mapping.MappingValidationError as exc:
            problems.extend(ConfigProblem((*where, "mapping"), message) for message in exc.messages)
        else:
            if mode == "device":
                problems.extend(_nested_apply_problems((*where, "mapping"), mapping_))
        if mode == "device":
            problems.extend(
                ConfigProblem(
                    liquid,
                    "@liquid is not available in device mode: Segment's browser runtime does not run it; "
                    "use @template, or mode: cloud",
                )
                for liquid in _liquid_paths(mapping_, (*where, "mapping"))
            )
    return problems


def _raw_engine_problems(data: dict[str, Any]) -> list[ConfigProblem]:
    """Trigger and mapping problems of a configuration whose structure is invalid, so they are reported too."""
    problems: list[ConfigProblem] = []
    destinations = data.get("destinations")
    for i, dest in enumerate(destinations if isinstance(destinations, list) else []):
        subscriptions = dest.get("subscriptions") if isinstance(dest, dict) else None
        for j, sub in enumerate(subscriptions if isinstance(subscriptions, list) else []):
            if isinstance(sub, dict):
                where: Path_ = ("destinations", i, "subscriptions", j)
                problems.extend(
                    _engine_problems(where, sub.get("subscribe"), sub.get("mapping"), dest.get("mode", "device"))
                )
    return problems


def _settings_problems(data: dict[str, Any]) -> tuple[list[ConfigProblem], dict[int, DestinationSettings]]:
    """Each destination's settings validated by its own model (from the raw data, so they are reported even when
    the structure elsewhere is invalid), and the settings that passed, by destination index."""
    problems: list[ConfigProblem] = []
    valid: dict[int, DestinationSettings] = {}
    destinations = data.get("destinations")
    for i, dest in enumerate(destinations if isinstance(destinations, list) else []):
        if not isinstance(dest, dict) or not isinstance(dest.get("settings"), dict):
            continue  # the structure check reports it
        kind = dest.get("type", REGISTRY.default.type)
        if kind not in REGISTRY:
            continue
        model = REGISTRY.get(kind).settings_model
        try:
            valid[i] = model.model_validate(dest["settings"])
        except ValidationError as exc:
            problems.extend(
                _setting_problem(model, ("destinations", i, "settings"), item)
                for item in exc.errors(include_input=False, include_url=False)
            )
    return problems, valid


def _setting_problem(model: type[DestinationSettings], base: Path_, item: Any) -> ConfigProblem:
    loc: Path_ = (*base, *item["loc"])
    key = item["loc"][0] if item["loc"] else None
    if item["type"] == "missing" and isinstance(key, str) and key in model.model_fields:
        info = model.info(key)
        reason = f"{key} is missing: the {model.vendor} {info['label']} is required"
        if info["example"]:
            reason += f" (e.g. {key}: {info['example']})"
        return ConfigProblem(loc, reason)
    return ConfigProblem(loc, _PYDANTIC_REASONS.get(item["type"], item["msg"].removeprefix("Value error, ")))


def _check_destination(index: int, dest: DestinationConfig, source_names: set[str]) -> list[ConfigProblem]:
    base: Path_ = ("destinations", index)
    definition = dest.definition
    vendor = definition.vendor
    problems: list[ConfigProblem] = []
    if dest.mode not in definition.modes:
        problems.append(
            ConfigProblem((*base, "mode"), f"{vendor} has no {dest.mode} mode (it has {', '.join(definition.modes)})")
        )
    model = definition.settings_model
    for key, f in model.fields().items():
        value = getattr(dest.settings, key)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if f.required and isinstance(text, str) and not text.strip():
            problems.append(
                ConfigProblem(
                    (*base, "settings", key), f"{key} is empty: the {vendor} {model.info(key)['label']} is required"
                )
            )
    problems.extend(
        ConfigProblem((*base, "settings", key), reason) for key, reason in dest.settings.problems(dest.mode)
    )
    for j, name in enumerate(dest.sources):
        if name not in source_names:
            problems.append(
                ConfigProblem(
                    (*base, "sources", j),
                    f"unknown source {name!r} (sources: {', '.join(sorted(source_names)) or 'none'})",
                )
            )
    actions = definition.actions
    compiled: list[CompiledSubscription] = []
    names: set[str] = set()
    for j, spec in enumerate(dest.subscription_specs()):
        where: Path_ = (*base, "subscriptions", j) if dest.subscriptions != "presets" else (*base, "subscriptions")
        found = _engine_problems(where, spec.subscribe, dict(spec.mapping), dest.mode)
        if spec.name in names:  # the delivery log and retries know a subscription by its name
            found.insert(
                0, ConfigProblem((*where, "name"), f"duplicate subscription name {spec.name!r} in this destination")
            )
        names.add(spec.name)
        if spec.partner_action not in actions:
            found.insert(
                0,
                ConfigProblem(
                    (*where, "partnerAction"),
                    f"unknown partnerAction {spec.partner_action!r}; {vendor} has {', '.join(actions)}",
                ),
            )
        if found:
            problems.extend(found)
        else:
            compiled.append(CompiledSubscription(spec))
    dest._compiled = compiled
    return problems


def _write_key_clashes(config: Config) -> list[ConfigProblem]:
    """A write key names one source: the same key twice (in one source or two) would send events to a guess."""
    problems: list[ConfigProblem] = []
    owner: dict[str, str] = {}
    for i, source in enumerate(config.sources):
        for j, key in enumerate(source.accepted_write_keys()):
            where: Path_ = ("sources", i, "write_key") if j == 0 else ("sources", i, "previous_write_keys", j - 1)
            if key in owner:
                problems.append(ConfigProblem(where, f"this write key is already a key of source {owner[key]!r}"))
            else:
                owner[key] = source.name
    return problems


def _device_conflicts(config: Config) -> list[ConfigProblem]:
    """A page runs one SDK per vendor (1Flow: one `window._1flow`, one `data-api-key`): device-mode destinations
    of one type sharing a source must agree on what their plugin's `page_key` names (the project and the SDK)."""
    problems: list[ConfigProblem] = []
    first: dict[tuple[str, str], tuple[DestinationConfig, Any]] = {}
    for i, dest in enumerate(config.destinations):
        device = dest.definition.device
        if dest.mode != "device" or device is None or device.page_key is None:
            continue
        key = device.page_key(dest.settings)
        if key is None:
            continue  # unresolvable settings, already reported
        vendor = dest.definition.vendor
        for source in config.sources_of(dest):
            seen = first.setdefault((source, dest.type), (dest, key))
            if seen[1] != key:
                problems.append(
                    ConfigProblem(
                        ("destinations", i),
                        f"source {source!r} already loads {vendor} through device-mode destination "
                        f"{seen[0].name!r} with {device.page_conflict or 'other settings'}; "
                        f"a page can run only one {vendor} SDK",
                    )
                )
    return problems


def parse_config(
    text: str, file: str | Path = "<config>", env: dict[str, str] | None = None, *, secrets_optional: bool = False
) -> Config:
    """A validated Config from YAML text; raises ConfigError listing every problem.

    `secrets_optional`: an unset `${VAR}` in a destination's `settings` (the Project API Key) is no problem and
    reads as `unset_secret(VAR)` — for commands that only read the store (`status`, `events`, `replay`), so an
    operator can inspect the pipeline without being handed the 1Flow secrets. Never for anything that delivers."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = f"invalid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ConfigError(file, [ConfigProblem((), reason, mark.line + 1 if mark else None)]) from None
    lines = _lines(node)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            file,
            [ConfigProblem((), "the configuration must be a mapping of keys (server, sources, destinations, …)", 1)],
        )
    problems: list[ConfigProblem] = []
    data = _interpolate(raw, (), dict(os.environ) if env is None else env, problems, secrets_optional)
    config: Config | None = None
    settings_problems, valid_settings = _settings_problems(data)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(_structure_problems(exc))
    problems.extend(settings_problems)
    if config is None or settings_problems:  # the engines' verdicts are still worth reporting
        problems.extend(_raw_engine_problems(data))
        config = None
    else:
        for i, dest in enumerate(config.destinations):
            dest.adopt_settings(valid_settings[i])
    if config is not None:
        source_names = {s.name for s in config.sources}
        seen: set[str] = set()
        unset = {p.path for p in problems}  # an unset variable already explains an empty value there
        problems.extend(_write_key_clashes(config))
        if config.server.demo is not None and config.server.demo not in source_names:
            problems.append(
                ConfigProblem(
                    ("server", "demo"),
                    f"unknown source {config.server.demo!r} (sources: {', '.join(sorted(source_names)) or 'none'})",
                )
            )
        for i, dest in enumerate(config.destinations):
            if dest.name in seen:
                problems.append(ConfigProblem(("destinations", i, "name"), f"duplicate destination name {dest.name!r}"))
            seen.add(dest.name)
            problems.extend(p for p in _check_destination(i, dest, source_names) if p.path not in unset)
        problems.extend(_device_conflicts(config))
    if problems:
        located = [ConfigProblem(p.path, p.reason, p.line or _line_for(lines, p.path)) for p in problems]
        raise ConfigError(file, located)
    assert config is not None
    config._file = Path(file)
    return config


def load_config(path: str | Path, env: dict[str, str] | None = None, *, secrets_optional: bool = False) -> Config:
    """Read and validate a configuration file (see `parse_config`, also for `secrets_optional`); warn when every
    user may read it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [ConfigProblem((), f"cannot read the file: {exc.strerror or exc}")]) from None
    config = parse_config(text, path, env, secrets_optional=secrets_optional)
    warn_if_world_readable(path)
    return config


def warn_if_world_readable(path: Path) -> bool:
    """A configuration holds write keys and may hold Project API Keys: say so, naming the file, when any user of
    the machine can read it (a warning, not a refusal: keys taken from `${ENV}` may make it harmless)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if not mode & stat.S_IROTH:
        return False
    log.warning(
        "%s is readable by every user of this machine (mode %s) and may hold secrets (write keys, Project API Keys): "
        "chmod 600 %s",
        path,
        oct(stat.S_IMODE(mode))[2:],
        path,
    )
    return True
