"""Differential cases for Liquid's keywords used as names in `@liquid` (issue 29), and the fixture of Segment's outputs.

Each of the 22 words python-liquid's lexer treats as keywords stands in 29 template shapes — as a path segment, a
top-level variable, nested, in brackets, in output, filters (input, arguments, `name:` arguments, filter names),
`if`/`unless`/`elsif`/`case`, `assign`, `capture`, `increment`, `for`, `{% liquid %}`, `echo` and `cycle` — over three
events. `tests/fixtures/liquid-keywords.json` holds what `@segment/actions-core@3.170.0` + `liquidjs@10.30.1` give for
every case; regenerate it after changing the cases with

    .venv/bin/python -m tests.mapping.liquid_keywords
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "liquid-keywords.json"
REFERENCE = "@segment/actions-core@3.170.0 + liquidjs@10.30.1"

LITERALS = ["true", "false", "nil", "null", "empty", "blank"]
OPERATORS = ["and", "or", "contains", "not"]
OTHERS = ["in", "offset", "limit", "reversed", "cols", "continue", "with", "for", "as", "if", "else", "required"]
KEYWORDS = LITERALS + OPERATORS + OTHERS

# (shape, whether K stands alone as a value inside an expression). Where it does, liquidjs reads an operator word
# (and, or, contains, not) as the operator, applied to nothing: the documented difference, kept apart.
SHAPES: list[tuple[str, bool]] = [
    ("{{ properties.K }}", False),
    ("{{ K }}", True),
    ("{{ nest.K.K }}", False),
    ("{{ properties.K.size }}|{{ properties.K.first }}", False),
    ("{{ properties[K] }}", False),
    ("{{ list[0].K }}|{{ list.last.K }}", False),
    ("{{ properties.K | upcase }}", False),
    ("{{ K | append: '!' }}", True),
    ("{{ 'x' | append: properties.K }}", False),
    ("{{ 'x' | append: K }}", False),
    ("{{ properties.K | default: K }}", False),
    ("{{ missing | default: 'd', K: true }}", False),
    ("{{ properties.K | K }}", False),
    ("{{ nest.K | json }}", False),
    ("{% if properties.K %}T{% else %}F{% endif %}", False),
    ("{% if K %}T{% else %}F{% endif %}", True),
    ("{% if properties.K == K %}T{% else %}F{% endif %}", True),
    ("{% unless properties.K contains 1 %}U{% endunless %}", False),
    ("{% if nest.K.K != empty and properties.K %}A{% elsif properties.K %}B{% else %}C{% endif %}", False),
    ("{% case properties.K %}{% when K %}W{% endcase %}", False),
    ("{% assign K = properties.K %}{{ K }}", True),
    ("{% assign x = properties.K | size %}{{ x }}", False),
    ("{% capture K %}[{{ properties.K }}]{% endcapture %}{{ K }}", True),
    ("{% increment K %}{% increment K %}", False),
    ("{% for x in properties.K limit: 2 %}{{ x }}{% endfor %}", False),
    ("{% liquid\nassign y = properties.K\necho y\n%}", False),
    ("{% echo properties.K | size %}", False),
    ("{% cycle properties.K, K %}", True),
    ("{{ properties.K | where: 'K', K | size }}", False),
]

EVENTS: list[dict[str, Any]] = [
    {
        "properties": {k: f"p-{k}" for k in KEYWORDS},
        **{k: f"t-{k}" for k in KEYWORDS},
        "nest": {k: {k: f"n-{k}"} for k in KEYWORDS},
        "list": [{k: f"l0-{k}" for k in KEYWORDS}, {k: f"l1-{k}" for k in KEYWORDS}],
    },
    {
        "properties": {k: [1, {k: 2}, ""] for k in KEYWORDS},
        **{k: 0 for k in KEYWORDS},
        "nest": {k: {k: []} for k in KEYWORDS},
    },
    {},
]


def cases() -> list[dict[str, Any]]:
    """Every (keyword, template, event) case, with its category: `identical`, or `operator-alone` (the documented
    difference: an operator word standing where liquidjs expects a value)."""
    out = []
    for shape, alone in SHAPES:
        for keyword in KEYWORDS:
            category = "operator-alone" if alone and keyword in OPERATORS else "identical"
            template = shape.replace("K", keyword)
            for event in range(len(EVENTS)):
                out.append({"keyword": keyword, "template": template, "event": event, "category": category})
    return out


def mapping(case: dict[str, Any]) -> dict[str, Any]:
    return {"x": {"@liquid": case["template"]}}


def main() -> None:
    from tests.mapping.compare import reference_replies
    from tests.oracle import NodeOracle

    generated = cases()
    with NodeOracle() as oracle:
        expects = reference_replies(
            oracle,
            [{"mapping": mapping(c), "event": EVENTS[c["event"]]} for c in generated],
        )
    lines = [json.dumps({**c, "expect": e}, ensure_ascii=False) for c, e in zip(generated, expects)]
    head = {"generator": "tests/mapping/liquid_keywords.py", "reference": REFERENCE, "events": EVENTS}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',\n "cases": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"
    FIXTURE.write_text(text, encoding="utf-8")
    print(f"{len(generated)} cases written to {FIXTURE}")


if __name__ == "__main__":
    main()
