"""`definition --json` of the Webhook and Segment destinations against Segment's generated metadata.json at a named
commit: actions, fields (every attribute but the description, in Segment's order), settings and presets; ours
named under `additions`.

The facts (tests/fixtures/segment-definitions/) were written from `METADATA` at `COMMIT` of `REPOSITORY`, read with
the action definitions beside them (`SOURCES`); field attributes at the generator's null/false are left out there
and filled back here, and each field shared by several of Segment's actions is written once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import invoke
from tests.oneflow.segment_metadata import GENERATOR_DEFAULTS, without_descriptions

REPOSITORY = "segmentio/action-destinations"
COMMIT = "970a17ee8d064501db7ae555f4d90f17befadfc0"
METADATA = "packages/destination-actions/src/destinations/{name}/metadata.json"
SOURCES = {
    "webhook": ("index.ts", "send/index.ts"),
    "segment": (
        "index.ts",
        "properties.ts",
        "segment-properties.ts",
        "sendTrack/index.ts",
        "sendIdentify/index.ts",
        "sendGroup/index.ts",
        "sendPage/index.ts",
        "sendScreen/index.ts",
    ),
}
FACTS = Path(__file__).resolve().parents[1] / "fixtures" / "segment-definitions"
OURS = {
    "webhook": {"settings": ["refusePrivateUrls"], "actions": [], "presets": []},
    "segment": {
        "settings": ["region", "apiBaseUrl"],
        "actions": ["forwardEvent"],
        "presets": [f"Forward {t}" for t in ("Track", "Identify", "Page", "Screen", "Group", "Alias")],
    },
}


def expand(field: dict[str, Any]) -> dict[str, Any]:
    """A field as metadata.json writes it, from the facts (label and type, then only what differs)."""
    full = {"label": field["label"], "type": field["type"], **GENERATOR_DEFAULTS}
    full.update({k: v for k, v in field.items() if k not in ("label", "type", "properties")})
    if field.get("properties"):
        full["properties"] = {k: expand(p) for k, p in field["properties"].items()}
    order = ["label", "type", *GENERATOR_DEFAULTS]
    return {k: full[k] for k in order}


def segments(name: str) -> dict[str, Any]:
    facts = json.loads((FACTS / f"{name}.json").read_text(encoding="utf-8"))
    actions = {}
    for slug, action in facts["actions"].items():
        differing = action.get("fieldsDiffering", {})
        fields = {key: expand(differing.get(key, facts["fields"][key])) for key in action["fields"]}
        actions[slug] = {k: v for k, v in action.items() if k not in ("fields", "fieldsDiffering")} | {"fields": fields}
    return {**facts, "actions": actions}


def in_metadata_order(field: dict[str, Any]) -> dict[str, Any]:
    """Our field metadata in the facts' key order (label, type, then the rest as the generator writes them)."""
    out = {k: field[k] for k in ["label", "type", *GENERATOR_DEFAULTS]}
    if out["properties"]:
        out["properties"] = {k: in_metadata_order(p) for k, p in out["properties"].items()}
    return out


@pytest.fixture(scope="module", params=["webhook", "segment"])
def pair(request) -> tuple[str, dict[str, Any], dict[str, Any]]:
    result = invoke("definition", request.param, "--json")
    assert result.exit_code == 0, result.stderr
    return request.param, json.loads(result.stdout), segments(request.param)


def test_the_commit_and_files_read_are_named():
    assert re.fullmatch(r"[0-9a-f]{40}", COMMIT) and REPOSITORY == "segmentio/action-destinations"
    assert all(SOURCES[name] for name in ("webhook", "segment"))


def test_identity_and_top_level_keys(pair):
    _, ours, theirs = pair
    assert list(ours) == [*theirs["top"], "additions"]
    assert {k: ours[k] for k in theirs["identity"]} == theirs["identity"]


def test_settings_as_segments_and_ours_named(pair):
    name, ours, theirs = pair
    fields = ours["authentication"]["fields"]
    added = ours["additions"]["settingsAdded"]
    assert added == OURS[name]["settings"]
    assert without_descriptions({k: f for k, f in fields.items() if k not in added}) == theirs["settings"]
    assert list(fields) == [*theirs["settings"], *added]


def test_actions_fields_types_required_defaults_in_order(pair):
    name, ours, theirs = pair
    assert list(ours["actions"]) == list(theirs["actions"])
    for slug, action in ours["actions"].items():
        expected = theirs["actions"][slug]
        assert list(action["fields"]) == list(expected["fields"]), slug
        for key, field in action["fields"].items():
            assert without_descriptions(in_metadata_order(field)) == expected["fields"][key], (slug, key)
        meta = {k: v for k, v in action.items() if k not in ("fields", "description")}
        assert meta == {k: v for k, v in expected.items() if k != "fields"}, slug
    assert list(ours["additions"].get("actionsAdded", {})) == OURS[name]["actions"]


def test_presets_as_segments_and_ours_named(pair):
    name, ours, theirs = pair
    assert ours["presets"] == theirs["presets"] == []
    added = ours["additions"].get("presetsAdded", [])
    assert [p["name"] for p in added] == OURS[name]["presets"]


def test_every_description_is_ours_and_present(pair):
    """Segment describes every setting, action and field; so do we, in our own words."""
    _, ours, _ = pair
    for key, setting in ours["authentication"]["fields"].items():
        assert setting["description"], key
    for slug, action in {**ours["actions"], **ours["additions"].get("actionsAdded", {})}.items():
        assert action["description"], slug
        for key, field in action["fields"].items():
            assert field["description"], (slug, key)


def test_segment_forward_presets_cover_every_type_unchanged():
    result = invoke("definition", "segment", "--json")
    presets = json.loads(result.stdout)["additions"]["presetsAdded"]
    assert {p["subscribe"] for p in presets} == {
        f'type = "{t}"' for t in ("track", "identify", "page", "screen", "group", "alias")
    }
    assert all(p["partnerAction"] == "forwardEvent" and p["mapping"] == {"event": {"@path": "$."}} for p in presets)
    assert all(p["type"] == "automatic" for p in presets)


@pytest.mark.parametrize("type_", ["webhook", "segment"])
def test_the_human_summary_names_what_is_ours(type_):
    result = invoke("definition", type_)
    assert result.exit_code == 0, result.stderr
    assert "none in Segment's definition" in result.stdout
    if type_ == "segment":
        assert "forwardEvent — Forward Event (ours)" in result.stdout and "Presets (automatic, ours):" in result.stdout
        assert "eu: API https://events.eu1.segmentapis.com/v1" in result.stdout
    else:
        assert "send — Send:" in result.stdout and "refusePrivateUrls" in result.stdout
