"""Configuration rules for device mode: what the browser plugin could evaluate differently from Segment is refused
when the configuration loads (nested `@transform.apply` failing Segment's run-time validation), plus the settings
the settings CDN publishes (`public_url`, `loadTimeoutMs`) and one 1Flow SDK per page."""

from __future__ import annotations

import json
import textwrap

import pytest

from actions_1flow import mapping
from actions_1flow.config import ConfigError, parse_config
from actions_1flow.mapping.nested import invalid_transform_applies
from tests.web.generators import Generator

BAD_APPLY = {"@transform": {"apply": {"x": {"@path": 1}}, "mapping": {"y": {"@path": "$.x"}}}}
GOOD_APPLY = {"@transform": {"apply": {"x": {"@path": "$.event"}}, "mapping": {"y": {"@path": "$.x"}}}}
NESTED_MESSAGE = "/x/@path should be a string or a mapping directive but it is a number."


def config_text(mapping_: dict, mode: str = "device") -> str:
    return textwrap.dedent(
        f"""\
        sources: [{{name: web, write_key: wk}}]
        destinations:
          - name: d
            mode: {mode}
            settings: {{projectApiKey: k, sdkUrl: "http://127.0.0.1:9/js/1flow.js", apiBaseUrl: "http://127.0.0.1:9/v1"}}
            subscriptions:
              - name: s
                subscribe: 'type = "track"'
                partnerAction: trackEvent
                mapping: {json.dumps(mapping_)}
        """
    )


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "app.yaml", env={})
    return [(p.key_path, p.reason) for p in info.value.problems]


@pytest.mark.parametrize(
    ("where", "mapping_", "path"),
    [
        ("a raw array", {"event_name": "x", "list": [1, BAD_APPLY]}, "list[1].@transform.apply"),
        (
            "a raw @literal object",
            {"event_name": "x", "lit": {"@literal": {"deep": BAD_APPLY}}},
            "lit.@literal.deep.@transform.apply",
        ),
        (
            "a raw @excludeWhenNull object",
            {"event_name": "x", "e": {"@excludeWhenNull": {"k": [BAD_APPLY]}}},
            "e.@excludeWhenNull.k[0].@transform.apply",
        ),
        (
            "an apply of an apply",
            {"event_name": "x", "t": {"@transform": {"apply": {"v": [BAD_APPLY]}, "mapping": {}}}},
            "t.@transform.apply.v[0].@transform.apply",
        ),
    ],
)
def test_invalid_nested_apply_is_refused_in_device_mode(where, mapping_, path):
    mapping.validate(mapping_)  # Segment's own validation lets it through
    ((key_path, reason),) = problems(config_text(mapping_))
    assert key_path == f"destinations[0].subscriptions[0].mapping.{path}"
    assert reason.startswith(NESTED_MESSAGE + " (Segment validates a @transform's apply each time it runs")


def test_the_same_mapping_is_accepted_in_cloud_mode_where_one_engine_runs_it():
    text = config_text({"event_name": "x", "list": [BAD_APPLY]}, mode="cloud")
    assert parse_config(text, "app.yaml", env={}).destinations[0].compiled


def test_valid_nested_applies_are_accepted():
    text = config_text({"event_name": "x", "list": [GOOD_APPLY], "lit": {"@literal": {"t": GOOD_APPLY}}})
    assert len(parse_config(text, "app.yaml", env={}).destinations[0].compiled) == 1


def test_an_invalid_mapping_reports_segments_message_once():
    ((key_path, reason),) = problems(config_text({"event_name": "x", "t": BAD_APPLY}))
    assert (key_path, reason) == (
        "destinations[0].subscriptions[0].mapping",
        "/t/@transform/apply/x/@path should be a string or a mapping directive but it is a number.",
    )


def hidden_transforms(seed: int, count: int) -> list[dict]:
    """Mappings with a random `@transform` where Segment's validation does not look (raw arrays, raw `@literal` /
    `@excludeWhenNull` objects, an apply's apply), among random mappings of the web conformance generator."""
    gen = Generator(seed)
    hide = (
        lambda t: [1, t],
        lambda t: {"@literal": {"k": t}},
        lambda t: {"@excludeWhenNull": [t]},
        lambda t: {"@transform": {"apply": {"a": [t]}, "mapping": {"b": {"@path": "$.a"}}}},
        lambda t: {"@if": {"exists": {"@path": "$.event"}, "then": [t]}},
    )
    out = []
    for _ in range(count):
        transform = {"@transform": {"apply": {"p": gen.node(1), "q": gen.node(1)}, "mapping": {"y": {"@path": "$.p"}}}}
        out.append({"event_name": "x", "m": gen.mapping(), "hidden": gen.pick(hide)(transform)})
    return out


@pytest.mark.oracle
def test_publish_rule_equals_segment_run_time_validation(oracle):
    """What the configuration accepts for device mode is exactly what Segment's transform never rejects as invalid,
    run time included (the oracle's `mapping.checkMany`, which the plugin's conformance tests rely on too)."""
    wrapped = hidden_transforms(20240611, 600)
    segment = oracle.call("mapping.checkMany", mappings=wrapped)

    def ours(m):
        """(outer validation messages, nested apply problems); None for a run-time failure of the root."""
        try:
            mapping.validate(m)
        except mapping.MappingValidationError as exc:
            return exc.messages, []
        except mapping.MappingError:
            return None, []  # a run-time failure, the same in both runtimes
        return None, list(invalid_transform_applies(m))

    mine = [ours(m) for m in wrapped]
    assert [outer is None and not nested for outer, nested in mine] == [s is None for s in segment]
    only_nested = [(nested, s) for (outer, nested), s in zip(mine, segment, strict=True) if outer is None and nested]
    assert len(only_nested) > 20
    # Where exactly one nested apply is invalid, the messages are Segment's for it.
    single = [(nested[0][1], s) for nested, s in only_nested if len(nested) == 1]
    assert single and all(m == s for m, s in single), [x for x in single if x[0] != x[1]][:3]


def test_public_url_must_be_absolute():
    text = "server: {public_url: 127.0.0.1:8080}\n"
    ((key_path, reason),) = problems(text)
    assert key_path == "server.public_url" and "absolute http:// or https:// URL" in reason
    config = parse_config("server: {public_url: 'https://cdn.example.com/a/'}\n", "app.yaml", env={})
    assert config.server.public_url == "https://cdn.example.com/a"


def test_load_timeout_is_bounded():
    text = config_text({"event_name": "x"}).replace("sdkUrl:", "loadTimeoutMs: 0, sdkUrl:")
    ((key_path, reason),) = problems(text)
    assert key_path == "destinations[0].settings.loadTimeoutMs" and "greater than 0" in reason


def test_one_source_cannot_load_two_different_1flow_projects():
    text = textwrap.dedent(
        """\
        sources: [{name: web, write_key: wk}, {name: app, write_key: wk2}]
        destinations:
          - {name: a, mode: device, sources: [web], settings: {projectApiKey: k1}}
          - {name: b, mode: device, sources: [app], settings: {projectApiKey: k2}}
          - {name: c, mode: device, sources: [web], settings: {projectApiKey: k1}}
          - {name: d, mode: device, settings: {projectApiKey: k2}}
        """
    )
    found = problems(text)
    assert [p for p, _ in found] == ["destinations[3]"]
    assert found[0][1].startswith("source 'web' already loads 1Flow through device-mode destination 'a'")


def test_the_docs_configuration_loads_with_presets_and_with_its_own_subscriptions():
    """docs/web.md, "1. Configure": the example as written, and with its commented subscriptions list instead."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text(encoding="utf-8")
    example = re.search(r"### 1\. Configure\s+```yaml\n(.*?)```", text, re.S).group(1)
    env = {"ONEFLOW_PROJECT_KEY": "1f_live_docs_example_key"}
    presets = parse_config(example, "docs.yaml", env=env)
    assert [s.name for s in presets.destinations[0].compiled] == ["Track Event", "Identify User"]
    assert presets.server.public_url == "https://analytics.example.com"
    own = "\n".join(
        " " + line[1:] if line.startswith("#  ") else line
        for line in example.splitlines()
        if "subscriptions: presets" not in line
    )
    custom = parse_config(own, "docs.yaml", env=env)
    assert [s.name for s in custom.destinations[0].compiled] == ["Track Event", "Identify User", "Big orders"]
