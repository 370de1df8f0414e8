"""Running `actions-1flow` in tests: in-process (click's runner) and writing configurations that use the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from actions_1flow.cli import main


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """`actions-1flow ARGS…` in this process; stdout and stderr are kept apart."""
    result = CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)
    from tests.helpers.secret_scan import SCAN

    SCAN.add_text(result.output, f"actions-1flow {' '.join(args)}")  # stdout and stderr, for the whole-run scan
    return result


def write_config(
    directory: Path,
    api_url: str,
    key: str = "${ONEFLOW_PROJECT_KEY}",
    *,
    region: str = "us",
    mode: str = "cloud",
    subscriptions: Any = "presets",
    name: str = "1flow-cloud",
) -> Path:
    """A configuration with one 1Flow destination pointed at `api_url` (the sandbox)."""
    config = {
        "sources": [{"name": "web", "write_key": "wk_test"}],
        "destinations": [
            {
                "name": name,
                "type": "1flow",
                "mode": mode,
                "sources": ["web"],
                "settings": {"projectApiKey": key, "region": region, "apiBaseUrl": api_url},
                "subscriptions": subscriptions,
            }
        ],
    }
    path = directory / "actions-1flow.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)  # it holds the keys: readable by others, the server would warn
    return path


def write_events(directory: Path, events: list[Any], name: str = "events.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(events), encoding="utf-8")
    return path


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
