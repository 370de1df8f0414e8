"""A newcomer's mistakes explained in their words, with the fix (issue 26, points 4 and 8): a bad indent, a
mistyped key, an unquoted string in a trigger, a mistyped directive, an unset or short admin token."""

from __future__ import annotations

import pytest

from actions_1flow import fql, mapping
from actions_1flow.config import ConfigError, parse_config
from tests.helpers.cli import invoke

MAKE_TOKEN = 'make one with  python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def error_text(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "team.yaml", env or {})
    return str(err.value)


def test_a_key_indented_too_far_is_shown_at_its_line_with_what_to_fix():
    text = "sources:\n  - name: web\n     write_key: wk\n"
    assert error_text(text) == (
        "team.yaml:3: invalid YAML (column 15): this line is indented further than the key above it (or a value "
        "holds ': ', which needs quotes): line it up with the keys beside it\n"
        "         write_key: wk\n"
        "                  ^"
    )


def test_a_key_indented_too_little_is_shown_at_its_line_with_what_to_fix():
    text = "destinations:\n  - name: x\n    settings:\n      projectApiKey: a\n     region: us\n"
    assert error_text(text) == (
        "team.yaml:5: invalid YAML (column 6): this line is indented less than the lines above it and lines up "
        "with none of them: indent it exactly as far as the keys beside it\n"
        "         region: us\n"
        "         ^"
    )


def test_a_tab_is_named():
    assert error_text("sources:\n\t- name: web\n").startswith(
        "team.yaml:2: invalid YAML (column 1): YAML indents with spaces, not tabs"
    )


def test_a_mistyped_setting_gets_the_closest_key_and_the_allowed_ones():
    text = "destinations:\n  - {name: d, mode: cloud, settings: {projectApiKey: k_0123456789abc, regoin: us}}\n"
    assert error_text(text) == (
        "team.yaml:2: destinations[0].settings.regoin: is not a known key here; did you mean region? "
        "(the keys here: projectApiKey, region, apiBaseUrl, sdkUrl, loadTimeoutMs, sdkProxy)"
    )


def test_a_mistyped_section_key_gets_the_closest_key_too():
    assert error_text("sources: [{name: web, write_key: wk, cors_orgins: []}]\n") == (
        "team.yaml:1: sources[0].cors_orgins: is not a known key here; did you mean cors_origins? "
        "(the keys here: name, write_key, previous_write_keys, cors_origins, rate_limit, webhook, dedup_window)"
    )
    # Nothing close: only the keys allowed.
    assert error_text("colour: blue\n") == (
        "team.yaml:1: colour: is not a known key here "
        "(the keys here: server, admin, metrics, storage, pipeline, sources, destinations)"
    )


def test_an_unquoted_string_with_a_space_gets_the_quotes_and_a_caret():
    with pytest.raises(fql.FQLSyntaxError) as err:
        fql.parse("type = track and event = Order Completed")
    assert str(err.value) == (
        'strings need double quotes: write "Order Completed" (column 26)\n'
        "  type = track and event = Order Completed\n"
        "                           ^"
    )
    assert err.value.position == 25
    text = (
        "destinations:\n  - name: d\n    mode: cloud\n    settings: {projectApiKey: k_0123456789abc}\n"
        "    subscriptions:\n      - {name: a, subscribe: event = Order Completed, partnerAction: trackEvent}\n"
    )
    assert 'subscribe: invalid FQL: strings need double quotes: write "Order Completed" (column 9)' in error_text(text)
    assert fql.parse("event = Order").matches({"event": "Order"})  # a single bare word stays Segment's reading


def test_a_mistyped_directive_keeps_segments_message_and_adds_the_hint_beside_it():
    with pytest.raises(mapping.MappingValidationError) as err:
        mapping.validate({"event_name": {"@pth": "$.event"}, "n": {"@path": 1}})
    assert err.value.messages == [  # Segment's words, untouched (the differential tests compare these)
        "/event_name has an invalid directive: @pth.",
        "/n/@path should be a string or a mapping directive but it is a number.",
    ]
    assert err.value.hints == ["did you mean @path?", ""]
    assert err.value.explained() == [
        "/event_name has an invalid directive: @pth. (did you mean @path?)",
        "/n/@path should be a string or a mapping directive but it is a number.",
    ]
    text = (
        "destinations:\n  - name: d\n    mode: cloud\n    settings: {projectApiKey: k_0123456789abc}\n"
        "    subscriptions:\n      - {name: a, subscribe: 'type = \"track\"', partnerAction: trackEvent,\n"
        "         mapping: {event_name: {'@pth': $.event}}}\n"
    )
    assert (
        "destinations[0].subscriptions[0].mapping: /event_name has an invalid directive: @pth. (did you mean @path?)"
        in error_text(text)
    )


def test_map_prints_the_hint_beside_segments_message(tmp_path):
    (tmp_path / "m.json").write_text('{"e": {"@pth": "$.event"}}')
    (tmp_path / "e.json").write_text('{"event": "x"}')
    result = invoke("map", "--mapping", str(tmp_path / "m.json"), "--event", str(tmp_path / "e.json"))
    assert result.exit_code == 2
    assert result.stderr == "invalid mapping:\n  /e has an invalid directive: @pth. (did you mean @path?)\n"


def test_an_unset_admin_token_says_how_to_make_one():
    assert error_text("admin: {token: '${ACTIONS_1FLOW_ADMIN_TOKEN}'}\n") == (
        "team.yaml:1: admin.token: environment variable ACTIONS_1FLOW_ADMIN_TOKEN is not set (the console's "
        f"password: {MAKE_TOKEN}, or let `actions-1flow init` make one)"
    )


def test_a_short_admin_token_says_how_long_and_how_to_make_one():
    assert error_text("admin: {token: short}\n") == (
        "team.yaml:1: admin.token: the admin token is 5 characters long; it guards the console and the admin API, "
        f"so it needs at least 16 characters: {MAKE_TOKEN}"
    )
    assert "the admin token is empty" in error_text("admin: {token: ''}\n")
