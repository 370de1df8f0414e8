"""Seeded generators of random-ish mappings, trigger ASTs and events for differential tests against Segment.

They aim at the corners where JS semantics matter: falsy options, MISSING vs null, JS truthiness, String() of
odd values, quoted and numeric path segments, prototype keys, directives in places validation does not look.
Most mappings are valid; invalid ones are kept because the oracle decides what a server would publish.
"""

from __future__ import annotations

import random
from typing import Any

DIRECTIVES = (
    "@path",
    "@template",
    "@literal",
    "@if",
    "@case",
    "@replace",
    "@arrayPath",
    "@flatten",
    "@json",
    "@merge",
    "@transform",
    "@excludeWhenNull",
)

SCALARS: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -0.0,
    1,
    2.5,
    -3,
    1e21,
    0.1,
    "",
    " ",
    "0",
    "abc",
    "Hello World",
    "a.b.c",
    "{{b}}",
    "true",
    "false",
    "null",
    "NaN",
    " 12 ",
    "[1,2]",
    '{"a":1}',
    "Straße",
    "İstanbul",
    "$&",
    "x$'y",
    "a,b",
)
# Values both events and triggers draw from, so comparisons and string tests often hit.
TOKENS: tuple[Any, ...] = (
    "abc",
    "Order Completed",
    "track",
    "u1",
    "",
    "true",
    "1",
    "5",
    5,
    1,
    0,
    2.5,
    True,
    False,
    None,
)
KEYS = ("a", "b", "c", "x.y", "x", "sp ace", "0", "1", "n_a", "length", "list", "obj", "s", "num", "flag", "__proto__")
PATH_TAILS = (
    "a",
    "b",
    "a.b",
    "x.y",
    'x["y"]',
    "['sp ace']",
    "list[0]",
    "list.1",
    "list.length",
    "s.length",
    "obj.a",
    "obj.x.y",
    "num",
    "flag",
    "constructor",
    "missing",
    "missing.deeper",
    "0",
    "a..b",
    "a.",
    "n_a",
)
ROOTS = ("$.properties.", "properties.", "$.traits.", "$.context.", "$.", "")
PATTERNS = ("a", ".", "$", "o", "b", " ", "A", "true", "false", "x$", "12345678901")
REPLACEMENTS = ("", "-", "$&", "$$", "[$&]", "X", "$'", "1234567890123")


class Generator:
    """One seeded stream of events, mappings and trigger ASTs."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return self.rng.choice(options)

    # ---- data -------------------------------------------------------------------------------------------
    def value(self, depth: int = 0) -> Any:
        roll = self.rng.random()
        if depth >= 3 or roll < 0.55:
            return self.pick(SCALARS)
        if roll < 0.75:
            return [self.value(depth + 1) for _ in range(self.rng.randrange(0, 4))]
        return self.record(depth + 1)

    def record(self, depth: int = 0) -> dict[str, Any]:
        keys = [k for k in self.rng.sample(KEYS, self.rng.randrange(0, 6)) if k != "__proto__" or self.chance(0.2)]
        return {k: self.value(depth) for k in keys}

    def event(self) -> dict[str, Any]:
        properties = self.record()
        tokens = [self.pick(TOKENS) for _ in range(self.rng.randrange(0, 4))]
        properties.update(
            {
                "list": tokens if self.chance(0.7) else self.value(2),
                "obj": self.record(2),
                "s": self.pick(TOKENS + SCALARS),
                "num": self.pick((5, 0, -3, 2.5, 1e21, "5", None)),
                "flag": self.pick((True, False, "true", None)),
            }
        )
        return {
            "type": self.pick(("track", "identify", "page", "screen", "group")),
            "event": self.pick(("Order Completed", "Signed Up", "", "order completed", "Straße")),
            "userId": self.pick(("u1", "", None, "42")),
            "anonymousId": "anon-1",
            "messageId": "m-1",
            "properties": properties,
            "traits": self.record(),
            "context": {"page": {"url": self.pick(("https://x.test/a?b=1", "http://y"))}, **self.record(1)},
        }

    # ---- mappings ---------------------------------------------------------------------------------------
    def path(self) -> str:
        if self.chance(0.05):
            return self.pick(("", ".", "$.", "$a", " $.properties.a", "$.properties.$.a", "properties.a.$.b"))
        return self.pick(ROOTS) + self.pick(PATH_TAILS)

    def mapping(self) -> Any:
        if self.chance(0.02):  # unsupported but accepted: a top-level array is spread into index keys
            return [self.node(1) for _ in range(self.rng.randrange(1, 3))]
        fields = {f"f{i}": self.node(0) for i in range(self.rng.randrange(1, 5))}
        if self.chance(0.05):
            apply = {"p": self.node(1), "q": {"@path": self.path()}}
            fields["__segment_internal_directive"] = {"@transform": {"apply": apply}}
        return fields

    def node(self, depth: int) -> Any:
        """A mapping value: mostly directives, sometimes raw values, arrays or objects holding directives."""
        roll = self.rng.random()
        if depth >= 4 or roll < 0.12:
            return self.value(2)
        if roll < 0.2:
            return [self.node(depth + 1) for _ in range(self.rng.randrange(1, 3))]
        if roll < 0.27:
            return {self.pick(KEYS[:9]): self.node(depth + 1) for _ in range(self.rng.randrange(1, 3))}
        return self.directive(self.pick(DIRECTIVES), depth + 1)

    def stringish(self, depth: int) -> Any:
        """A string option, or a directive that yields one (or sometimes does not)."""
        if self.chance(0.85):
            return self.path()
        return self.pick(({"@template": "properties.{{s}}"}, {"@path": "$.properties.s"}, {"@literal": "$.event"}))

    def maybe(self, options: dict[str, Any], key: str, value: Any, p: float = 0.5) -> None:
        if self.chance(p):
            options[key] = value

    def directive(self, name: str, depth: int) -> dict[str, Any]:
        make = getattr(self, "d_" + name[1:])
        result = {name: make(depth)}
        if self.chance(0.03):
            result["_metadata"] = {"note": "ignored"}
        return result

    def d_path(self, depth: int) -> Any:
        return self.stringish(depth)

    def d_template(self, depth: int) -> Any:
        if self.chance(0.1):
            return self.stringish(depth)
        parts = []
        for _ in range(self.rng.randrange(1, 4)):
            tail = self.pick(("properties." + self.pick(PATH_TAILS), "event", "userId", "traits.a", " ", "$.event"))
            parts.append(self.pick(("{{%s}}", "{{{%s}}}", "{{ %s }}", "x%s")) % tail)
        return self.pick(("", "Hi ", "}")).join(parts)

    def d_literal(self, depth: int) -> Any:
        return self.node(depth) if self.chance(0.5) else self.value(1)

    def d_excludeWhenNull(self, depth: int) -> Any:
        return self.d_literal(depth)

    def d_if(self, depth: int) -> Any:
        options: dict[str, Any] = {}
        condition = "neither" if self.chance(0.05) else self.pick(("exists", "blank", "both"))
        if condition in ("exists", "both"):
            options["exists"] = self.node(depth) if self.chance(0.9) else self.pick((False, 0, "", None, 1))
        if condition in ("blank", "both"):
            options["blank"] = self.node(depth)
        self.maybe(options, "then", self.node(depth), 0.8)
        self.maybe(options, "else", self.node(depth) if self.chance(0.7) else self.pick((0, False, "", None)), 0.7)
        return options

    def d_case(self, depth: int) -> Any:
        options: dict[str, Any] = {}
        self.maybe(options, "operator", self.pick(("lower", "upper", "upper", "lower", "title", "", "UPPER")), 0.95)
        self.maybe(options, "value", self.node(depth) if self.chance(0.8) else self.pick(("", "MiXed")), 0.95)
        return options

    def d_replace(self, depth: int) -> Any:
        options: dict[str, Any] = {"pattern": self.pick(PATTERNS), "value": self.node(depth)}
        if self.chance(0.1):
            options["value"] = self.pick(("", "abc a.b$"))
        self.maybe(options, "replacement", self.pick(REPLACEMENTS))
        self.maybe(options, "ignorecase", self.pick((True, False)) if self.chance(0.95) else None, 0.3)
        self.maybe(options, "global", self.pick((True, False)) if self.chance(0.95) else None, 0.3)
        if self.chance(0.25):
            options["pattern2"] = self.pick(PATTERNS)
            self.maybe(options, "replacement2", self.pick(REPLACEMENTS + (None,)))
        return options

    def d_arrayPath(self, depth: int) -> Any:
        root = self.pick(("$.properties.list", "$.properties.obj", "properties", "$.properties.s", "$.missing"))
        first: Any = root if self.chance(0.85) else {"@path": root}
        if self.chance(0.15):
            return [first]
        shape = {self.pick(KEYS[:9]): self.node(depth + 1) for _ in range(self.rng.randrange(0, 3))}
        if self.chance(0.1):
            shape = {"@path": self.pick(("$.a", "$.length", ""))}
        return [first, shape]

    def d_flatten(self, depth: int) -> Any:
        options: dict[str, Any] = {"value": self.node(depth) if self.chance(0.7) else self.value(1)}
        separator = self.pick((".", "_", "__", "")) if self.chance(0.97) else {"@literal": "-"}
        self.maybe(options, "separator", separator, 0.95)
        self.maybe(options, "omitArrays", self.pick((True, False, 1, "yes")), 0.4)
        return options

    def d_json(self, depth: int) -> Any:
        value = self.node(depth) if self.chance(0.8) else self.pick((0, "", None, False, " 12 ", "NaN", "[1,"))
        return {"mode": self.pick(("encode", "decode", "decode", "ENCODE")), "value": value}

    def d_merge(self, depth: int) -> Any:
        objects = []
        for _ in range(self.rng.randrange(0, 4)):
            directive = self.pick(({"@path": "$.properties.obj"}, {"@path": "$.properties.s"}, None))
            objects.append(directive or self.record(2))
            if self.chance(0.3):
                objects[-1] = {"a": self.node(depth + 1), "b": 1}
        options: dict[str, Any] = {"objects": objects}
        direction = self.pick(("left", "right", "LEFT")) if self.chance(0.97) else {"@literal": "left"}
        self.maybe(options, "direction", direction, 0.93)
        return options

    def d_transform(self, depth: int) -> Any:
        apply = {k: self.node(depth + 1) for k in self.rng.sample(("p", "q", "r"), self.rng.randrange(1, 3))}
        inner = {"out": {"@path": self.pick(("$.p", "$.q", "p.a", "$.r.0", ""))}, "t": self.node(depth + 1)}
        return {"apply": apply, "mapping": inner}

    # ---- triggers ---------------------------------------------------------------------------------------
    FIELD_TYPES = ("event-type", "event", "name", "userId", "event-property", "event-trait", "event-context", "oops")
    OPERATORS = (
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "number_equals",
        "number_not_equals",
        "contains",
        "not_contains",
        "starts_with",
        "not_starts_with",
        "ends_with",
        "not_ends_with",
        "exists",
        "not_exists",
        "is_true",
        "is_false",
        "like",
    )

    def condition(self) -> dict[str, Any]:
        field = "event-property" if self.chance(0.5) else self.pick(self.FIELD_TYPES)
        node: dict[str, Any] = {"type": field, "operator": self.pick(self.OPERATORS)}
        if field in ("event-property", "event-trait", "event-context"):
            hot = ("list", "s", "num", "flag")
            cold = PATH_TAILS + ("", "['a']", "sp ace", "page.url")
            node["name"] = self.pick(hot) if self.chance(0.6) else self.pick(cold)
        if self.chance(0.9):
            node["value"] = self.pick(TOKENS) if self.chance(0.6) else self.pick(SCALARS[1:] + ("Order", "https", 10))
        return node

    def trigger(self, depth: int = 0) -> dict[str, Any]:
        children = []
        for _ in range(self.rng.randrange(0, 4)):
            children.append(self.trigger(depth + 1) if depth < 2 and self.chance(0.25) else self.condition())
        operator = self.pick(("and", "or", "and", "or", "xor"))
        return {"type": "group", "operator": operator, "children": children}


def condition_grid() -> list[dict[str, Any]]:
    """Every field kind x operator x expected value (x a few names): one single-condition trigger each."""
    names = ("list", "s", "num", "flag", "obj.a", "missing", "", "['s']", "list.0", "constructor")
    values: tuple[Any, ...] = TOKENS + ("Order", "Completed", "ab", "-3", 1e21, "1e21", "null")
    grid = []
    for field in Generator.FIELD_TYPES:
        nested = field in ("event-property", "event-trait", "event-context")
        for operator in Generator.OPERATORS:
            for value in values:
                for name in names if nested else (None,):
                    node: dict[str, Any] = {"type": field, "operator": operator, "value": value}
                    if name is not None:
                        node["name"] = name
                    grid.append({"type": "group", "operator": "and", "children": [node]})
    return grid


def grid_events(gen: Generator, random_count: int = 10) -> list[Any]:
    """Events that put every token in every place a condition reads, plus random ones and odd non-objects."""
    events: list[Any] = []
    for token in TOKENS + ("Order Completed!", "xab"):
        fields = {"list": [token], "s": token, "num": token, "flag": token, "obj": {"a": token}, "['s']": token}
        top = {"type": token, "event": token, "name": token, "userId": token}
        events.append({**top, "properties": fields, "traits": fields, "context": fields})
    events += [gen.event() for _ in range(random_count)]
    return events + [{}, "", 5, []]


def directives_in(mapping: Any) -> set[str]:
    """Directive names used anywhere in a mapping (for coverage assertions)."""
    found: set[str] = set()
    stack = [mapping]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.update(k for k in node if k.startswith("@"))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found
