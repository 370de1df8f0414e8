"""Hypothesis strategies: mappings using every directive (valid and invalid, nested), and awkward events.

Mappings are built from option shapes Segment accepts, perturbed with the shapes it rejects or misreads
(wrong types, missing or falsy fields, extra keys, unknown directives) so validation messages, runtime
failures and outputs are all exercised. Events are Segment-like with awkward values: null, 0, -0, "", false,
nested lists, unicode (astral and case-changing characters), large and fractional numbers.
"""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def weighted(draw, *choices):
    """Draw from one of `(weight, strategy)` choices (st.one_of would ignore repeated strategies)."""
    roll = draw(st.integers(0, sum(w for w, _ in choices) - 1))
    for w, strategy in choices:
        if roll < w:
            return draw(strategy)
        roll -= w
    raise AssertionError


# --- events ----------------------------------------------------------------------------------------------------

KEYS = [
    "a",
    "b",
    "c",
    "x",
    "0",
    "1",
    "10",
    "2",
    "x.y",
    "sp ace",
    "length",
    "n_a",
    "event",
    "total",
    "sku",
    "p",
    "name",
    "email",
    "tags",
    "é",
    "$",
    "@x",
]
WORDS = [
    "",
    " ",
    "0",
    "1",
    "a",
    "abc",
    "A.b.C",
    "x y",
    "Hello World",
    "ß",
    "İstanbul",
    "ΑΣ",
    "😀",
    "é😀x",
    "{{b}}",
    "{{{a}}}",
    "NaN",
    " 12 ",
    "[1,2]",
    '{"a":1}',
    '{"b":[1,{"c":null}]}',
    "true",
    "false",
    "null",
    "1e21",
    "-0",
    "aAaA",
    "$&",
    "a.b",
    "\u2028",
    "tab\there",
    'quote"s',
    "back\\slash",
    "x.$.y",
]
TEXT = st.one_of(
    st.sampled_from(WORDS), st.text(alphabet=st.sampled_from(list("aAbB.$[]'\" {}_-0192éß😀İ")), max_size=8)
)
NUMBERS = st.one_of(
    st.sampled_from(
        [
            0,
            -0.0,
            1,
            -1,
            1.0,
            1.5,
            0.1,
            2.5,
            100,
            1e21,
            1e-7,
            123456789.125,
            2**53 + 1,
            12345678901234567890,
            -3.75,
            1e300,
        ]
    ),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=10,
)

PRODUCT = st.fixed_dictionaries({"sku": SCALARS, "price": NUMBERS}, optional={"tags": st.lists(SCALARS, max_size=3)})


@st.composite
def events(draw) -> dict:
    event = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["track", "identify", "page"]),
                "event": TEXT,
                "userId": st.one_of(st.none(), TEXT, NUMBERS),
                "anonymousId": TEXT,
                "properties": st.fixed_dictionaries(
                    {},
                    optional={
                        "total": NUMBERS,
                        "currency": TEXT,
                        "products": st.one_of(st.lists(PRODUCT, max_size=3), PRODUCT, SCALARS),
                        "nested": JSON_VALUES,
                        "json": TEXT,
                        "flags": st.lists(st.booleans(), max_size=3),
                    },
                ),
                "traits": st.dictionaries(st.sampled_from(["email", "name", "age", "plan", "0"]), SCALARS, max_size=4),
                "timestamp": st.sampled_from(
                    ["2026-11-29T18:00:00.000Z", "2026-02-30", "2026-11-29T07:05:00+05:30", "1700000000", "", "junk"]
                ),
            },
        )
    )
    event.update(draw(st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=4)))
    return event


# --- mappings --------------------------------------------------------------------------------------------------

FIELD_KEYS = [k for k in KEYS if not k.startswith("@")]
"""Keys of mapping objects (an `@` key would make the object a directive)."""
PATHS = [
    "$.a",
    "a",
    "$.a.b",
    "$.b",
    "$.c",
    "$.x",
    "$.0",
    "$.1",
    "$.a.0",
    "$.a[0]",
    "$.a.1.b",
    "$.a.length",
    "$.event",
    "$.event.length",
    "$.event.0",
    "$.userId",
    "$.properties",
    "$.properties.total",
    "$.properties.products",
    "$.properties.products[0].sku",
    "$.properties.products.length",
    "$.properties.nested",
    "$.properties.nested.a",
    "$.properties.json",
    "$.properties.flags.1",
    "$.traits",
    "$.traits.email",
    "$.traits.0",
    "$.x.y",
    '$.a["x.y"]',
    "$.a['sp ace']",
    "$.sp ace",
    "$.a[b]",
    "$.a[-1]",
    "",
    ".",
    "$.",
    "$",
    "$a",
    "a.$.b",
    "$.a.",
    "$.a..b",
    "$.missing",
    "$.missing.deep",
    "$.sku",
    "$.price",
    "$.n_a",
    "$.tags[1]",
    "$.p.n_a",
    "$.10",
    "$.2",
    " $.a",
    "$.é",
]
PATH_TEXT = st.one_of(st.sampled_from(PATHS), st.text(alphabet=st.sampled_from(list("$.ab01[]'\" ")), max_size=8))
TEMPLATES = [
    "{{a}}",
    "{{{a}}}",
    "{{ a }}",
    "x{{a}}y{{b}}z",
    "{{a.b}}",
    "{{$.a}}",
    "{{}}",
    "{{ }}",
    "{{.}}",
    "{{a}}}",
    "{{{{a}}}}",
    "Hi {{traits.name}}!",
    "{{properties.total}}",
    "{{properties.products}}",
    "{{event}} ({{userId}})",
    "{{properties.nested}}",
    "no placeholders",
    "{{a[0]}}",
    "{{ x.y }}",
    "{{{event}}}-{{x}}",
    "{",
    "}}{{",
    "{{\na\n}}",
]
LIQUID = [
    # Overlap with liquidjs (docs/mapping.md lists what differs: `blank` against nil and false, legacy date text,
    # `sample`, counters written back into the event).
    "{{ a }}",
    "{{ event | upcase }}",
    "{{ a | nosuchfilter }}",
    "{% if a %}T{% else %}F{% endif %}",
    "{{ properties.total | plus: 1 }}",
    "{{ properties.total | times: 0.1 | round: 2 }}",
    "{{ a | size }}",
    "{{ userId | default: 'anon' }}",
    "{{ missing }}",
    "{{ a | join: '-' }}",
    "{{ event | append: '!' }}",
    "{{ traits }}",
    "{{ b | downcase }}",
    "{{ a.first }}{{ a.last }}{{ a.size }}",
    "{{ event.length }}",
    "{{ properties.products[0].sku }}",
    "{{ a | json }}",
    "{{ traits | json }}",
    "{% assign x = event | split: ' ' %}{{ x | last }}",
    "{% capture c %}{{ userId }}-{{ anonymousId }}{% endcapture %}{{ c | strip }}",
    "{% unless a %}none{% endunless %}",
    "{% if event == 'Order Completed' and userId %}yes{% elsif a %}a{% else %}no{% endif %}",
    "{{ properties.total | divided_by: 0 }}",
    "{{ properties.total | modulo: 3 }}",
    "{{ a | compact | size }}",
    "{{ event | truncate: 5 }}",
    "{{ event | slice: 1, 3 }}",
    "{{ event | replace: 'e', '3' | capitalize }}",
    "{{ timestamp | date: '%Y-%m-%d %H:%M' }}",
    "{{ properties.total | date: '%s' }}",
    "{{ a | url_encode }}",
    "{{ event | escape }}",
    "{{ a | to_integer }}",
    "{% if a contains 'x' %}c{% endif %}",
    "{% if not a %}falsy{% endif %}",
    "{{ a[0] }}{{ a.0 }}",
    "{% if properties.total > 5 %}big{% elsif a contains 1 %}one{% endif %}",
    "{% if userId == a %}same{% endif %}",
    "{% if event >= 'O' and a <= b %}x{% endif %}",
    "{% unless properties contains 'total' %}no{% endunless %}",
    # failures on both sides
    "{{ properties.products | sort }}",
    "{% for x in a %}{{x}}{% endfor %}",
    "{% if a %}x",
    "{% case a %}{% endcase %}",
    "{% tablerow x in a %}{% endtablerow %}",
    "{{ a | map: 'x' }}",
    "{{ 'x' | append }}",
]
# Valid choices are repeated so that most drawn options are accepted.
SEPARATORS = [".", "_", "0", "-", "__"] * 3 + [""]
MODES = ["encode", "decode"] * 6 + ["ENCODE", "Decode", "zip", ""]
DIRECTIONS = ["left", "right"] * 6 + ["LEFT", "Right", "up", ""]
OPERATORS = ["lower", "upper"] * 6 + ["title", "UPPER", ""]
PATTERNS = [
    "a",
    "A",
    ".",
    "b",
    "ß",
    "s",
    "$",
    "e",
    " ",
    "true",
    "false",
    "1",
    "abcdefghij",
    "abcdefghijk",
    "",
    "😀",
    "İ",
    "x.y",
]
REPLACEMENTS = ["", "-", "[$&]", "$$", "$`", "$'", "$1", "granted", "0123456789", "0123456789x", "ẞ", "$"]

SPREADABLE = st.sampled_from(
    [
        {"@path": "$.event"},
        {"@path": "$.traits.email"},
        {"@template": "{{a}}x"},
        {"@path": "$.properties.products"},
        {"@path": "$.a"},
        {"@path": "$.userId"},
    ]
)
"""Directives that often yield strings or lists, which `@merge` spreads into index keys."""
WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 5, 1.5, "", "str"]),
    st.just([]),
    st.just({}),
    st.just([1, "a"]),
    st.just({"k": 1}),
)


def option(valid, wrong=WRONG):
    """Mostly a valid option, sometimes (1 in 16) a wrong-typed one."""
    return weighted((15, valid), (1, wrong))


@st.composite
def options_object(draw, fields: dict, *, required=(), extra=None) -> dict:
    """An options object: `required` fields almost always, the others at random (rarely an unknown key)."""
    out = {}
    for name, strategy in fields.items():
        if draw(st.integers(0, 39)) < (39 if name in required else 24):
            out[name] = draw(strategy)
    if extra is not None and draw(st.integers(0, 29)) == 0:
        out[draw(st.sampled_from(["zzz", "blank", "@path", "_metadata"]))] = draw(extra)
    return out


def directive_values(depth: int):
    """Strategy for a mapping value (directive, raw value, object or list of them) at nesting `depth`."""
    if depth <= 0:
        leaf_paths = st.builds(lambda p: {"@path": p}, st.sampled_from(PATHS))
        leaf_templates = st.builds(lambda t: {"@template": t}, st.sampled_from(TEMPLATES))
        return weighted((3, leaf_paths), (1, leaf_templates), (1, SCALARS))
    sub = st.deferred(lambda: directive_values(depth - 1))
    raw_object = st.dictionaries(st.sampled_from(FIELD_KEYS), sub, max_size=2)
    string_or_sub = st.one_of(TEXT, sub)
    path_option = weighted((2, PATH_TEXT), (1, sub))

    directives = {
        "@path": option(path_option),
        "@template": option(st.one_of(st.sampled_from(TEMPLATES), sub)),
        "@literal": st.one_of(JSON_VALUES, sub, raw_object),
        "@if": option(
            options_object(
                {"exists": option(sub), "blank": option(sub), "then": option(sub), "else": option(sub)}, extra=sub
            )
        ),
        "@case": option(
            options_object(
                {"operator": option(st.sampled_from(OPERATORS)), "value": option(string_or_sub)},
                required=("operator", "value"),
                extra=sub,
            )
        ),
        "@replace": option(
            options_object(
                {
                    "pattern": option(st.sampled_from(PATTERNS)),
                    "replacement": option(st.sampled_from(REPLACEMENTS)),
                    "value": option(string_or_sub, st.one_of(NUMBERS, st.booleans(), WRONG)),
                    "ignorecase": option(st.booleans()),
                    "global": option(st.booleans()),
                    "pattern2": option(st.sampled_from(PATTERNS)),
                    "replacement2": option(st.sampled_from(REPLACEMENTS)),
                },
                required=("pattern", "value"),
                extra=sub,
            )
        ),
        "@arrayPath": option(
            st.one_of(
                st.tuples(path_option).map(list),
                st.tuples(path_option, st.one_of(raw_object, sub, st.just({}), WRONG)).map(list),
                st.tuples(path_option, raw_object, SCALARS).map(list),
            )
        ),
        "@json": option(
            options_object(
                {"mode": option(st.sampled_from(MODES)), "value": option(st.one_of(sub, JSON_VALUES))},
                required=("mode", "value"),
                extra=sub,
            )
        ),
        "@flatten": option(
            options_object(
                {
                    "value": option(st.one_of(sub, JSON_VALUES)),
                    "separator": option(st.sampled_from(SEPARATORS)),
                    "omitArrays": option(st.booleans()),
                },
                required=("value", "separator"),
                extra=sub,
            )
        ),
        "@merge": option(
            options_object(
                {
                    "direction": option(st.sampled_from(DIRECTIONS)),
                    "objects": option(
                        st.lists(weighted((6, raw_object), (6, sub), (2, SPREADABLE), (1, WRONG)), max_size=3)
                    ),
                },
                required=("objects", "direction"),
                extra=sub,
            )
        ),
        "@transform": option(
            options_object(
                {
                    "apply": option(st.one_of(raw_object, sub, root_keyed(sub))),
                    "mapping": option(st.one_of(raw_object, sub)),
                },
                required=("apply", "mapping"),
                extra=sub,
            )
        ),
        "@excludeWhenNull": st.one_of(sub, JSON_VALUES, raw_object),
        "@liquid": option(st.sampled_from(LIQUID)),
        "@oops": sub,
        "@Path": PATH_TEXT,
    }
    names = sorted(directives)
    weights_heavy = [n for n in names if n not in ("@oops", "@Path")]

    @st.composite
    def one_directive(draw) -> dict:
        name = draw(st.sampled_from(weights_heavy * 6 + ["@oops", "@Path"]))
        out = {name: draw(directives[name])}
        roll = draw(st.integers(0, 79))
        if roll == 0:
            out["_metadata"] = {"k": 1}
        elif roll == 1:
            out["extra"] = draw(sub)
        elif roll == 2:
            out[draw(st.sampled_from(["@path", "@template", "@literal"]))] = draw(sub)
        return out

    return weighted((8, one_directive()), (1, SCALARS), (1, raw_object), (1, st.lists(sub, max_size=3)))


def root_keyed(sub):
    """A mapping with Segment's root directive key (valid and broken holders)."""
    holder = st.one_of(
        st.builds(
            lambda apply: {"@transform": {"apply": apply}},
            st.dictionaries(st.sampled_from(FIELD_KEYS), sub, max_size=2),
        ),
        st.builds(lambda v: {"@literal": v}, st.dictionaries(st.sampled_from(FIELD_KEYS), sub, max_size=2)),
        WRONG,
        st.just({"@transform": {}, "@path": "$.a"}),
        st.just(["x"]),
        st.just([{"k": 1}]),
    )
    return st.builds(
        lambda h, rest: {"__segment_internal_directive": h, **rest},
        holder,
        st.dictionaries(st.sampled_from(FIELD_KEYS), sub, max_size=3),
    )


def mappings(depth: int = 3):
    """Whole mappings: mostly objects of fields, sometimes root-keyed, listed, or not objects at all."""
    value = directive_values(depth)
    fields = st.dictionaries(
        st.sampled_from(FIELD_KEYS + ["userId", "properties", "traits"]), value, min_size=1, max_size=4
    )
    odd = st.one_of(
        root_keyed(value), st.lists(value, max_size=2), st.sampled_from(["neat", "😀", 5, None, True]), value
    )
    return weighted((12, fields), (1, odd))
