"""The YAML configuration: sources, destinations (their type, settings and subscriptions), server and storage.

`load_config(path)` / `parse_config(text)` return a resolved `Config` (see `load`): `model` holds the sections as
written, `checks` what only the engines can judge, `resolved` what the rest of the product uses.
"""

from ..secrets import redact_url
from ..times import parse_duration
from .errors import ConfigError, ConfigProblem, format_path
from .load import ENV_FILE, load_config, parse_config, unset_secret, warn_if_world_readable
from .model import (
    DEFAULT_STORAGE,
    POSTGRES_SCHEMES,
    SQLITE_PREFIX,
    AdminConfig,
    ConfigSpec,
    ConsentConfig,
    DestinationSpec,
    MetricsConfig,
    PipelineConfig,
    PrivacyConfig,
    RateLimitConfig,
    ServerConfig,
    SourceConfig,
    SubscriptionConfig,
    TLSConfig,
    WebhookConfig,
)
from .resolved import Config, DestinationConfig

__all__ = [
    "DEFAULT_STORAGE",
    "ENV_FILE",
    "POSTGRES_SCHEMES",
    "SQLITE_PREFIX",
    "AdminConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "ConfigSpec",
    "ConsentConfig",
    "DestinationConfig",
    "DestinationSpec",
    "MetricsConfig",
    "PipelineConfig",
    "PrivacyConfig",
    "RateLimitConfig",
    "ServerConfig",
    "SourceConfig",
    "SubscriptionConfig",
    "TLSConfig",
    "WebhookConfig",
    "format_path",
    "load_config",
    "parse_config",
    "parse_duration",
    "redact_url",
    "unset_secret",
    "warn_if_world_readable",
]
