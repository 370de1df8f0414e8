"""`actions-1flow fql` (the demo that `make run` starts is tested in tests/test_demo.py)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from actions_1flow.cli import main


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


def test_fql_prints_the_ast_as_json() -> None:
    result = run("fql", 'type = "track"')
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "type": "group", "operator": "and", "children": [{"type": "event-type", "operator": "=", "value": "track"}]
    }  # fmt: skip


def test_fql_evaluates_an_event_from_a_file(tmp_path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"type": "track", "properties": {"total": 120}}))
    result = run("fql", 'type = "track" and properties.total > 100', "--event", str(event))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "true"


def test_fql_evaluates_an_event_from_stdin() -> None:
    result = run("fql", "properties.total > 100", "--event", "-", stdin='{"properties": {"total": 5}}')
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "false"


def test_fql_syntax_error_shows_a_caret_and_exits_2() -> None:
    result = run("fql", 'type = "track" and foo = 1')
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: unknown field 'foo'") and "(column 20)" in lines[0]
    assert lines[1:] == ['  type = "track" and foo = 1', "                     ^"]


def test_fql_invalid_event_json_exits_2_before_printing() -> None:
    result = run("fql", 'type = "track"', "--event", "-", stdin='{"type":')
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "the event is not valid JSON" in result.stderr
