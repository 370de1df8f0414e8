"""The whole-run secrets scan finds what it is meant to find: secrets from configurations (parsed in-process and
written as files), and their occurrences in logs, captured output and CLI output."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from actions_1flow.config import parse_config
from tests.helpers.cli import invoke
from tests.helpers.sandbox import US_KEY
from tests.helpers.secret_scan import SCAN, SecretScan, report


def test_secrets_come_from_config_files_and_leaks_from_logs():
    scan = SecretScan()
    # planted outside the run's temporary directory, which the run's own scan reads
    with tempfile.TemporaryDirectory() as planted:
        check_planted(scan, Path(planted))


def check_planted(scan: SecretScan, tmp_path: Path) -> None:
    config = {
        "sources": [{"name": "web", "write_key": "wk_planted_web"}],
        "destinations": [
            {"name": "d", "settings": {"projectApiKey": "1f_planted_key_123"}},
            {"name": "e", "settings": {"projectApiKey": "${ONEFLOW_PROJECT_KEY}"}},
        ],
    }
    (tmp_path / "server.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (tmp_path / "serve.log").write_text("INFO started\nWARNING refused key 1f_planted_key_123 oops\n", encoding="utf-8")
    (tmp_path / "quiet.log").write_text("INFO nothing to see (****_123)\n", encoding="utf-8")
    scan.add_directory(tmp_path)
    scan.add_text("request from wk_planted_web", "test_x (stdout)")
    assert set(scan.secrets) == {"wk_planted_web", "1f_planted_key_123"}  # `${…}` is a name, not a secret
    hits = scan.hits()
    assert {(h.secret, h.where) for h in hits} == {
        ("1f_planted_key_123", str(tmp_path / "serve.log")),
        ("wk_planted_web", "test_x (stdout)"),
    }
    text = report(hits)
    assert "2 secret(s)" in text and "destinations[0].settings.projectApiKey" in text


def test_the_run_scan_knows_in_process_configs_and_sees_cli_output(tmp_path):
    parse_config("sources: [{name: web, write_key: wk_seen_by_the_scan}]")
    assert "wk_seen_by_the_scan" in SCAN.secrets and US_KEY in SCAN.secrets
    invoke("definition")
    assert SCAN.texts[-1][0] == "actions-1flow definition"
