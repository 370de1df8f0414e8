"""Destination-kit helpers: our `Field`s as the field definitions Segment's actions-core takes (for the oracle)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions_1flow.actions import UNSET, Field


def segment_field(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"label": f.label, "type": f.type}
    if f.description:
        out["description"] = f.description
    for attr, key in (
        ("required", "required"),
        ("multiple", "multiple"),
        ("allow_null", "allowNull"),
        ("additional_properties", "additionalProperties"),
    ):
        if getattr(f, attr):
            out[key] = True
    if f.default is not UNSET:
        out["default"] = f.default
    if f.choices is not None:
        out["choices"] = [c if isinstance(c, str) else {"value": c.value, "label": c.label} for c in f.choices]
    if f.properties is not None:
        out["properties"] = segment_fields(f.properties)
    for attr in ("minimum", "maximum"):
        if getattr(f, attr) is not None:
            out[attr] = getattr(f, attr)
    return out


def segment_fields(fields: Mapping[str, Field]) -> dict[str, Any]:
    return {key: segment_field(f) for key, f in fields.items()}
