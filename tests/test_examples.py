"""The shipped example configuration loads, and means what its comments say."""

from pathlib import Path

from actions_1flow.config import load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "actions-1flow.yaml"
MOBILE = EXAMPLE.with_name("mobile.yaml")


def test_example_configuration_loads_and_routes_as_documented():
    config = load_config(
        EXAMPLE, env={"ONEFLOW_PROJECT_KEY": "1f_live_example_key_0000", "ACTIONS_1FLOW_ADMIN_TOKEN": "t" * 32}
    )
    web, server = config.destinations
    assert (web.mode, server.mode) == ("device", "cloud")
    assert [c.name for c in web.compiled] == ["Track Event", "Identify User"]
    big = server.compiled[1]
    order = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "properties": {"total": 120, "currency": "EUR"},
    }
    assert big.trigger.matches(order)
    assert not big.trigger.matches({**order, "properties": {"total": 99}})
    assert big.mapping.apply(order) == {"event_name": "Big order (EUR)", "userId": "u1", "properties": {"total": 120}}
    assert config.pipeline.retry_window == 4 * 3600 and config.pipeline.dedup_window == 24 * 3600
    assert server.privacy.drop == ["context.ip"] and server.consent is None and web.consent is None
    assert config.admin is not None  # the console is on


def test_the_examples_commented_consent_block_loads_once_uncommented():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "    # consent: " in text and "    # privacy: " in text
    text = text.replace("    # consent: ", "    consent: ").replace("    # privacy: ", "    privacy: ")
    env = {"ONEFLOW_PROJECT_KEY": "1f_live_example_key_0000", "ACTIONS_1FLOW_ADMIN_TOKEN": "t" * 32}
    web = parse_config(text, EXAMPLE, env=env).destinations[0]
    assert web.consent is not None and (web.consent.categories, web.consent.missing) == (["C0002"], "deny")
    assert web.privacy.drop == ["traits.email"]


def test_the_mobile_example_configures_1flows_plugins_and_delivers_for_react_native():
    from actions_1flow.server.settings_cdn import settings_document
    from tests.helpers.server import OPTIONAL_SUBSCRIPTIONS, PRESET_SUBSCRIPTIONS

    text = MOBILE.read_text(encoding="utf-8")
    text = text.replace("  tls: {", "  # tls: {")  # the example's certificate files do not exist here
    config = parse_config(text, MOBILE, env={"ONEFLOW_PROJECT_KEY": "1f_live_example_key_0000"})
    apps, react_native = config.destinations
    assert (apps.mode, react_native.mode) == ("device", "cloud")
    # Exactly the definition's presets and optional screen preset, so the example cannot drift from them.
    expected = [*PRESET_SUBSCRIPTIONS, OPTIONAL_SUBSCRIPTIONS["Track Screen"]]
    assert [(s.name, s.subscribe, s.partnerAction, s.mapping) for s in react_native.subscriptions] == [
        (s["name"], s["subscribe"], s["partnerAction"], s["mapping"]) for s in expected
    ]
    ios, android, rn = (settings_document(config, s, "https://events.example.com") for s in config.sources)
    assert ios["integrations"]["1Flow Mobile Plugin"] == {"apiKey": "1f_live_example_key_0000"}
    assert android["integrations"]["1Flow Mobile Plugin"] == ios["integrations"]["1Flow Mobile Plugin"]
    assert ios["integrations"]["Segment.io"]["apiHost"] == "events.example.com/v1"
    assert set(rn["integrations"]) == {"Segment.io"}
