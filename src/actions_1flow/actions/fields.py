"""Field definitions (Segment's InputField/GlobalSetting) and their JSON Schema, as `fieldsToJsonSchema` builds it.

The schema is the contract for payload validation (`payload.py`) and is shown by `actions-1flow definition`; it is
built key for key like Segment's, quirks included (a falsy `minimum` is dropped, `allowNull` is lost on `multiple`
fields except in `enum`, nested objects replace their type with the sub-schema's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FieldType = Literal["string", "text", "number", "integer", "boolean", "datetime", "object", "password"]
FIELD_TYPES: tuple[str, ...] = ("string", "text", "number", "integer", "boolean", "datetime", "object", "password")
SCHEMA_DIALECT = "http://json-schema.org/schema#"


class _Unset:
    """Marks a field without a default (distinct from a `None`/null default, which is kept)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Choice:
    value: Any
    label: str


@dataclass(frozen=True)
class Field:
    """One input of an action (or one destination setting): its type, constraints and default mapping."""

    label: str
    description: str = ""
    type: FieldType = "string"
    required: bool = False
    multiple: bool = False
    allow_null: bool = False
    default: Any = UNSET
    """A raw value or a mapping directive (`{"@path": "$.event"}`); pre-fills presets, never applied at runtime."""
    choices: tuple[str | Choice, ...] | None = None
    properties: Mapping[str, Field] | None = None
    """Sub-fields of an `object` field."""
    additional_properties: bool = False
    """With `properties`: keep keys not listed (otherwise they are silently removed)."""
    minimum: float | None = None
    maximum: float | None = None
    default_object_ui: str | None = None
    placeholder: str | None = None
    format: str | None = None
    """A JSON Schema `format` for the value (`uri`, `email`, …); types datetime, password and text set their own."""
    advanced: bool = False
    """Ours: an expert override, hidden from the basic settings."""
    hidden: bool = False
    """Segment's `unsafe_hidden`: filled by its default, not shown for editing (listed as `hidden: true`)."""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type!r}; expected one of {', '.join(FIELD_TYPES)}")
        if self.properties is not None and self.type != "object":
            raise ValueError("only object fields have properties")

    @property
    def secret(self) -> bool:
        return self.type == "password"

    def choice_values(self) -> list[Any] | None:
        if self.choices is None:
            return None
        return [c if isinstance(c, str) else c.value for c in self.choices]


def default_values(fields: Mapping[str, Field]) -> dict[str, Any]:
    """`{key: default}` for every field that has one (a null default included), in field order."""
    return {key: f.default for key, f in fields.items() if f.default is not UNSET}


def _json_type(kind: str) -> str | list[str]:
    if kind in ("string", "text", "password"):
        return "string"
    if kind == "datetime":
        return ["string", "number"]
    return kind


def field_schema(f: Field) -> dict[str, Any]:
    """The JSON Schema of one field (Segment's per-field rules of `fieldsToJsonSchema`)."""
    base_type = _json_type(f.type)
    schema: dict[str, Any] = {"title": f.label}
    if f.description:
        schema["description"] = f.description
    schema["type"] = base_type
    if f.format:
        schema["format"] = f.format
    if f.default is not UNSET:
        schema["default"] = f.default
    if f.type == "datetime":
        schema["format"] = "date-like"
    elif f.type == "password":
        schema["format"] = "password"
    elif f.type == "text":
        schema["format"] = "text"
    elif f.type == "string":
        if f.minimum:
            schema["minLength"] = f.minimum
        if f.maximum:
            schema["maxLength"] = f.maximum
    elif f.type == "number":
        if f.minimum:
            schema["minimum"] = f.minimum
        if f.maximum:
            schema["maximum"] = f.maximum
    values = f.choice_values()
    if values is not None:
        schema["enum"] = values
    if f.allow_null:
        schema["type"] = [*(base_type if isinstance(base_type, list) else [base_type]), "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    if f.multiple:
        schema["items"] = {"type": base_type}
        schema["type"] = "array"
        if "enum" in schema:
            schema["items"]["enum"] = schema.pop("enum")
    if base_type == "object" and f.properties:
        nested = fields_to_schema(f.properties, additional_properties=f.additional_properties)
        if f.multiple:
            schema["items"] = nested
        else:
            schema.update(nested)
    return schema


def fields_to_schema(fields: Mapping[str, Field], *, additional_properties: bool = False) -> dict[str, Any]:
    """The JSON Schema of an action's payload (or of a destination's settings)."""
    return {
        "$schema": SCHEMA_DIALECT,
        "type": "object",
        "additionalProperties": additional_properties,
        "properties": {key: field_schema(f) for key, f in fields.items()},
        "required": [key for key, f in fields.items() if f.required],
    }


def field_metadata(f: Field) -> dict[str, Any]:
    """The field as Segment's `metadata.json` lists action fields (every key present, null when unset)."""
    return {
        "label": f.label,
        "description": f.description,
        "type": f.type,
        "required": f.required,
        "multiple": f.multiple,
        "allowNull": f.allow_null,
        "dynamic": False,
        "default": None if f.default is UNSET else f.default,
        "choices": _choices_metadata(f.choices),
        "placeholder": f.placeholder,
        "properties": None if f.properties is None else {k: field_metadata(p) for k, p in f.properties.items()},
        "category": None,
        "depends_on": None,
        "readOnly": None,
        "hidden": True if f.hidden else None,
        "minimum": f.minimum,
        "maximum": f.maximum,
        "defaultObjectUI": f.default_object_ui,
        "disabledInputMethods": None,
        "displayMode": None,
        "format": f.format,
        "additionalProperties": f.additional_properties,
    }


def setting_metadata(f: Field) -> dict[str, Any]:
    """The field as Segment's `metadata.json` lists settings under `authentication.fields`."""
    return {
        "label": f.label,
        "description": f.description,
        "type": f.type,
        "required": f.required,
        "multiple": f.multiple,
        "choices": _choices_metadata(f.choices),
        "default": None if f.default is UNSET else f.default,
        "depends_on": None,
    }


def _choices_metadata(choices: tuple[str | Choice, ...] | None) -> list[dict[str, Any]] | None:
    """Choices as Segment's metadata lists them: `{label, value}` objects (a plain value is its own label), null
    when there are none."""
    if not choices:
        return None
    return [{"label": c, "value": c} if isinstance(c, str) else {"label": c.label, "value": c.value} for c in choices]
