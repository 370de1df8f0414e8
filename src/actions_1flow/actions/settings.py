"""A destination's settings, declared once as a pydantic model: the configuration validates with it, the
definition (`definition --json`, Segment's `authentication.fields`) and the console describe it from it.

Declare each setting with `setting(...)`; a `SecretStr` setting is a secret (type `password`: masked in every
output, its value kept out of logs). `problems(mode)` is where a destination checks what one field cannot judge
alone (a region without an endpoint, say); the configuration reports those under the setting's key.
"""

from __future__ import annotations

import types
import typing
from typing import Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic import Field as _PydanticField
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ..secrets import mask_secret
from .fields import UNSET, Choice, Field

Mode = Literal["device", "cloud"]


def setting(
    label: str,
    description: str,
    *,
    default: Any = PydanticUndefined,
    example: str | None = None,
    advanced: bool = False,
    addition: bool = False,
    choices: tuple[Choice, ...] | None = None,
    **constraints: Any,
) -> Any:
    """One setting: its label and description (shown in the definition), an `example` for the message when it is
    missing, `advanced` (an expert override), `addition` (ours, not in Segment's definition of the destination),
    labelled `choices` for a `Literal` type, and pydantic's constraints (`gt`, `le`, …)."""
    extra = {"label": label, "example": example, "advanced": advanced, "addition": addition, "choices": choices}
    schema_extra = cast(dict[str, Any], {"x-setting": extra})
    return _PydanticField(default, description=description, json_schema_extra=schema_extra, **constraints)


class DestinationSettings(BaseModel):
    """Base of every destination's settings model: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    vendor: ClassVar[str] = "the destination"
    """Who the settings are for, in messages (`the 1Flow Project API Key is required`)."""

    @classmethod
    def fields(cls) -> dict[str, Field]:
        """The settings as kit fields (what the definition lists), in declaration order."""
        return {key: _field(key, info) for key, info in cls.model_fields.items()}

    @classmethod
    def info(cls, key: str) -> dict[str, Any]:
        """`label`, `example`, `advanced`, `addition` and `choices` of one setting."""
        return _extra(key, cls.model_fields[key])

    @classmethod
    def secret_keys(cls) -> list[str]:
        return [key for key, f in cls.fields().items() if f.secret]

    def secrets(self) -> list[SecretStr]:
        """Every secret value, to redact wherever event data or reports are shown."""
        return [value for key in self.secret_keys() if isinstance(value := getattr(self, key), SecretStr)]

    def values(self) -> dict[str, Any]:
        """The settings as actions receive them (secrets stay `SecretStr`; unset ones are None)."""
        return self.model_dump()

    def masked(self) -> dict[str, Any]:
        """The settings as shown to people: set ones only, secrets masked."""
        shown = self.model_dump(exclude_none=True)
        for key in self.secret_keys():
            if key in shown:
                shown[key] = mask_secret(getattr(self, key))
        return shown

    def problems(self, mode: Mode) -> list[tuple[str, str]]:
        """(setting key, reason) for what the fields cannot judge alone, for a destination run in `mode`."""
        return []


def _extra(key: str, info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    found = extra.get("x-setting") if isinstance(extra, dict) else None
    if isinstance(found, dict):
        return dict(found)
    return {"label": key, "example": None, "advanced": False, "addition": False, "choices": None}


def _field(key: str, info: FieldInfo) -> Field:
    extra = _extra(key, info)
    kind, literal = _kind(info.annotation)
    choices = extra.get("choices") or (tuple(literal) if literal else None)
    default = UNSET if info.default is PydanticUndefined or info.default is None else info.default
    minimum = maximum = None
    for constraint in info.metadata:
        for name in ("gt", "ge"):
            if getattr(constraint, name, None) is not None:
                minimum = getattr(constraint, name)
        for name in ("lt", "le"):
            if getattr(constraint, name, None) is not None:
                maximum = getattr(constraint, name)
    return Field(
        label=extra.get("label") or key,
        description=info.description or "",
        type=kind,
        required=info.is_required(),
        default=default,
        choices=choices,
        minimum=minimum,
        maximum=maximum,
        advanced=bool(extra.get("advanced")),
        placeholder=extra.get("example"),
    )


def _kind(annotation: Any) -> tuple[Any, list[Any] | None]:
    """The kit field type of an annotation (`X | None` as X), and a Literal's values."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is Literal:
        values = list(typing.get_args(annotation))
        return ("string" if all(isinstance(v, str) for v in values) else "number"), values
    if annotation is SecretStr:
        return "password", None
    if annotation is bool:
        return "boolean", None
    if annotation is int:
        return "integer", None
    if annotation is float:
        return "number", None
    return "string", None
