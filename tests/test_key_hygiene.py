"""A cloud-mode destination sending with the key a device-mode destination publishes is warned about (issue 16,
point 8)."""

from __future__ import annotations

from actions_1flow.config import parse_config
from actions_1flow.key_hygiene import key_warnings
from tests.helpers.server import ServeProcess

CONFIG = """
storage: sqlite:///{tmp}/db.sqlite
sources:
  - {{name: web, write_key: wk_web}}
destinations:
  - {{name: in-pages, mode: device, sources: [web], settings: {{projectApiKey: k_public_0123456789}}}}
  - {{name: server-side, mode: cloud, sources: [web], settings: {{projectApiKey: {cloud_key}, apiBaseUrl: "http://127.0.0.1:9/v1"}}}}
"""


def test_a_cloud_destination_reusing_the_published_key_is_warned_about(tmp_path):
    shared = parse_config(CONFIG.format(tmp=tmp_path, cloud_key="k_public_0123456789"))
    [warning] = key_warnings(shared)
    assert "'server-side'" in warning and "'in-pages'" in warning and "publishes to every browser" in warning
    assert "k_public" not in warning  # the warning names destinations, never the key
    assert key_warnings(parse_config(CONFIG.format(tmp=tmp_path, cloud_key="k_private_0123456789"))) == []


def test_serve_logs_the_warning_at_start(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(tmp=tmp_path, cloud_key="k_public_0123456789"))
    server = ServeProcess(config, tmp_path / "serve.log", "--no-worker")
    server.stop()
    log = server.log_text()
    assert "WARNING actions_1flow.key_hygiene: cloud-mode destination 'server-side' uses the same projectApiKey" in log
