"""Loading a configuration: YAML with `${ENV}` interpolation (and `${ENV:-default}`; `$${` is a literal `${`) in
string values, each section validated by its model, then `checks`; every problem reported with the file, the line
and the key path, and nothing half-valid returned. The result is a resolved `Config`, built anew (the parsed models
are never written into)."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .checks import (
    check_destination,
    device_conflicts,
    raw_engine_problems,
    settings_problems,
    structure_problems,
    webhook_problems,
    write_key_clashes,
)
from .errors import ConfigError, ConfigProblem, Path_
from .model import ConfigSpec
from .resolved import Config, DestinationConfig

log = logging.getLogger("actions_1flow.config")

_ENV = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def unset_secret(name: str) -> str:
    """What an unset `${NAME}` in a destination's settings reads as when secrets are optional (see `parse_config`)."""
    return f"<{name} not set>"


def _is_destination_setting(path: Path_) -> bool:
    """A secret a read-only command may go without: a destination's setting, or the admin token."""
    return (len(path) >= 4 and path[0] == "destinations" and path[2] == "settings") or path == ("admin", "token")


def _interpolate(
    value: Any, path: Path_, env: dict[str, str], problems: list[ConfigProblem], secrets_optional: bool = False
) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            escaped, name, default = match.groups()
            if escaped:
                return match.group(0)[1:]
            if name in env:
                return env[name]
            if default is not None:
                return default
            if secrets_optional and _is_destination_setting(path):
                return unset_secret(name)
            problems.append(ConfigProblem(path, f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, str(k)), env, problems, secrets_optional) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), env, problems, secrets_optional) for i, v in enumerate(value)]
    return value


def _lines(node: yaml.Node | None) -> dict[Path_, int]:
    """1-based line of every key path in the YAML document (a mapping key's own line for its path)."""
    found: dict[Path_, int] = {}

    def walk(n: yaml.Node, path: Path_) -> None:
        found.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for key, child in n.value:
                child_path = (*path, str(key.value))
                found[child_path] = key.start_mark.line + 1
                walk(child, child_path)
        elif isinstance(n, yaml.SequenceNode):
            for i, child in enumerate(n.value):
                walk(child, (*path, i))

    if node is not None:
        walk(node, ())
    return found


def _line_for(lines: dict[Path_, int], path: Path_) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def parse_config(
    text: str, file: str | Path = "<config>", env: dict[str, str] | None = None, *, secrets_optional: bool = False
) -> Config:
    """A validated Config from YAML text; raises ConfigError listing every problem.

    `secrets_optional`: an unset `${VAR}` in a destination's `settings` (the Project API Key) is no problem and
    reads as `unset_secret(VAR)` — for commands that only read the store (`status`, `events`, `replay`), so an
    operator can inspect the pipeline without being handed the 1Flow secrets. Never for anything that delivers."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = f"invalid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ConfigError(file, [ConfigProblem((), reason, mark.line + 1 if mark else None)]) from None
    lines = _lines(node)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            file,
            [ConfigProblem((), "the configuration must be a mapping of keys (server, sources, destinations, …)", 1)],
        )
    problems: list[ConfigProblem] = []
    data = _interpolate(raw, (), dict(os.environ) if env is None else env, problems, secrets_optional)
    config = _resolve(data, problems, Path(file))
    if problems or config is None:
        located = [ConfigProblem(p.path, p.reason, p.line or _line_for(lines, p.path)) for p in problems]
        raise ConfigError(file, located)
    return config


def _resolve(data: dict[str, Any], problems: list[ConfigProblem], file: Path) -> Config | None:
    """The resolved configuration from interpolated data, adding every problem found to `problems` (then the
    result is not to be used). Settings are validated from the raw data too, so they are reported even when the
    structure elsewhere is invalid, and the engines' verdicts likewise."""
    spec: ConfigSpec | None = None
    settings_found, valid_settings = settings_problems(data)
    try:
        spec = ConfigSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(structure_problems(exc))
    problems.extend(settings_found)
    if spec is None or settings_found:
        problems.extend(raw_engine_problems(data))
        return None
    source_names = {s.name for s in spec.sources}
    seen: set[str] = set()
    unset = {p.path for p in problems}  # an unset variable already explains an empty value there
    problems.extend(write_key_clashes(spec))
    problems.extend(webhook_problems(spec))
    if spec.server.demo is not None and spec.server.demo not in source_names:
        problems.append(
            ConfigProblem(
                ("server", "demo"),
                f"unknown source {spec.server.demo!r} (sources: {', '.join(sorted(source_names)) or 'none'})",
            )
        )
    destinations: list[DestinationConfig] = []
    for i, dest in enumerate(spec.destinations):
        if dest.name in seen:
            problems.append(ConfigProblem(("destinations", i, "name"), f"duplicate destination name {dest.name!r}"))
        seen.add(dest.name)
        found, compiled = check_destination(i, dest, valid_settings[i], source_names)
        problems.extend(p for p in found if p.path not in unset)
        # The raw settings may hold secrets in plain text: the resolved destination keeps only the validated ones.
        destinations.append(
            DestinationConfig(dest.model_copy(update={"settings_input": {}}), valid_settings[i], compiled)
        )
    config = Config(spec.model_copy(update={"destinations": [d.spec for d in destinations]}), destinations, file)
    problems.extend(device_conflicts(config))
    return config


def load_config(path: str | Path, env: dict[str, str] | None = None, *, secrets_optional: bool = False) -> Config:
    """Read and validate a configuration file (see `parse_config`, also for `secrets_optional`); warn when every
    user may read it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [ConfigProblem((), f"cannot read the file: {exc.strerror or exc}")]) from None
    config = parse_config(text, path, env, secrets_optional=secrets_optional)
    warn_if_world_readable(path)
    return config


def warn_if_world_readable(path: Path) -> bool:
    """A configuration holds write keys and may hold Project API Keys: say so, naming the file, when any user of
    the machine can read it (a warning, not a refusal: keys taken from `${ENV}` may make it harmless)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if not mode & stat.S_IROTH:
        return False
    log.warning(
        "%s is readable by every user of this machine (mode %s) and may hold secrets (write keys, Project API Keys): "
        "chmod 600 %s",
        path,
        oct(stat.S_IMODE(mode))[2:],
        path,
    )
    return True
