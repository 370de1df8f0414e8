"""`@liquid` is configured like Segment's liquidjs: limits, disabled tags and filters, JS-style output.

Most tests compare with liquidjs itself (through the oracle); the last ones pin the documented differences
(docs/mapping.md) so that the documentation stays true.
"""

from __future__ import annotations

import pytest

from actions_1flow.mapping import MISSING, MappingError, liquid, transform
from tests.mapping.compare import as_text, liquid_differences, outcome, reference_replies, same

PAYLOADS = [
    {
        "a": [1, 2, "x"],
        "b": "Hello World",
        "n": 5,
        "f": 1.5,
        "z": 0,
        "e": "",
        "t": True,
        "nul": None,
        "o": {"k": 1, "size": 9},
        "big": 12345678901234567890,
        "fl": 2.0,
        "neg": -3.7,
        "s": "ß😀x",
        "ts": "2026-11-29T18:00:00.000Z",
        "arr": [{"p": 1, "q": "a"}, {"p": 2}, {"q": None}],
        "num_s": "42",
        "list2": [[1, 2], [3]],
        "tiny": -1.0468971704764994e-22,
    },
    {"a": "abc", "b": None, "n": "7", "f": "x", "z": False, "o": [], "arr": "notalist"},
    {},
]

TEMPLATES = [
    # output of every kind of value, property reads
    "{{ a }}",
    "{{ b }}",
    "{{ n }}",
    "{{ f }}",
    "{{ z }}",
    "{{ e }}",
    "{{ t }}",
    "{{ nul }}",
    "{{ o }}",
    "{{ big }}",
    "{{ fl }}",
    "{{ neg }}",
    "{{ s }}",
    "{{ list2 }}",
    "{{ a.size }}",
    "{{ b.size }}",
    "{{ o.size }}",
    "{{ a.first }}",
    "{{ a.last }}",
    "{{ b.first }}",
    "{{ a[0] }}",
    "{{ a[-1] }}",
    "{{ b[0] }}",
    "{{ b.length }}",
    "{{ a.length }}",
    "{{ s.length }}",
    "{{ s[1] }}",
    "{{ a.0 }}",
    "{{ missing }}",
    "{{ missing.x }}",
    "{{ nul.x }}",
    "{{ nul.x | json }}{{ nul.x.y | json }}{{ nul.size | json }}{% if 1 > nul.x %}G{% endif %}",
    "{{ n.size }}",
    "{{ o.k }}",
    '{{ o["k"] }}',
    "{{ arr[0].p }}",
    "{{ arr.first.q }}",
    # conditions (Ruby truthiness, strict equality)
    "{% if a %}T{% else %}F{% endif %}",
    "{% if z %}T{% else %}F{% endif %}",
    "{% if e %}T{% else %}F{% endif %}",
    "{% if nul %}T{% else %}F{% endif %}",
    "{% if missing %}T{% else %}F{% endif %}",
    "{% if n == 5 %}eq{% endif %}",
    '{% if n == "5" %}seq{% endif %}',
    "{% if t == true %}tt{% endif %}",
    "{% if z == 0 %}z0{% endif %}",
    "{% if z == false %}zf{% endif %}",
    "{% if missing == nil %}mn{% endif %}",
    "{% if nul == nil %}nn{% endif %}",
    "{% if e == empty %}ee{% endif %}",
    "{% if a == empty %}ae{% endif %}",
    "{% if o == empty %}oe{% endif %}",
    "{% if n != 4 or z %}ne{% endif %}",
    '{% if b contains "World" %}bc{% endif %}',
    '{% if a contains "x" %}ac{% endif %}',
    "{% if a contains 1 %}a1{% endif %}",
    "{% unless z %}U{% endunless %}",
    "{% if not z %}nz{% endif %}",
    # math on JS numbers
    "{{ n | plus: 1 }}",
    "{{ n | minus: 1.5 }}",
    "{{ n | times: 0.1 }}",
    "{{ n | divided_by: 2 }}",
    "{{ n | divided_by: 2.0 }}",
    "{{ n | divided_by: 0 }}",
    "{{ n | modulo: 3 }}",
    "{{ neg | modulo: 3 }}",
    "{{ neg | abs }}",
    "{{ neg | ceil }}",
    "{{ neg | floor }}",
    "{{ neg | round }}",
    "{{ f | round }}",
    "{{ 2.345 | round: 2 }}",
    "{{ n | at_least: 7 }}",
    "{{ n | at_most: 7 }}",
    "{{ b | plus: 1 }}",
    "{{ num_s | plus: 1 }}",
    "{{ n | plus }}",
    "{{ 0.1 | plus: 0.2 }}",
    "{{ big | plus: 0 }}",
    "{{ 1e21 | plus: 0 }}",
    "{{ 5 | divided_by: 2, true }}",
    "{{ n | round: 1.5 }}",
    "{{ f | times: 3 }}",
    # strings (UTF-16 where JS measures)
    "{{ b | upcase }}",
    "{{ b | downcase }}",
    "{{ b | capitalize }}",
    "{{ s | upcase }}",
    '{{ b | append: "!" }}',
    '{{ b | prepend: ">" }}',
    '{{ b | remove: "l" }}',
    '{{ b | remove_first: "l" }}',
    '{{ b | remove_last: "l" }}',
    '{{ b | replace: "l", "L" }}',
    '{{ b | replace_first: "l", "$&" }}',
    '{{ b | replace_last: "o", "0" }}',
    '{{ b | split: " " | join: "," }}',
    '{{ b | split: "" | join: "-" }}',
    '{{ "  x  " | strip }}',
    '{{ "  x  " | lstrip }}',
    '{{ "  x  " | rstrip }}',
    "{{ b | truncate: 5 }}",
    '{{ b | truncate: 5, "" }}',
    "{{ b | truncatewords: 1 }}",
    "{{ b | size }}",
    "{{ a | size }}",
    "{{ o | size }}",
    "{{ n | size }}",
    "{{ 'abc' | truncate: 2 }}",
    "{{ 10 | truncate: 1 }}",
    "{{ b | truncatewords: 0 }}",
    "{{ 'a b c' | truncatewords: 3 }}",
    "{{ 'a,b,,' | split: ',' | size }}",
    "{{ 'x' | first }}",
    "{{ '' | first }}",
    # arrays
    '{{ a | join: "-" }}',
    "{{ a | join }}",
    "{{ a | first }}",
    "{{ a | last }}",
    "{{ b | first }}",
    '{{ a | compact | join: "," }}',
    '{{ list2 | join: ";" }}',
    '{{ a | push: 9 | join: "," }}',
    '{{ a | pop | join: "," }}',
    '{{ a | shift | join: "," }}',
    '{{ a | unshift: 0 | join: "," }}',
    '{{ a | slice: 1, 2 | join: "," }}',
    "{{ b | slice: 1, 3 }}",
    "{{ b | slice: -3, 2 }}",
    '{{ arr | sum: "p" }}',
    "{{ a | sum }}",
    '{{ arr | where: "p", 2 | size }}',
    '{{ arr | where: "q" | size }}',
    "{{ (1..3) | join: ',' }}",
    # html, url, encodings, digests
    "{{ b | escape }}",
    "{{ \"<a href='x'>&</a>\" | escape }}",
    '{{ "&amp;<" | escape_once }}',
    '{{ "<p>hi</p>" | strip_html }}',
    "{{ b | url_encode }}",
    '{{ "a+b%20c" | url_decode }}',
    '{{ "a b!\'" | cgi_escape }}',
    '{{ "a b[1]" | uri_escape }}',
    "{{ b | slugify }}",
    "{{ 'x' | slugify: 'pretty' }}",
    "{{ 'Ünïcödé Straße' | slugify: 'latin' }}",
    "{{ b | base64_encode }}",
    '{{ "SGVsbG8=" | base64_decode }}',
    "{{ b | sha256 }}",
    '{{ b | hmac_sha256: "k" }}',
    # default, json, lax filters
    '{{ missing | default: "d" }}',
    '{{ e | default: "d" }}',
    '{{ z | default: "d" }}',
    '{{ z | default: "d", allow_false: true }}',
    '{{ nul | default: "d" }}',
    '{{ 0 | default: "d" }}',
    '{{ a | default: "d" }}',
    "{{ o | json }}",
    "{{ a | json }}",
    "{{ b | json }}",
    "{{ fl | json }}",
    "{{ missing | json }}",
    "{{ o | json: 2 }}",
    "{{ num_s | to_integer }}",
    "{{ b | to_integer }}",
    "{{ a | nosuch }}",
    "{{ b | nosuch: 1 }}",
    "{{ a | nosuchfilter | upcase }}",
    # tags
    "{% assign x = b | upcase %}{{ x }}",
    "{% capture c %}[{{ n }}]{% endcapture %}{{ c }}",
    "{% increment k %}{% increment k %}{{ k }}",
    "{% decrement d %}{{ d }}",
    "{% increment n %}{{ n }}",
    '{% cycle "a", "b" %}{% cycle "a", "b" %}',
    "{% raw %}{{ x }}{% endraw %}",
    "{% echo b %}",
    "{% liquid\nassign y = 3\necho y\n%}",
    "{% comment %}hidden{% endcomment %}",
    "{%- if true -%}  trim  {%- endif -%}",
    "{% break %}after",
    "a{% break %}b",
    "{% assign q = 'x' %}{% increment q %}{{ q }}",
    "{% if false %}{{ a | sort }}{% endif %}ok",
    "{% if z %}A{% elsif n == 5 %}B{% else %}C{% endif %}",
    # dates: JS parsing (ISO text, epoch seconds, day overflow), liquidjs strftime, local time zone
    '{{ ts | date: "%Y-%m-%d %H:%M:%S" }}',
    '{{ ts | date: "%a %A %b %B %h" }}',
    '{{ ts | date: "%c|%x|%X" }}',
    '{{ ts | date: "%C %y %j %U %W %u %w" }}',
    '{{ ts | date: "%e %-e %_d %0e %k %l %I %p %P" }}',
    '{{ ts | date: "%L %N %3N %s %q" }}',
    '{{ ts | date: "%z %:z %Z" }}',
    '{{ ts | date: "%^a %#B %#p %10Y" }}',
    '{{ ts | date: "%E %O %Q %%" }}',
    "{{ ts | date }}",
    '{{ 0 | date: "%Y" }}',
    '{{ "now" | date: "%Y" | size }}',
    '{{ "2026-02-30" | date: "%F %D" }}',
    '{{ "2026-11-29T18:00:00+05:30" | date: "%H:%M %z" }}',
    '{{ "2026-11-29 07:05" | date: "%H:%M" }}',
    '{{ "1700000000" | date: "%s" }}',
    '{{ "junk" | date: "%Y" }}',
    "{{ tiny | date: '%s %L' }}",
    "{{ neg | date: '%s %L %Y' }}",
    "{{ f | date: '%s %L' }}",
    "{{ ts | date_to_xmlschema }}",
    "{{ ts | date_to_rfc822 }}",
    "{{ ts | date_to_string }}",
    "{{ ts | date_to_long_string }}",
    '{{ ts | date_to_string: "ordinal", "US" }}',
    '{{ ts | date_to_long_string: "ordinal" }}',
    "{{ '&lt;' | unescape }}",
    # literals in brackets, `cycle` (falsy values print nothing), filters given more arguments than they take
    "{{ o[true] }}{{ o[nil] }}{{ o[empty] }}{{ a[false] }}",
    '{% cycle false, "b" %}{% cycle false, "b" %}|{% cycle 0 %}|{% cycle nul %}|{% cycle f %}',
    "{{ n | abs: 1 }} {{ f | ceil: 2, 3 }} {{ neg | floor: 'x' }} {{ n | plus: 1, 2 }} {{ n | divided_by: 2, 0, 1 }}",
    "{{ b | append: 'x', 'y' }}",
    "{{ b | prepend: 'x', 'y' }}",
    "{{ b | append: k: 'v' }}",
    "{{ b | append: ['n'] }}|{{ missing | default: ['o'].k, allow_false: true }}|{{ arr | where: 'p', ['n'] | size }}",
    # failures on both sides
    "{% if x %}",
    "{{ a | sort }}",
    "{% case a %}{% when 1 %}{% endcase %}",
    "{% tablerow x in a %}{% endtablerow %}",
    "{% include 'x' %}",
    "{% render 'x' %}",
    "{% layout 'x' %}",
    "{% ifchanged %}x{% endifchanged %}",
    "{% unknown %}",
    "{{ a | map: 'x' }}",
    "{{ a | type }}",
    "{{ 1 | reverse }}",
    "{{ 'x' | append }}",
    "{{ a | concat: a }}",
]


@pytest.mark.oracle
def test_templates_render_like_liquidjs(oracle):
    cases = [{"mapping": {"x": {"@liquid": t}}, "event": p} for t in TEMPLATES for p in PAYLOADS]
    mismatches, _ = liquid_differences(oracle, cases)
    assert mismatches == []


DATES = [
    -62135596801,
    -8.64e12,
    8.64e12,
    8.64e12 + 1,
    253402300800,
    -1e11,
    1700000000.5,
    -0.0005,
    "+275760-09-13T00:00:00Z",
    "-000001-01-01T00:00:00Z",
    "+010000-01-01",
    "0000-03-01",
    "2026-11-29T18:00:00",
    "2024-02-29T23:59:59.999Z",
    "1969-12-31T23:59:59.999Z",
    "-000400-12-31",
    "-000100-12-31",
    "1900-12-31",
    "2026-13-01",
    "2026-11-29T24:00:00Z",
    "2026-11-29T24:01:00Z",
]


@pytest.mark.oracle
def test_dates_across_the_whole_js_range(oracle):
    mapping = {"x": {"@liquid": "{{ d | date: '%Y-%m-%d %H:%M:%S.%L %a %j %U %W %u %C %y %s %c %z' }}"}}
    cases = [{"mapping": mapping, "event": {"d": d}} for d in DATES]
    references = reference_replies(oracle, cases)
    assert [as_text(outcome(mapping, case["event"])) for case in cases] == [as_text(r) for r in references]


@pytest.mark.oracle
@pytest.mark.parametrize(
    "template",
    [f"{{% {tag} x %}}" for tag in liquid.DISABLED_TAGS]
    + [f"{{{{ a | {name} }}}}" for name in liquid.DISABLED_FILTERS],
)
def test_disabled_tags_and_filters_fail_with_segments_message(oracle, template):
    assert len(liquid.DISABLED_TAGS) == 6 and len(liquid.DISABLED_FILTERS) == 20
    mapping, event = {"x": {"@liquid": template}}, {"a": [2, 1]}
    reference = oracle.call("mapping.transform", mapping=mapping, event=event)["error"]
    with pytest.raises(MappingError) as failure:
        transform(mapping, event)
    ours = str(failure.value)
    assert ours.endswith("is disabled") and reference["messages"][0].startswith(ours)
    assert reference["kind"] == "runtime"


@pytest.mark.oracle
@pytest.mark.parametrize("template", ["x" * 1000, "x" * 1001, "😀" * 500, "😀" * 501, "😀" * 499 + "xx"])
def test_length_limit_counts_utf16_units_like_segment(oracle, template):
    mapping = {"x": {"@liquid": template}}
    reference = oracle.call("mapping.transform", mapping=mapping, event={})
    ours = outcome(mapping, {})
    assert same(ours, reference)
    if "error" in ours:
        assert ours["error"]["messages"] == ["liquid template values are limited to 1000 characters"]


def test_render_time_limit(monkeypatch):
    monkeypatch.setattr(liquid, "RENDER_TIME_LIMIT", -1.0)
    with pytest.raises(MappingError, match="render limit"):
        transform({"x": {"@liquid": "{{ a | upcase }}"}}, {"a": "v"})


def test_memory_limit(monkeypatch):
    monkeypatch.setattr(liquid, "MEMORY_LIMIT", 50)
    with pytest.raises(MappingError, match="limit"):
        transform({"x": {"@liquid": "{{ a }}{{ a }}"}}, {"a": "v" * 30})


def test_empty_template_is_empty_text():
    assert transform({"x": {"@liquid": ""}}, {}) == {"x": ""}


def test_counters_do_not_change_the_event():
    event = {"n": 5}
    assert transform({"x": {"@liquid": "{% increment n %}{{ n }}"}}, event) == {"x": "56"}
    assert event == {"n": 5}


def test_python_liquid_globals_are_not_visible():
    assert transform({"x": {"@liquid": "{{ now }}{{ today }}"}}, {}) == {"x": ""}


# --- documented differences (docs/mapping.md, "@liquid differences") ---------------------------------------------


OPERATOR_TEMPLATES = [
    "{% if a contains 'x' %}T{% else %}F{% endif %}",
    "{% if a contains 1 %}T{% else %}F{% endif %}",
    "{% if a contains b %}T{% else %}F{% endif %}",
    "{% if a > 3 %}T{% else %}F{% endif %}",
    "{% if a < b %}T{% else %}F{% endif %}",
    "{% if a <= b %}T{% else %}F{% endif %}",
    "{% if a >= 3 %}T{% else %}F{% endif %}",
    "{% if a == b %}T{% else %}F{% endif %}",
    "{% if a != b %}T{% else %}F{% endif %}",
    "{% if a == a %}S{% endif %}{% if a contains a %}C{% endif %}",
    "{% if b %}B{% elsif a > 3 %}T{% else %}F{% endif %}",
    "{% unless a contains 'x' %}U{% endunless %}",
    "{% if a > 3 and b < 2 or a contains 1 %}T{% else %}F{% endif %}",
    "{% if not a > 3 %}T{% else %}F{% endif %}",
    "{% liquid\nif a >= 3\necho 'T'\nendif %}",
    "{% if a == nil %}N{% endif %}{% if a > nil %}G{% endif %}",
]
OPERATOR_EVENTS = [
    {"a": 0},
    {"a": "7"},
    {"a": "x1"},
    {"a": [1, "x"], "b": "x"},
    {"a": [True], "b": 1},
    {"a": {"x": 1}, "b": "x"},
    {"a": None, "b": -1},
    {"b": 1},
    {"a": "abc", "b": None},
    {"a": "null", "b": None},
    {"a": [1, 2], "b": "1,2"},
    {"a": "10", "b": "9"},
    {"a": True, "b": 0},
    {"a": {"k": 1}, "b": {"k": 1}},
    {"a": [1], "b": [1]},
    {"a": 1.5, "b": "1.5"},
    {"a": "undefined"},
    {"a": "😀", "b": "\uffff"},
    {"a": []},
    {"a": ""},
]


@pytest.mark.oracle
def test_comparisons_follow_liquidjs_across_types(oracle):
    """`==`, `!=`, `<`, `>`, `<=`, `>=` and `contains` compare as liquidjs (JavaScript) does, not as Ruby/Python:
    `"7" > 3`, `{"x": 1} contains "x"` is false, `[true] contains 1` is false, objects equal only themselves."""
    cases = [{"mapping": {"x": {"@liquid": t}}, "event": e} for t in OPERATOR_TEMPLATES for e in OPERATOR_EVENTS]
    mismatches, references = liquid_differences(oracle, cases)
    assert mismatches == []
    assert all("output" in r for r in references)  # every case is a rendering, none an error, on both sides


LITERAL_OBJECT_TEMPLATES = [
    f"{{% if {left} {op} {right} %}}T{{% else %}}F{{% endif %}}"
    for op in ("==", "!=", "<", ">", "<=", ">=", "contains")
    for literal in ("nil", "null", "empty", "blank")
    for left, right in (("v", literal), (literal, "v"))
] + [
    "{% if nil == null %}T{% endif %}{% if empty == empty %}E{% endif %}{% if blank == empty %}B{% endif %}",
    "{% assign x = nil %}{% if x == v %}T{% else %}F{% endif %}{% if x %}X{% endif %}",
    "{% assign x = blank %}{% if x == v %}T{% else %}F{% endif %}{{ x }}",
    "{{ v | where: 'a', nil | size }}/{{ v | where: 'a', empty | size }}/{{ v | where: 'a', blank | size }}",
    "{{ nil | json }}{{ empty | json }}{{ v | default: nil }}{{ v | append: blank }}",
    "{{ v | default: nil | json }}{{ v | default: empty, allow_false: true | json }}{{ v | default: blank | size }}",
]
LITERAL_OBJECT_VALUES = [None, False, True, 0, 1, "", " \t\n", "a", [], [1], [""], {}, {"a": 1}, MISSING]
LITERAL_OBJECT_VALUES.append([{"a": None}, {"a": ""}, {"a": " "}, {"b": 1}, {"a": []}, {"a": False}, {"a": 0}])


@pytest.mark.oracle
def test_nil_empty_blank_compare_as_liquidjs_objects(oracle):
    """liquidjs's `nil`, `empty` and `blank` are objects that decide `==` on either side and make `<` `>` false:
    `blank` equals nil, undefined, `false` and whitespace; `empty` equals `""`, `[]`, `{}`; neither equals itself."""
    cases = [
        {"mapping": {"x": {"@liquid": t}}, "event": {} if v is MISSING else {"v": v}}
        for t in LITERAL_OBJECT_TEMPLATES
        for v in LITERAL_OBJECT_VALUES
    ]
    mismatches, references = liquid_differences(oracle, cases)
    assert mismatches == []
    assert all("output" in r for r in references)
    assert transform({"x": {"@liquid": "{% if v == blank %}blank{% endif %}"}}, {"v": None}) == {"x": "blank"}


GRAMMAR_DIFFERENCES = [
    # (template, event, liquidjs's output, ours: the output, or None for a syntax error)
    ("{{ a == b }}", {"a": 1, "b": 1}, "true", None),
    ('{% assign x = a contains "b" %}{{ x }}', {"a": "abc"}, "true", None),
    ("{{ a b }}", {"a": "A", "b": "B"}, "A", None),
    ("{{ a if b else c }}", {"a": "A", "b": False, "c": "C"}, "A", None),
    ("{{ a .b }}", {"a": {"b": "inner"}, "b": "B"}, "[object Object]", "inner"),
    ("{{ a ['b'] }}", {"a": {"b": "inner"}, "b": "B"}, "[object Object]", "inner"),
    ('{{ "abc".size }}', {}, "3", None),
    ("{{ empty.size }}", {}, "", None),
    ("{{ v | strip: empty }}", {"v": " x "}, " x ", "x"),
    ("{{ nil | date | json }}", {}, "{}", "null"),
]


@pytest.mark.oracle
@pytest.mark.parametrize("template, event, segment, ours", GRAMMAR_DIFFERENCES)
def test_difference_liquidjs_grammar_is_looser(oracle, template, event, segment, ours):
    mapping = {"x": {"@liquid": template}}
    assert oracle.call("mapping.transform", mapping=mapping, event=event) == {"output": {"x": segment}}
    if ours is None:
        with pytest.raises(MappingError):
            transform(mapping, event)
    else:
        assert transform(mapping, event) == {"x": ours}


DATE_TEXTS = [
    "Nov 29 2026",
    " 12 ",
    "Tue, 02 Jan 2024 03:04:05 GMT",
    "March 7, 2020 10:30 pm",
    "2024-01-02T10:00",
    "2024-01-02 10:00:00.5+05:30",
    "12/31/1999 23:59:59 EST",
    "Thu Jan 01 1970 00:00:00 GMT+0100 (CET)",
    "2024-13-01",
    "not a date",
    "Jan 5",
    "24:00",
    "\u00a02024/2/30",
    "+275760-09-13T00:00:00Z",
    "+275760-09-13T00:00:01Z",
]


@pytest.mark.oracle
def test_date_reads_text_as_new_date_does(oracle):
    """liquidjs hands text to `new Date()`, so the legacy forms V8 accepts are dates here too (bad ones pass
    through)."""
    cases = [
        {"mapping": {"x": {"@liquid": '{{ d | date: "%Y-%m-%d %H:%M:%S.%L %z" }}'}}, "event": {"d": d}}
        for d in DATE_TEXTS
    ]
    references = reference_replies(oracle, cases)
    assert [as_text(outcome(c["mapping"], c["event"])) for c in cases] == [as_text(r) for r in references]
    assert sum(r["output"]["x"] not in DATE_TEXTS for r in references) >= 11  # most are dates, the rest pass through


@pytest.mark.oracle
def test_difference_counters_stay_in_the_template(oracle):
    mapping = {"a": {"@liquid": "{% increment n %}"}, "b": {"@path": "$.n"}}
    assert oracle.call("mapping.transform", mapping=mapping, event={}) == {"output": {"a": "0", "b": 1}}
    assert transform(mapping, {}) == {"a": "0"}  # Segment writes the counter into the event; we don't
