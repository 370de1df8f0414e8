"""`actions-1flow map --mapping FILE --event FILE`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from actions_1flow.cli import main


def run(tmp_path, mapping, event, *, raw_event: str | None = None):
    (tmp_path / "m.json").write_text(mapping if isinstance(mapping, str) else json.dumps(mapping))
    (tmp_path / "e.json").write_text(raw_event if raw_event is not None else json.dumps(event))
    return CliRunner().invoke(main, ["map", "--mapping", str(tmp_path / "m.json"), "--event", str(tmp_path / "e.json")])


def test_prints_the_payload_as_json(tmp_path):
    result = run(
        tmp_path,
        {"name": {"@path": "$.event"}, "total": {"@path": "$.properties.total"}},
        {"event": "Signed Up", "properties": {"total": 1.0}},
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"name": "Signed Up", "total": 1}
    assert '"total": 1\n' in result.stdout  # JS number printing: 1.0 is 1


def test_validation_messages_exit_2(tmp_path):
    result = run(tmp_path, {"x": {"@path": 5}, "y": {"@oops": 1}}, {})
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "/x/@path should be a string or a mapping directive but it is a number." in result.stderr
    assert "/y has an invalid directive: @oops." in result.stderr


def test_runtime_error_exit_2(tmp_path):
    result = run(tmp_path, {"x": {"@template": {"@path": "$.missing"}}}, {})
    assert result.exit_code == 2
    assert "@template: expected string, got undefined" in result.stderr


def test_event_must_be_an_object(tmp_path):
    result = run(tmp_path, {"x": {"@path": "$.a"}}, [1])
    assert result.exit_code == 2
    assert "data must be an object, got array" in result.stderr


def test_unreadable_json_is_a_usage_error(tmp_path):
    result = run(tmp_path, {"x": {"@path": "$.a"}}, None, raw_event='{"a": NaN}')
    assert result.exit_code == 2
    assert "event file" in result.stderr and "is not JSON" in result.stderr
