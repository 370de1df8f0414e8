"""The whole-run secrets scan: every secret a test configured (Project API Keys, write keys) is looked for in every
log and every piece of command output the run produced; any hit fails the run.

Secrets come from the configurations parsed in this process (`record_config`), every configuration file written
under the run's temporary directory (the subprocesses' configs) and the sandbox's keys (given to processes through
`ONEFLOW_PROJECT_KEY`); a `storage:` URL's password counts too. Texts come from each test's captured stdout, stderr
and log records, the output of in-process CLI runs (`tests.helpers.cli.invoke`) and every `*.log` file under the
temporary directory (servers, workers, sandboxes). A write key is legitimately in its own source's requests and
pages (the settings document, the snippet), never in a log or an output, so any occurrence counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from actions_1flow.secrets import url_secrets

MIN_SECRET_LENGTH = 4
"""Shorter strings (`""`, `"x"`) are test placeholders that occur everywhere by chance, not secrets."""

MAX_HITS_SHOWN = 20


@dataclass(frozen=True)
class Hit:
    secret: str
    what: str
    where: str
    excerpt: str


def secrets_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(value, key path) of every write key and Project API Key in a configuration (as parsed YAML or a dump)."""
    if isinstance(value, dict):
        for key, child in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in ("write_key", "projectApiKey") and isinstance(child, str):
                if "${" not in child:  # an unresolved `${ENV}` is a name, not the secret (its value is known apart)
                    yield child, where
            elif key == "storage" and isinstance(child, str):  # a database password, in the URL or its query
                yield from ((secret, where) for secret in url_secrets(child) if "${" not in secret)
            else:
                yield from secrets_in(child, where)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from secrets_in(child, f"{path}[{i}]")


@dataclass
class SecretScan:
    secrets: dict[str, str] = field(default_factory=dict)
    """secret → what it is (the first place it was configured)."""
    texts: list[tuple[str, str]] = field(default_factory=list)
    """(where, text) of everything to scan."""
    worker_totals: list[tuple[int, int]] = field(default_factory=list)
    """(secrets, texts) each pytest-xdist worker scanned (its hits fail the run through the controller)."""

    def add_secret(self, value: str, what: str) -> None:
        if len(value) >= MIN_SECRET_LENGTH:
            self.secrets.setdefault(value, what)

    def add_config(self, data: Any, what: str) -> None:
        for value, path in secrets_in(data):
            self.add_secret(value, f"{path} of {what}")

    def add_text(self, text: str, where: str) -> None:
        if text:
            self.texts.append((where, text))

    def add_directory(self, root: Path) -> None:
        """Config files (their secrets) and log files (their text) under `root`."""
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            if path.suffix in (".yaml", ".yml"):
                try:
                    self.add_config(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
                except (yaml.YAMLError, UnicodeDecodeError, OSError):
                    continue
            elif path.suffix == ".log":
                self.add_text(path.read_text(encoding="utf-8", errors="replace"), str(path))

    def hits(self) -> list[Hit]:
        found = []
        for where, text in self.texts:
            for secret, what in self.secrets.items():
                at = text.find(secret)
                if at >= 0:
                    excerpt = text[max(0, at - 60) : at + len(secret) + 60].replace("\n", "⏎")
                    found.append(Hit(secret, what, where, excerpt))
        return found


def report(hits: Iterable[Hit]) -> str:
    hits = list(hits)
    lines = [f"secrets scan: {len(hits)} secret(s) found in logs or command output"]
    for hit in hits[:MAX_HITS_SHOWN]:
        lines.append(f"  {hit.what} in {hit.where}: …{hit.excerpt}…")
    return "\n".join(lines)


SCAN = SecretScan()
"""The run's scan (filled by the hooks in tests/conftest.py)."""
