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
from dotenv import dotenv_values
from pydantic import ValidationError

from .checks import (
    check_destination,
    device_conflicts,
    literal_secrets,
    raw_engine_problems,
    settings_problems,
    structure_problems,
    webhook_problems,
    write_key_clashes,
)
from .errors import ConfigError, ConfigProblem, Path_, format_path
from .model import MAKE_TOKEN, SQLITE_PREFIX, ConfigSpec
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
            reason = f"environment variable {name} is not set"
            if path == ("admin", "token"):
                reason += f" (the console's password: {MAKE_TOKEN}, or let `actions-1flow init` make one)"
            problems.append(ConfigProblem(path, reason))
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


_YAML_FIXES = (
    (
        "mapping values are not allowed here",
        "this line is indented further than the key above it (or a value holds "
        "': ', which needs quotes): line it up with the keys beside it",
    ),
    (
        "expected <block end>",
        "this line is indented less than the lines above it and lines up with none of them: "
        "indent it exactly as far as the keys beside it",
    ),
    ("found character '\\t'", "YAML indents with spaces, not tabs"),
    ("could not find expected ':'", "a key needs a colon and a space after it (key: value)"),
)
"""What PyYAML's most common complaints mean in a configuration, and what to do."""


def _yaml_problem(exc: yaml.YAMLError, text: str) -> ConfigProblem:
    """Invalid YAML, shown at its line with a caret under the column and, when PyYAML's words are a known
    complaint, what to change instead of them."""
    problem = str(getattr(exc, "problem", None) or exc)
    mark = getattr(exc, "problem_mark", None)
    fix = next((fix for known, fix in _YAML_FIXES if problem.startswith(known)), problem)
    if mark is None:
        return ConfigProblem((), f"invalid YAML: {fix}")
    lines = text.splitlines()
    shown = lines[mark.line].replace("\t", " ") if mark.line < len(lines) else ""
    return ConfigProblem(
        (), f"invalid YAML (column {mark.column + 1}): {fix}\n{shown}\n{' ' * mark.column}^", mark.line + 1
    )


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
        raise ConfigError(file, [_yaml_problem(exc, text)]) from None
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
    unset = {p.path for p in problems}  # an unset variable already explains an empty value there
    try:
        spec = ConfigSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(p for p in structure_problems(exc) if p.path not in unset)
    problems.extend(settings_found)
    if spec is None or settings_found:
        problems.extend(raw_engine_problems(data))
        return None
    source_names = {s.name for s in spec.sources}
    seen: set[str] = set()
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
    update = {"destinations": [d.spec for d in destinations], "storage": storage_beside(spec.storage, file)}
    config = Config(spec.model_copy(update=update), destinations, file)
    problems.extend(device_conflicts(config))
    return config


def storage_beside(storage: str, file: Path) -> str:
    """`storage` with a relative SQLite path made absolute against the configuration file's directory, so the
    store is the same whichever directory a command runs in (`sqlite:///var/x.db` next to the file,
    `sqlite:////srv/x.db` absolute); PostgreSQL URLs as they are."""
    if not storage.startswith(SQLITE_PREFIX):
        return storage
    path = Path(storage[len(SQLITE_PREFIX) :])
    return storage if path.is_absolute() else SQLITE_PREFIX + str(file.absolute().parent / path)


ENV_FILE = ".env"
"""Read beside the configuration file for `${VAR}` values the environment lacks (Docker Compose's convention):
where `actions-1flow init` keeps the admin token and the Project API Key, out of the configuration."""


def load_config(path: str | Path, env: dict[str, str] | None = None, *, secrets_optional: bool = False) -> Config:
    """Read and validate a configuration file (see `parse_config`, also for `secrets_optional`). Without `env`,
    `${VAR}` reads the environment, then `.env` beside the file. Warns when any user of the machine may read a
    file that holds a secret."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [ConfigProblem((), f"cannot read the file: {exc.strerror or exc}")]) from None
    env_file = path.parent / ENV_FILE
    if env is None:
        env = {**_env_file_values(env_file), **os.environ}
    config = parse_config(text, path, env, secrets_optional=secrets_optional)
    written = literal_secrets(yaml.safe_load(text) or {})  # parse_config has read it: valid YAML, a mapping
    if written:
        plain = ", ".join(format_path(p) for p in written)
        warn_if_world_readable(
            path, f"holds {plain} in plain text", ", or take the secrets from the environment (${VAR})"
        )
    if env_file.is_file():
        warn_if_world_readable(env_file, "holds the secrets the configuration reads")
    return config


def _env_file_values(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return {k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None}


def warn_if_world_readable(path: Path, why: str, alternative: str = "") -> bool:
    """Say so, naming the file and why it matters, when any user of the machine can read a file holding secrets
    (a warning, not a refusal: the machine may have no other users)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if not mode & stat.S_IROTH:
        return False
    log.warning(
        "%s is readable by every user of this machine (mode %s) and %s: chmod 600 %s%s",
        path,
        oct(stat.S_IMODE(mode))[2:],
        why,
        path,
        alternative,
    )
    return True
