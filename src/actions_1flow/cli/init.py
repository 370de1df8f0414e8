"""`actions-1flow init [DIR]`: a starter configuration a newcomer can run at once and then make their own.

Named as `git init`, `npm init` and `terraform init` are: the first command in a new directory, which writes the
files the other commands read. It writes two files and never overwrites either:

- `actions-1flow.yaml`, commented: two sources (a website, back-end servers), a device-mode and a cloud-mode 1Flow
  destination, the console, and the store next to the file. Its secrets are `${VAR}` references only.
- `.env` (mode 600), which the configuration reads beside itself (`config.ENV_FILE`): a generated admin token, a
  sandbox Project API Key, and `ONEFLOW_SANDBOX`, which points both destinations at the local 1Flow sandbox.
  Going live is one change there: the real Project API Key in place of the sandbox's and its line deleted.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from ..config import ENV_FILE
from .common import fail

CONFIG_NAME = "actions-1flow.yaml"
SANDBOX_PORT = 8787
"""`actions-1flow sandbox`'s default port."""
SERVER_PORT = 8080

CONFIG = """\
# actions-1flow: what to receive (sources) and where to send it (destinations). Written by `actions-1flow init`.
#
# As written, both destinations send to the local 1Flow sandbox (ONEFLOW_SANDBOX in .env). To send to 1Flow
# itself, edit .env: put your Project API Key (1Flow dashboard -> Settings -> Project settings -> API keys) in
# ONEFLOW_PROJECT_KEY and delete the ONEFLOW_SANDBOX line. This file needs no change.
#
# Secrets are not written here: each ${NAME} is read from the environment, else from .env beside this file.

server:
  host: 127.0.0.1
  port: %(port)d
  # public_url: https://events.example.com   # once deployed: how browsers reach this server

# Where events wait until they are delivered. A relative path is read from this file's directory, wherever a
# command runs: sqlite:///var/events.db (three slashes) is var/events.db here; sqlite:////srv/events.db (four) is
# the absolute /srv/events.db. postgresql://user:${PGPASSWORD}@host/db shares one store among many servers.
storage: sqlite:///var/events.db

# The operator console at http://127.0.0.1:%(port)d/console and the admin API: log in with this token.
admin:
  token: "${ACTIONS_1FLOW_ADMIN_TOKEN}"

sources:
  - name: web                                # analytics.js on your website (docs/web.md)
    write_key: %(web_key)s
    cors_origins: ["http://localhost:3000"]  # your site's origin: the pages allowed to send events
  - name: backend                            # analytics-python, analytics-node … (docs/clients.md)
    write_key: %(backend_key)s

destinations:
  # Device mode: analytics.js loads this server's plugin, which loads 1Flow's web SDK in the page and calls it
  # (what shows surveys).
  - name: 1flow-web
    type: 1flow
    mode: device
    sources: [web]
    settings:
      projectApiKey: "${ONEFLOW_PROJECT_KEY}"
      region: us
      sdkUrl: "${ONEFLOW_SANDBOX:-https://1flow.app}/js/1flow.js"
    subscriptions: presets   # Track Event (type = "track") and Identify User (type = "identify")
  # Cloud mode: this server sends to 1Flow's HTTP API, with retries (these events feed targeting; only the web
  # SDK can trigger a survey).
  - name: 1flow-server
    type: 1flow
    mode: cloud
    sources: [backend]
    settings:
      projectApiKey: "${ONEFLOW_PROJECT_KEY}"
      region: us
      apiBaseUrl: "${ONEFLOW_SANDBOX:-https://api.1flow.app}/v1"
    subscriptions: presets   # or your own: docs/oneflow.md "Subscriptions"
"""

ENV = """\
# Secrets for actions-1flow.yaml, read from here when the environment does not set them. Keep this file private
# (mode 600) and out of version control.

# The console's password (make another: python3 -c "import secrets; print(secrets.token_urlsafe(32))").
ACTIONS_1FLOW_ADMIN_TOKEN=%(admin_token)s

# The key the local sandbox accepts (actions-1flow sandbox --key %(sandbox_key)s).
# To send to 1Flow itself: your Project API Key here, and delete the ONEFLOW_SANDBOX line below.
ONEFLOW_PROJECT_KEY=%(sandbox_key)s
ONEFLOW_SANDBOX=http://127.0.0.1:%(sandbox_port)d
"""


def starter_files() -> tuple[str, str]:
    """A fresh configuration and its `.env` (new write keys, admin token and sandbox key each time)."""
    config = CONFIG % {
        "port": SERVER_PORT,
        "web_key": "wk_web_" + secrets.token_hex(8),
        "backend_key": "wk_backend_" + secrets.token_hex(8),
    }
    env = ENV % {
        "admin_token": secrets.token_urlsafe(32),
        "sandbox_key": "1f_sandbox_" + secrets.token_hex(8),
        "sandbox_port": SANDBOX_PORT,
    }
    return config, env


def _write_private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only, from the first byte (never a moment world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
def init_command(directory: Path) -> None:
    """Write a commented starter configuration (and its .env of secrets) into DIRECTORY (default: here), ready to
    run against the local 1Flow sandbox. Existing files are never overwritten."""
    directory = directory.absolute()
    config_path, env_path = directory / CONFIG_NAME, directory / ENV_FILE
    existing = [str(p) for p in (config_path, env_path) if p.exists()]
    if existing:
        fail(
            f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}: nothing written "
            "(move them away, or run `actions-1flow init` in another directory)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    config, env = starter_files()
    _write_private(env_path, env)
    _write_private(config_path, config)
    sandbox_key = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("ONEFLOW_PROJECT_KEY="))
    click.echo(f"Wrote {config_path} (the configuration, commented)")
    click.echo(f"  and {env_path} (its secrets: the console's admin token, the Project API Key; mode 600)")
    click.echo("")
    click.echo("Run it against the local 1Flow sandbox, each in its own terminal:")
    click.echo(f"  actions-1flow sandbox --key {sandbox_key}")
    click.echo(f"  actions-1flow serve --config {config_path}")
    click.echo(
        f"Console: http://127.0.0.1:{SERVER_PORT}/console (the admin token is ACTIONS_1FLOW_ADMIN_TOKEN in .env)"
    )
    click.echo(
        "Send to 1Flow itself: in .env, your Project API Key in ONEFLOW_PROJECT_KEY and no ONEFLOW_SANDBOX line."
    )


COMMANDS: list[click.Command] = [init_command]
