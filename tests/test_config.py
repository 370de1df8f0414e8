"""The YAML configuration: ${ENV} interpolation, the model, and precise errors (file, line, key path, reason)."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from actions_1flow.config import ConfigError, load_config, parse_config
from tests.helpers.sandbox import US_KEY

ENV = {"ONEFLOW_PROJECT_KEY": US_KEY}

DESIGN_SAMPLE = """\
server: {host: 127.0.0.1, port: 8080, public_url: http://127.0.0.1:8080}
storage: sqlite:///var/actions-1flow.db          # embedded default
sources:
  - {name: web, write_key: wk_web_demo, cors_origins: ["http://localhost:3000"]}
destinations:
  - name: 1flow-web
    type: 1flow
    mode: device              # device = analytics.js plugin (the seed); cloud = server-side HTTP API
    sources: [web]
    settings: {projectApiKey: "${ONEFLOW_PROJECT_KEY}", region: us}   # apiBaseUrl / sdkUrl: advanced overrides
    subscriptions: presets    # or a list of {name, subscribe, partnerAction, mapping, enabled}
"""


def config_with(destination: str, env=ENV):
    text = "sources:\n  - {name: web, write_key: wk}\ndestinations:\n" + textwrap.indent(
        textwrap.dedent(destination), "  "
    )
    return parse_config(text, "app.yaml", env)


def problems(destination: str, env=ENV) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as err:
        config_with(destination, env)
    assert err.value.file == "app.yaml"
    return [(p.line, p.key_path, p.reason) for p in err.value.problems]


def test_the_design_sample_loads(tmp_path):
    path = tmp_path / "actions-1flow.yaml"
    path.write_text(DESIGN_SAMPLE)
    config = load_config(path, ENV)
    assert config.file == path
    (dest,) = config.destinations
    assert (dest.name, dest.mode, dest.sources, dest.settings.region) == ("1flow-web", "device", ["web"], "us")
    assert dest.settings.projectApiKey.get_secret_value() == US_KEY
    assert dest.settings.sdk_url() == "https://1flow.app/js/1flow.js"
    assert [c.name for c in dest.compiled] == ["Track Event", "Identify User"]
    assert config.server.port == 8080 and config.sources[0].cors_origins == ["http://localhost:3000"]
    assert config.cloud_destinations() == []


def test_the_key_is_masked_wherever_the_model_is_shown():
    config = parse_config(DESIGN_SAMPLE, env=ENV)
    settings = config.destinations[0].settings
    assert US_KEY not in repr(config) and US_KEY not in str(settings) and US_KEY not in config.spec.model_dump_json()
    assert settings.masked()["projectApiKey"] == "****" + US_KEY[-4:]


def test_env_interpolation_default_and_escape():
    config = config_with(
        """\
        - name: d
          mode: cloud
          settings: {projectApiKey: "${ONEFLOW_PROJECT_KEY}", apiBaseUrl: "${API:-http://127.0.0.1:9/v1}"}
          subscriptions:
            - {name: "cost $${x}", subscribe: 'type = "track"', partnerAction: trackEvent, mapping: {event_name: "$${literal}"}}
        """  # noqa: E501 -- the YAML under test is kept byte for byte
    )
    dest = config.destinations[0]
    assert dest.settings.api_base_url() == "http://127.0.0.1:9/v1"
    assert dest.subscriptions[0].name == "cost ${x}" and dest.subscriptions[0].mapping == {"event_name": "${literal}"}


def test_unset_env_variable_is_reported_where_it_is_used():
    found = problems(
        """\
        - name: d
          settings: {projectApiKey: "${NOPE_NOT_SET}"}
        """
    )
    assert found == [(5, "destinations[0].settings.projectApiKey", "environment variable NOPE_NOT_SET is not set")]


def test_missing_project_api_key():
    assert problems("- {name: d, settings: {region: us}}") == [
        (
            4,
            "destinations[0].settings.projectApiKey",
            "projectApiKey is missing: the 1Flow Project API Key is required "
            '(e.g. projectApiKey: "${ONEFLOW_PROJECT_KEY}")',
        ),
    ]


def test_empty_project_api_key():
    ((_line, path, reason),) = problems("- {name: d, settings: {projectApiKey: ''}}")
    assert path == "destinations[0].settings.projectApiKey" and "projectApiKey is empty" in reason


def test_eu_without_api_base_url_in_cloud_mode_says_no_endpoint_is_documented():
    ((_line, path, reason),) = problems("- {name: d, mode: cloud, settings: {projectApiKey: k, region: eu}}")
    assert path == "destinations[0].settings.region"
    assert "needs apiBaseUrl" in reason and "1Flow documents no EU endpoint" in reason


def test_eu_without_sdk_url_in_device_mode():
    ((_, path, reason),) = problems("- {name: d, mode: device, settings: {projectApiKey: k, region: eu}}")
    assert path == "destinations[0].settings.region" and "needs sdkUrl" in reason


def test_eu_with_its_endpoint_is_accepted():
    config = config_with(
        "- {name: d, mode: cloud, settings: {projectApiKey: k, region: eu, apiBaseUrl: 'http://x/eu/v1/'}}"
    )
    assert config.destinations[0].settings.api_base_url() == "http://x/eu/v1"


def test_invalid_fql_is_reported_with_a_caret():
    found = problems(
        """\
        - name: d
          mode: cloud
          settings: {projectApiKey: k}
          subscriptions:
            - name: bad trigger
              subscribe: 'type = "track" AND event = "x"'
              partnerAction: trackEvent
        """
    )
    ((line, path, reason),) = found
    assert (line, path) == (9, "destinations[0].subscriptions[0].subscribe")
    assert reason.startswith("invalid FQL: ") and "^" in reason.splitlines()[-1]


def test_invalid_mapping_is_reported_with_segments_message():
    found = problems(
        """\
        - name: d
          settings: {projectApiKey: k}
          subscriptions:
            - {name: m, subscribe: 'type = "track"', partnerAction: trackEvent, mapping: {event_name: {"@path": 5}}}
        """
    )
    assert found == [
        (
            7,
            "destinations[0].subscriptions[0].mapping",
            "/event_name/@path should be a string or a mapping directive but it is a number.",
        ),
    ]


def test_liquid_is_refused_in_device_mode_only():
    destination = """\
        - name: d
          mode: {mode}
          settings: {{projectApiKey: k}}
          subscriptions:
            - name: l
              subscribe: 'type = "track"'
              partnerAction: trackEvent
              mapping:
                event_name: {{"@liquid": "{{{{ event | upcase }}}}"}}
        """
    ((line, path, reason),) = problems(destination.format(mode="device"))
    assert (line, path) == (12, "destinations[0].subscriptions[0].mapping.event_name.@liquid")
    assert reason.startswith("@liquid is not available in device mode")
    assert config_with(destination.format(mode="cloud")).destinations[0].compiled[0].name == "l"


def test_structure_errors_name_the_key():
    found = problems(
        """\
        - name: d
          mode: edge
          sources: [web, mobile]
          settings: {projectApiKey: k, regoin: eu}
          subscriptions:
            - {name: x, subscribe: 'type = "track"', partnerAction: sendEmail}
        """
    )
    paths = {path: reason for _, path, reason in found}
    assert paths["destinations[0].mode"] == "Input should be 'device' or 'cloud'"
    assert paths["destinations[0].settings.regoin"] == (
        "is not a known key here; did you mean region? "
        "(the keys here: projectApiKey, region, apiBaseUrl, sdkUrl, loadTimeoutMs, sdkProxy)"
    )


def test_semantic_errors_are_all_reported_together():
    found = problems(
        """\
        - name: d
          sources: [web, mobile]
          settings: {projectApiKey: k}
          subscriptions:
            - {name: x, subscribe: 'type = "track"', partnerAction: sendEmail}
            - {name: x, subscribe: 'type = "identify"', partnerAction: identifyUser}
        - name: d
          settings: {projectApiKey: k}
        """
    )
    paths = {path: reason for _, path, reason in found}
    assert paths["destinations[0].sources[1]"] == "unknown source 'mobile' (sources: web)"
    assert (
        paths["destinations[0].subscriptions[0].partnerAction"]
        == "unknown partnerAction 'sendEmail'; 1Flow has trackEvent, identifyUser"
    )
    assert paths["destinations[1].name"] == "duplicate destination name 'd'"
    assert paths["destinations[0].subscriptions[1].name"] == "duplicate subscription name 'x' in this destination"


def test_error_text_names_file_line_and_path():
    with pytest.raises(ConfigError) as err:
        config_with("- {name: d, settings: {region: us}}")
    assert str(err.value).startswith("app.yaml:4: destinations[0].settings.projectApiKey: projectApiKey is missing")


def test_yaml_syntax_and_shape_errors(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_config("destinations: [\n  {name: d", "x.yaml")
    assert err.value.problems[0].reason.startswith("invalid YAML") and err.value.problems[0].line is not None
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config("- a\n- b\n", "x.yaml")
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.yaml")
    assert parse_config("", "empty.yaml").destinations == []


def test_explicit_subscriptions_keep_order_and_enabled_flag():
    config = config_with(
        """\
        - name: d
          settings: {projectApiKey: k}
          subscriptions:
            - {name: a, subscribe: 'type = "track"', partnerAction: trackEvent, mapping: {event_name: {"@path": "$.event"}}}
            - {name: b, subscribe: 'type = "identify"', partnerAction: identifyUser, enabled: false}
        """  # noqa: E501 -- the YAML under test is kept byte for byte
    )
    assert [(c.name, c.spec.enabled) for c in config.destinations[0].compiled] == [("a", True), ("b", False)]


def test_engine_problems_are_reported_even_when_the_structure_is_invalid():
    found = problems(
        """\
        - name: d
          mode: cloud
          settings: {region: us}
          subscriptions:
            - name: bad
              subscribe: 'type = "track" AND event = "x"'
              partnerAction: trackEvent
              mapping: {event_name: {"@path": 5}}
        """
    )
    assert [(line, path) for line, path, _ in found] == [
        (6, "destinations[0].settings.projectApiKey"),
        (9, "destinations[0].subscriptions[0].subscribe"),
        (11, "destinations[0].subscriptions[0].mapping"),
    ]


def test_a_world_readable_config_holding_a_secret_gets_a_warning_naming_it(tmp_path, caplog):
    path = tmp_path / "actions-1flow.yaml"
    literal = (
        "sources: [{name: web, write_key: wk_secret_web}]\n"
        "destinations: [{name: d, mode: cloud, settings: {projectApiKey: k_literal_0123456789}}]\n"
    )
    path.write_text(literal, encoding="utf-8")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, "actions_1flow.config"):
        load_config(path)
    [message] = caplog.messages
    assert message == (
        f"{path} is readable by every user of this machine (mode 644) and holds "
        f"destinations[0].settings.projectApiKey in plain text: chmod 600 {path}, or take the secrets from the "
        "environment (${VAR})"
    )
    caplog.clear()
    path.chmod(0o640)  # the group may read it (the operator's choice), other users may not
    with caplog.at_level(logging.WARNING, "actions_1flow.config"):
        load_config(path)
    assert caplog.messages == []


def test_a_world_readable_config_of_env_references_and_write_keys_is_not_warned_about(tmp_path, caplog):
    """Write keys are in every page that loads analytics.js; `${VAR}` references hold nothing: nothing to do."""
    path = tmp_path / "actions-1flow.yaml"
    path.write_text(
        "storage: postgresql://app:${PGPASS}@db.internal/events\n"
        "admin: {token: '${ADMIN_TOKEN}'}\n"
        "sources: [{name: web, write_key: wk_public_web}]\n"
        "destinations: [{name: d, mode: cloud, settings: {projectApiKey: '${KEY}'}}]\n",
        encoding="utf-8",
    )
    path.chmod(0o644)
    env = {"PGPASS": "pw", "ADMIN_TOKEN": "a" * 32, "KEY": "k_0123456789abcdef"}
    with caplog.at_level(logging.WARNING, "actions_1flow.config"):
        load_config(path, env)
    assert caplog.messages == []
    path.write_text(path.read_text().replace("${PGPASS}", "hunter2-password"), encoding="utf-8")
    with caplog.at_level(logging.WARNING, "actions_1flow.config"):
        load_config(path, env)
    [message] = caplog.messages
    assert "holds storage in plain text" in message and "hunter2" not in message


def test_a_relative_storage_path_is_read_from_the_configuration_files_directory(tmp_path, monkeypatch):
    config_dir = tmp_path / "team"
    config_dir.mkdir()
    path = config_dir / "actions-1flow.yaml"
    path.write_text("storage: sqlite:///var/events.db\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # anywhere else
    config = load_config(path)
    assert config.storage_path() == config_dir / "var" / "events.db"
    assert config.storage == f"sqlite:///{config_dir}/var/events.db"
    path.write_text("storage: sqlite:////srv/events.db\n", encoding="utf-8")  # four slashes: absolute
    assert load_config(path).storage_path() == Path("/srv/events.db")
    path.write_text("{}\n", encoding="utf-8")  # the default store is next to the file too
    assert load_config(Path("team/actions-1flow.yaml")).storage_path() == config_dir / "var" / "actions-1flow.db"


def test_env_file_beside_the_configuration_fills_unset_variables(tmp_path, monkeypatch, caplog):
    path = tmp_path / "actions-1flow.yaml"
    path.write_text("admin: {token: '${T_ADMIN}'}\n", encoding="utf-8")
    env_file = tmp_path / ".env"
    env_file.write_text("# made by actions-1flow init\nT_ADMIN=from-the-env-file-0123456789\n", encoding="utf-8")
    env_file.chmod(0o600)
    monkeypatch.delenv("T_ADMIN", raising=False)
    assert load_config(path).admin.token.get_secret_value() == "from-the-env-file-0123456789"
    monkeypatch.setenv("T_ADMIN", "from-the-environment-0123456789")  # the environment wins
    assert load_config(path).admin.token.get_secret_value() == "from-the-environment-0123456789"
    env_file.chmod(0o644)  # it holds secrets by definition: readable by all, it is warned about
    with caplog.at_level(logging.WARNING, "actions_1flow.config"):
        load_config(path)
    assert caplog.messages == [
        f"{env_file} is readable by every user of this machine (mode 644) and holds the secrets the configuration "
        f"reads: chmod 600 {env_file}"
    ]


def test_secrets_optional_only_forgives_unset_destination_settings(tmp_path):
    from actions_1flow.config import unset_secret

    text = (
        "storage: sqlite:///${STORE_DIR}/db.sqlite\nsources:\n  - {name: web, write_key: wk}\ndestinations:\n"
        "  - {name: a, mode: cloud, sources: [web], settings: {projectApiKey: '${KEY}'}}\n"
    )
    config = parse_config(text, env={"STORE_DIR": str(tmp_path)}, secrets_optional=True)
    assert config.destinations[0].settings.projectApiKey.get_secret_value() == unset_secret("KEY")
    with pytest.raises(ConfigError, match="environment variable KEY is not set"):
        parse_config(text, env={"STORE_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="environment variable STORE_DIR is not set"):  # the store is still needed
        parse_config(text, env={}, secrets_optional=True)


def test_postgresql_storage_is_accepted_with_env_and_a_bad_url_is_refused_without_its_password():
    base = "sources:\n  - {name: web, write_key: wk}\n"
    config = parse_config(
        "storage: postgresql://app:${PGPASS}@db.internal:5432/events?sslmode=require\n"
        "pipeline: {lease_ttl: 5s, partitions: 32}\n" + base,
        "c.yaml",
        env={"PGPASS": "s3cret"},
    )
    assert config.storage_kind == "postgresql" and config.storage.endswith(
        "app:s3cret@db.internal:5432/events?sslmode=require"
    )
    assert config.storage_description() == "postgresql://app:***@db.internal:5432/events?sslmode=require"
    assert (config.pipeline.lease_ttl, config.pipeline.partitions) == (5.0, 32)
    with pytest.raises(ConfigError) as err:
        parse_config("storage: mysql://app:s3cret@db/events\n" + base, "c.yaml")
    assert "postgresql://user:pass@host:port/db" in str(err.value) and "s3cret" not in str(err.value)
    with pytest.raises(ConfigError, match="lease_ttl"):
        parse_config("storage: postgresql://db/events\npipeline: {lease_ttl: 100ms}\n" + base, "c.yaml")


def test_a_delivery_rate_and_a_retention_are_read_and_checked():
    dest = "- {name: d, mode: cloud, settings: {projectApiKey: k}, max_requests_per_second: 500}"
    config = config_with(dest)
    assert config.destinations[0].spec.max_requests_per_second == 500
    assert config.pipeline.retention is None  # the default: as long as the dedup window
    text = "pipeline: {retention: 30d}\nsources:\n  - {name: web, write_key: wk}\ndestinations: []\n"
    assert parse_config(text, "app.yaml", ENV).pipeline.retention == 30 * 86400
    ((_line, path, reason),) = problems(dest.replace("500", "0"))
    assert path == "destinations[0].max_requests_per_second" and "greater than 0" in reason


def test_the_fingerprint_follows_what_the_destination_sends_and_never_shows_the_key():
    base = "- {name: d, mode: cloud, settings: {projectApiKey: k}, subscriptions: presets}"
    same, other = (
        config_with(base),
        config_with(
            base.replace("presets", '[{name: T, subscribe: type = "track", partnerAction: trackEvent, mapping: {}}]')
        ),
    )
    rekeyed = config_with(base.replace("projectApiKey: k", "projectApiKey: k2"))
    fingerprint = same.destinations[0].fingerprint()
    assert fingerprint == config_with(base).destinations[0].fingerprint() and len(fingerprint) == 16
    assert fingerprint != other.destinations[0].fingerprint() != rekeyed.destinations[0].fingerprint()
