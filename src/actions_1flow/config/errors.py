"""A configuration's problems: each with its key path, reason and line, reported together with the file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

Path_ = tuple[str | int, ...]
"""A key path into the configuration: `("destinations", 0, "settings", "region")`."""


@dataclass(frozen=True)
class ConfigProblem:
    path: Path_
    reason: str
    line: int | None = None

    @property
    def key_path(self) -> str:
        return format_path(self.path)


class ConfigError(Exception):
    """A configuration that cannot be used, with every problem found (file, line, key path, reason)."""

    def __init__(self, file: str | Path, problems: list[ConfigProblem]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__(self._render())

    def _render(self) -> str:
        lines = []
        for p in self.problems:
            where = self.file + (f":{p.line}" if p.line else "")
            subject = f"{where}: {p.key_path}" if p.path else where
            first, *rest = p.reason.splitlines() or [""]
            lines.append(f"{subject}: {first}")
            lines.extend(f"    {line}" for line in rest)
        return "\n".join(lines)


def format_path(path: Path_) -> str:
    """`destinations[0].settings.region`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
