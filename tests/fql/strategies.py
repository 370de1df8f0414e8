"""Hypothesis strategies: ASTs in the well-formed FQL language, events built to hit (and nearly hit) them, and
edited FQL text.

Values stay JSON-safe (no NaN/Infinity, no unpaired surrogates) because every example also goes to node.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from actions_1flow.fql.paths import OBJECT_PROTOTYPE_NAMES

TOP_FIELDS = ("event-type", "event", "name", "userId")
NESTED_FIELDS = ("event-property", "event-trait", "event-context")
EVENT_KEY = {"event-type": "type", "event": "event", "name": "name", "userId": "userId",
             "event-property": "properties", "event-trait": "traits", "event-context": "context"}  # fmt: skip

# Text without unpaired surrogates (they cannot travel to node as UTF-8).
bmp_text_char = st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",))
any_text_char = st.characters(blacklist_categories=("Cs",))

SAMPLE_WORDS = ["track", "page", "Order Completed", "Sign", "pro", "5", "0", "-3", "99.5", "true", "false",
                "null", "", " ", "x@y.z", "é", "日本", "😀", "a\\b", "tab\there", "new\nline", "*"]  # fmt: skip


@st.composite
def text_values(draw: st.DrawFn, *, star: bool = True) -> str:
    """Strings FQL can quote: no '"', not ending in a backslash; `star=False` also keeps '*' out (match() values)."""
    value = draw(st.one_of(st.sampled_from(SAMPLE_WORDS), st.text(any_text_char, max_size=12)))
    value = value.replace('"', "'")
    if not star:
        value = value.replace("*", "+")
    if value.endswith("\\"):
        value += "x"
    return value


numbers = st.one_of(
    st.sampled_from([0, 1, -3, 5, 10, 99.5, 100, 2**53, 2**53 + 2, 123456789012345678]),
    st.integers(-(10**6), 10**6),
    st.builds(  # any magnitude JS writes without an exponent
        lambda magnitude, negative: -magnitude if negative else magnitude,
        st.floats(min_value=1e-6, max_value=1e21, exclude_max=True),
        st.booleans(),
    ),
)


NAME_POOL = ["total", "plan", "tags", "nested", "level", "deep", "x", "my key", "email", "flag", "length",
             "page", "path", "app", "version", "a[0]", "é", "_x", "count", "name", "type", "and",
             "null", "true"]  # fmt: skip


@st.composite
def name_segments(draw: st.DrawFn) -> str:
    segment = draw(st.one_of(st.sampled_from(NAME_POOL), st.text(bmp_text_char, min_size=1, max_size=6)))
    segment = segment.replace(".", "_")
    if segment[0].isdigit() or segment[0] == "-":
        segment = "_" + segment
    if segment in OBJECT_PROTOTYPE_NAMES or not segment.strip("[]"):
        segment = "v" + segment
    return segment


def _join_name(segments: list[str]) -> str:
    if segments[-1] in ("and", "or", "null"):  # a final keyword segment is a token of its own (rejected)
        segments[-1] += "_"
    return ".".join(segments)


field_names = st.lists(name_segments(), min_size=1, max_size=3).map(_join_name)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    """A condition node as Segment's parser builds it for well-formed text."""
    field_type = draw(st.sampled_from(TOP_FIELDS + NESTED_FIELDS))
    node: dict[str, Any] = {"type": field_type}
    if field_type in NESTED_FIELDS:
        node["name"] = draw(field_names)
    functions = ["contains", "not_contains", "starts_with", "not_starts_with", "ends_with", "not_ends_with"]
    ordering = ["<", "<=", ">", ">="]
    if field_type == "event-type":
        operators = ["=", "!="] + ordering
    elif field_type == "event":
        operators = ["=", "!="] + ordering + functions
    elif field_type == "name":
        operators = ["=", "!=", "exists", "not_exists"] + ordering + functions
    elif field_type == "userId":
        operators = ["=", "!=", "exists", "not_exists", "is_true", "is_false"] + ordering + functions
    else:
        operators = ["=", "!=", "exists", "not_exists", "is_true", "is_false", "number_equals",
                     "number_not_equals"] + ordering + functions  # fmt: skip
    operator = draw(st.sampled_from(operators))
    node["operator"] = operator
    if operator in ("=", "!="):
        node["value"] = draw(text_values())
    elif operator in ordering or operator.startswith("number_"):
        node["value"] = draw(numbers)
    elif operator in functions:
        node["value"] = draw(text_values(star=operator.endswith("contains")))
    return node


@st.composite
def asts(draw: st.DrawFn) -> dict[str, Any]:
    """A root group of conditions and (one level of) groups, in the well-formed language."""
    inner = st.builds(
        lambda op, children: {"type": "group", "operator": op, "children": children},
        st.sampled_from(["and", "or"]),
        st.lists(conditions(), min_size=1, max_size=4),
    )
    children = draw(st.lists(st.one_of(conditions(), conditions(), inner), min_size=1, max_size=5))
    return {"type": "group", "operator": draw(st.sampled_from(["and", "or"])), "children": children}


# -------------------------------------------------------------------------------------------------- events

awkward_values = st.one_of(
    st.sampled_from(
        [
            None,
            0,
            0.0,
            -0.0,
            "",
            False,
            True,
            "0",
            "5",
            "true",
            "false",
            "null",
            [],
            {},
            ["x"],
            "x",
            5,
            -3,
            99.5,
            2**53 + 1,
            10**21,
            "日本",
            "😀",
            [1, "a"],
            {"a": 1},
        ]
    ),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(any_text_char, max_size=8),
)


def _set_path(root: dict[str, Any], path: list[str], value: Any) -> None:
    current = root
    for key in path[:-1]:
        nxt = current.get(key)
        if not isinstance(nxt, dict):
            nxt = current[key] = {}
        current = nxt
    current[path[-1]] = value


def _leaf_values(node: dict[str, Any]) -> list[Any]:
    """Values that make `node` true or nearly true: its own value, its string form, neighbours."""
    value = node.get("value")
    out: list[Any] = [value, str(value), True, False, None]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out += [value + 1, value - 1, value * 1.0]
    if isinstance(value, str):
        out += [value + "x", "x" + value, value.upper(), [value]]
    return out


def _conditions_of(ast: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for child in ast["children"]:
        out.extend(_conditions_of(child) if child.get("type") == "group" else [child])
    return out


@st.composite
def events_for(draw: st.DrawFn, ast: dict[str, Any]) -> Any:
    """An event aimed at the AST's fields: each one missing, matching, near-matching, or awkward on the way."""
    if draw(st.integers(0, 30)) == 0:  # now and then not an object at all (null excepted: Segment throws on it)
        return draw(st.sampled_from(["", "track", 0, 5, True, False, [], [{"type": "track"}]]))
    event: dict[str, Any] = {}
    for node in _conditions_of(ast):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue
        key = EVENT_KEY[node["type"]]
        path = [key] + (node["name"].replace("[", ".").replace("]", ".").split(".") if "name" in node else [])
        path = [p for p in path if p]
        # A copy: sampled values are shared objects, and _set_path may write into a dict placed earlier.
        value = copy.deepcopy(draw(st.sampled_from(_leaf_values(node)) if choice < 7 else awkward_values))
        if choice == 9 and len(path) > 1:  # an awkward value part-way down the path
            path = path[: draw(st.integers(1, len(path) - 1))]
        _set_path(event, path, value)
    return event


# ---------------------------------------------------------------------------------------------- token soup

SOUP = ["type", "event", "name", "userId", "properties.total", "traits.plan", "context.page.path",
        "properties.my\\ key", "properties.a.b", "Type", "foo", "AND", "and", "or", "null", "true", "false",
        "contains", "match", "!", "=", "!=", "<", "<=", ">", ">=", "==", "(", ")", ",", '"track"', '"Order*"',
        '"*ed"', '"a\\"', "'x'", "5", "-3", "99.5", "1e5", "-", ".", "[", "]", "track", "\\", "*", "$"]  # fmt: skip


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """`text` with a few edits anywhere: tokens inserted, characters deleted, spaces removed or added."""
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(text)))
        edit = draw(st.integers(0, 3))
        if edit == 0:
            text = text[:position] + draw(st.sampled_from(SOUP)) + text[position:]
        elif edit == 1:
            text = text[:position] + text[position + draw(st.integers(1, 3)) :]
        elif edit == 2:
            text = text[:position] + text[position:].replace(" ", "", 1)
        else:
            text = text[:position] + draw(st.sampled_from([" ", "\t", "\n", "  "])) + text[position:]
    return text
