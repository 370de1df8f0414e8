"""What only the engines and the registry can judge, beyond each section's own model: each trigger parses (FQL, a
caret under the problem), each mapping validates (Segment's messages), each destination's settings pass its own
model and its own checks, names refer to what exists, and device-mode mappings avoid what the browser cannot run
(`@liquid`, nested `@transform`s whose `apply` fails Segment's run-time validation; see `mapping.nested`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, get_args

from pydantic import BaseModel, SecretStr, ValidationError

from .. import fql, mapping
from ..actions import CompiledSubscription, DestinationSettings
from ..destinations import REGISTRY
from ..ingest.webhooks import BATCH_KEY, WebhookMapping
from ..mapping.nested import invalid_transform_applies
from ..secrets import url_secrets
from ..suggest import did_you_mean
from .errors import ConfigProblem, Path_
from .model import ConfigSpec, DestinationSpec
from .resolved import Config

_PYDANTIC_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a known key here",
}


def structure_problems(error: ValidationError) -> list[ConfigProblem]:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        loc: Path_ = tuple(item["loc"])
        # A union (`presets` or a list) reports under its member names; show the key the user wrote.
        loc = tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("literal[") or p.startswith("list["))))
        problems.append(ConfigProblem(loc, _reason(item, _model_at(ConfigSpec, loc[:-1]))))
    unique: dict[tuple[Path_, str], ConfigProblem] = {}
    for p in problems:
        unique.setdefault((p.path, p.reason), p)
    return list(unique.values())


def _reason(item: Any, model: type[BaseModel] | None) -> str:
    """A pydantic error in the user's words; an unknown key gets the closest known one and the keys allowed."""
    reason = _PYDANTIC_REASONS.get(item["type"], item["msg"].removeprefix("Value error, "))
    if item["type"] == "extra_forbidden" and model is not None and item["loc"]:
        keys = [field.alias or name for name, field in model.model_fields.items()]
        hint = did_you_mean(str(item["loc"][-1]), keys)
        reason += f"; {hint}" if hint else ""
        reason += f" (the keys here: {', '.join(keys)})"
    return reason


def _model_at(model: type[BaseModel], loc: Path_) -> type[BaseModel] | None:
    """The section model at a key path of `model` (list indexes skipped), None when the path leaves the models."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        found = _model_in(field.annotation) if field is not None else None
        if found is None:
            return None
        model = found
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds (`X`, `X | None`, `list[X]`, `Literal[…] | list[X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for m in map(_model_in, get_args(annotation)) if m is not None), None)


def _liquid_paths(value: Any, path: Path_) -> Iterator[Path_]:
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "@liquid":
                yield (*path, key)
            yield from _liquid_paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _liquid_paths(child, (*path, i))


def _nested_apply_problems(where: Path_, mapping_: dict[str, Any]) -> list[ConfigProblem]:
    """Device mode: `@transform.apply` objects Segment would reject at run time (the plugin does not validate)."""
    return [
        ConfigProblem(
            (*where, *path),
            f"{message} (Segment validates a @transform's apply each time it runs, so every event reaching it "
            "would fail; the browser plugin cannot reproduce that)",
        )
        for path, messages in invalid_transform_applies(mapping_)
        for message in messages
    ]


def _engine_problems(where: Path_, subscribe: Any, mapping_: Any, mode: Any) -> list[ConfigProblem]:
    """What the engines say about one subscription's trigger and mapping (and @liquid in device mode)."""
    problems: list[ConfigProblem] = []
    if isinstance(subscribe, str):
        try:
            fql.parse(subscribe)
        except fql.FQLSyntaxError as exc:
            problems.append(ConfigProblem((*where, "subscribe"), f"invalid FQL: {exc}"))
    if isinstance(mapping_, dict):
        try:
            mapping.validate(mapping_)
        except mapping.MappingValidationError as exc:
            problems.extend(ConfigProblem((*where, "mapping"), message) for message in exc.explained())
        else:
            if mode == "device":
                problems.extend(_nested_apply_problems((*where, "mapping"), mapping_))
        if mode == "device":
            problems.extend(
                ConfigProblem(
                    liquid,
                    "@liquid is not available in device mode: Segment's browser runtime does not run it; "
                    "use @template, or mode: cloud",
                )
                for liquid in _liquid_paths(mapping_, (*where, "mapping"))
            )
    return problems


def raw_engine_problems(data: dict[str, Any]) -> list[ConfigProblem]:
    """Trigger and mapping problems of a configuration whose structure is invalid, so they are reported too."""
    problems: list[ConfigProblem] = []
    destinations = data.get("destinations")
    for i, dest in enumerate(destinations if isinstance(destinations, list) else []):
        subscriptions = dest.get("subscriptions") if isinstance(dest, dict) else None
        for j, sub in enumerate(subscriptions if isinstance(subscriptions, list) else []):
            if isinstance(sub, dict):
                where: Path_ = ("destinations", i, "subscriptions", j)
                problems.extend(
                    _engine_problems(where, sub.get("subscribe"), sub.get("mapping"), dest.get("mode", "device"))
                )
    return problems


def settings_problems(data: dict[str, Any]) -> tuple[list[ConfigProblem], dict[int, DestinationSettings]]:
    """Each destination's settings validated by its own model (from the raw data, so they are reported even when
    the structure elsewhere is invalid), and the settings that passed, by destination index."""
    problems: list[ConfigProblem] = []
    valid: dict[int, DestinationSettings] = {}
    destinations = data.get("destinations")
    for i, dest in enumerate(destinations if isinstance(destinations, list) else []):
        if not isinstance(dest, dict) or not isinstance(dest.get("settings"), dict):
            continue  # the structure check reports it
        kind = dest.get("type", REGISTRY.default.type)
        if kind not in REGISTRY:
            continue
        model = REGISTRY.get(kind).settings_model
        try:
            valid[i] = model.model_validate(dest["settings"])
        except ValidationError as exc:
            problems.extend(
                _setting_problem(model, ("destinations", i, "settings"), item)
                for item in exc.errors(include_input=False, include_url=False)
            )
    return problems, valid


def _setting_problem(model: type[DestinationSettings], base: Path_, item: Any) -> ConfigProblem:
    loc: Path_ = (*base, *item["loc"])
    key = item["loc"][0] if item["loc"] else None
    if item["type"] == "missing" and isinstance(key, str) and key in model.model_fields:
        info = model.info(key)
        reason = f"{key} is missing: the {model.vendor} {info['label']} is required"
        if info["example"]:
            reason += f" (e.g. {key}: {info['example']})"
        return ConfigProblem(loc, reason)
    return ConfigProblem(loc, _reason(item, model if len(item["loc"]) == 1 else None))


def check_destination(
    index: int, dest: DestinationSpec, settings: DestinationSettings, source_names: set[str]
) -> tuple[list[ConfigProblem], list[CompiledSubscription]]:
    """One destination's problems, and its subscriptions compiled (those without problems)."""
    base: Path_ = ("destinations", index)
    definition = REGISTRY.get(dest.type)
    vendor = definition.vendor
    problems: list[ConfigProblem] = []
    if dest.mode not in definition.modes:
        problems.append(
            ConfigProblem((*base, "mode"), f"{vendor} has no {dest.mode} mode (it has {', '.join(definition.modes)})")
        )
    model = definition.settings_model
    for key, f in model.fields().items():
        value = getattr(settings, key)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if f.required and isinstance(text, str) and not text.strip():
            problems.append(
                ConfigProblem(
                    (*base, "settings", key), f"{key} is empty: the {vendor} {model.info(key)['label']} is required"
                )
            )
    problems.extend(ConfigProblem((*base, "settings", key), reason) for key, reason in settings.problems(dest.mode))
    for j, name in enumerate(dest.sources):
        if name not in source_names:
            problems.append(
                ConfigProblem(
                    (*base, "sources", j),
                    f"unknown source {name!r} (sources: {', '.join(sorted(source_names)) or 'none'})",
                )
            )
    actions = definition.actions
    compiled: list[CompiledSubscription] = []
    names: set[str] = set()
    for j, spec in enumerate(dest.subscription_specs(definition)):
        where: Path_ = (*base, "subscriptions", j) if dest.subscriptions != "presets" else (*base, "subscriptions")
        found = _engine_problems(where, spec.subscribe, dict(spec.mapping), dest.mode)
        if spec.name in names:  # the delivery log and retries know a subscription by its name
            found.insert(
                0, ConfigProblem((*where, "name"), f"duplicate subscription name {spec.name!r} in this destination")
            )
        names.add(spec.name)
        if spec.partner_action not in actions:
            found.insert(
                0,
                ConfigProblem(
                    (*where, "partnerAction"),
                    f"unknown partnerAction {spec.partner_action!r}; {vendor} has {', '.join(actions)}",
                ),
            )
        if found:
            problems.extend(found)
        else:
            compiled.append(CompiledSubscription(spec, definition.origin if dest.mode == "cloud" else None))
    return problems, compiled


def webhook_problems(config: ConfigSpec) -> list[ConfigProblem]:
    """Each webhook source's mapping validated as destination mappings are (Segment's messages), and able to make an
    event: a `type` for each event (one event, or each item of `batch`)."""
    problems: list[ConfigProblem] = []
    for i, source in enumerate(config.sources):
        if source.webhook is None or source.webhook.mapping is None:
            continue  # a preset's mapping is the destination's, tested with it
        where: Path_ = ("sources", i, "webhook", "mapping")
        try:
            made = WebhookMapping(source.webhook.mapping).item
        except mapping.MappingValidationError as exc:
            problems.extend(ConfigProblem(where, message) for message in exc.messages)
            continue
        if "type" not in made:
            at = (*where, BATCH_KEY) if BATCH_KEY in source.webhook.mapping else where
            problems.append(
                ConfigProblem(
                    at, "a webhook mapping must say which event it makes: add type (track, identify, page, …)"
                )
            )
    return problems


def write_key_clashes(config: ConfigSpec) -> list[ConfigProblem]:
    """A write key names one source: the same key twice (in one source or two) would send events to a guess."""
    problems: list[ConfigProblem] = []
    owner: dict[str, str] = {}
    for i, source in enumerate(config.sources):
        for j, key in enumerate(source.accepted_write_keys()):
            where: Path_ = ("sources", i, "write_key") if j == 0 else ("sources", i, "previous_write_keys", j - 1)
            if key in owner:
                problems.append(ConfigProblem(where, f"this write key is already a key of source {owner[key]!r}"))
            else:
                owner[key] = source.name
    return problems


def device_conflicts(config: Config) -> list[ConfigProblem]:
    """A page runs one SDK per vendor (1Flow: one `window._1flow`, one `data-api-key`): device-mode destinations
    of one type sharing a source must agree on what their plugin's `page_key` names (the project and the SDK)."""
    problems: list[ConfigProblem] = []
    first: dict[tuple[str, str], tuple[Any, Any]] = {}
    for i, dest in enumerate(config.destinations):
        device = dest.definition.device
        if dest.mode != "device" or device is None or device.page_key is None:
            continue
        key = device.page_key(dest.settings)
        if key is None:
            continue  # unresolvable settings, already reported
        vendor = dest.definition.vendor
        for source in config.sources_of(dest):
            seen = first.setdefault((source, dest.type), (dest, key))
            if seen[1] != key:
                problems.append(
                    ConfigProblem(
                        ("destinations", i),
                        f"source {source!r} already loads {vendor} through device-mode destination "
                        f"{seen[0].name!r} with {device.page_conflict or 'other settings'}; "
                        f"a page can run only one {vendor} SDK",
                    )
                )
    return problems


_REFERENCE = re.compile(r"\$\{[^}]*\}")


def literal_secrets(raw: dict[str, Any]) -> list[Path_]:
    """Where the file as written holds a secret itself rather than a `${VAR}` reference: the admin token, each
    destination's secret settings (1Flow: projectApiKey), a password in the storage URL. Write keys are not
    counted: every page that loads analytics.js shows its source's, and they only let events in."""

    def literal(value: Any) -> bool:
        return isinstance(value, str) and bool(_REFERENCE.sub("", value).strip())

    found: list[Path_] = []
    admin = raw.get("admin")
    if isinstance(admin, dict) and literal(admin.get("token")):
        found.append(("admin", "token"))
    storage = raw.get("storage")
    if isinstance(storage, str) and any(map(literal, url_secrets(storage))):
        found.append(("storage",))
    destinations = raw.get("destinations")
    for i, dest in enumerate(destinations if isinstance(destinations, list) else []):
        if not isinstance(dest, dict) or not isinstance(dest.get("settings"), dict):
            continue
        settings, kind = dest["settings"], dest.get("type", REGISTRY.default.type)
        if not isinstance(kind, str) or kind not in REGISTRY:
            continue
        found.extend(
            ("destinations", i, "settings", key)
            for key in REGISTRY.get(kind).secret_settings
            if literal(settings.get(key))
        )
    return found
