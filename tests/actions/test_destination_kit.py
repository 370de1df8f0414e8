"""Destination kit: fields → schema, payload clean-up/coercion/validation with Segment's messages (spec §3.2, §3.3,
§8.3 D1–D9), compared with Segment's actions-core in the same run, and running events through subscriptions."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from actions_1flow.actions import (
    Action,
    Choice,
    CompiledSubscription,
    Destination,
    DestinationSettings,
    Field,
    Filtered,
    PayloadValidationError,
    PayloadValidator,
    Status,
    Subscription,
    default_values,
    fields_to_schema,
    remove_empty_values,
    run_event,
    setting,
)
from actions_1flow.mapping import MISSING
from tests.helpers.kit import segment_fields

# Spec §8.3: one action with these fields.
D_FIELDS = {
    "userId": Field("User ID", type="string", required=True),
    "count": Field("Count", type="integer"),
    "tags": Field("Tags", type="string", multiple=True),
    "nullable": Field("Nullable", type="string", allow_null=True),
    "color": Field("Color", type="string", choices=("red", "blue")),
}
D_VALIDATOR = PayloadValidator(fields_to_schema(D_FIELDS))

RICH_FIELDS = {
    "name": Field("Name", description="who", type="string", minimum=2, maximum=5),
    "text": Field("Notes", type="text"),
    "secret": Field("Secret", type="password"),
    "score": Field("Score", type="number", minimum=1, maximum=10),
    "zero_min": Field("Zero", type="number", minimum=0),
    "when": Field("When", type="datetime"),
    "maybe_when": Field("Maybe When", type="datetime", allow_null=True),
    "flag": Field("Flag", type="boolean"),
    "nums": Field("Numbers", type="integer", multiple=True),
    "level": Field(
        "Level", type="string", choices=(Choice("lo", "Low"), Choice("hi", "High")), allow_null=True, multiple=True
    ),
    "obj": Field("Object", type="object"),
    "maybe_obj": Field("Maybe Object", type="object", allow_null=True),
    "address": Field(
        "Address",
        type="object",
        properties={"street": Field("Street", required=True), "zip": Field("Zip", type="integer")},
    ),
    "open": Field("Open", type="object", additional_properties=True, properties={"a": Field("A", type="number")}),
    "items": Field(
        "Items",
        type="object",
        multiple=True,
        properties={"sku": Field("SKU", required=True), "qty": Field("Qty", type="integer")},
    ),
}


def as_js(value):
    """A JSON value as JS holds it (every number a double), so results compare across the two runtimes."""
    if isinstance(value, dict):
        return {k: as_js(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_js(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def validate(payload, validator=D_VALIDATOR, batch=False):
    try:
        return {"payload": validator(payload, batch=batch)}
    except PayloadValidationError as exc:
        return {"error": str(exc)}


class TestSpecCatalogue:
    """Spec §8.3 rows, as literal expectations."""

    def test_d1_missing_required_field(self):
        with pytest.raises(PayloadValidationError) as err:
            D_VALIDATOR({"count": 1})
        assert str(err.value) == "The root value is missing the required field 'userId'."
        assert err.value.status == 400 and err.value.messages == [str(err.value)]

    def test_d2_coercions(self):
        assert D_VALIDATOR({"userId": 123, "count": "5", "tags": "x"}) == {"userId": "123", "count": 5, "tags": ["x"]}

    def test_d3_empty_values_removed(self):
        assert D_VALIDATOR({"userId": "u", "count": "", "nullable": None, "color": ""}) == {
            "userId": "u",
            "nullable": None,
        }

    @pytest.mark.parametrize("value", ["", None])
    def test_d4_empty_required_field_is_missing(self, value):
        with pytest.raises(PayloadValidationError, match=r"^The root value is missing the required field 'userId'\.$"):
            D_VALIDATOR({"userId": value})

    def test_d5_unknown_key_removed(self):
        assert D_VALIDATOR({"userId": "u", "zzz": 1}) == {"userId": "u"}

    def test_d6_all_errors_in_order(self):
        with pytest.raises(PayloadValidationError) as err:
            D_VALIDATOR({"userId": {"a": 1}, "color": "green"})
        assert str(err.value) == 'User ID must be a string but it was an object. Color must be one of: "red" or "blue".'

    def test_d7_null_items_dropped_and_items_coerced(self):
        assert D_VALIDATOR({"userId": "u", "tags": [1, True, None]}) == {"userId": "u", "tags": ["1", "true"]}

    def test_d9_batch_mode_keeps_root_empty_strings(self):
        fields = {"s": Field("S", type="string"), "n": Field("N", type="number")}
        validator = PayloadValidator(fields_to_schema(fields))
        assert validator({"s": "", "n": ""}, batch=True) == {"s": ""}
        assert validator({"s": "", "n": ""}) == {}


class TestCoercionTable:
    """Spec §3.3's coercions at the root."""

    @pytest.mark.parametrize(
        ("kind", "value", "expected"),
        [
            ("string", 1.5, "1.5"),
            ("string", False, "false"),
            ("string", 1e21, "1e+21"),
            ("string", 100.0, "100"),
            ("string", ["a"], "a"),
            ("number", " 12 ", 12),
            ("number", "1e3", 1000),
            ("number", True, 1),
            ("integer", "7", 7),
            ("boolean", "true", True),
            ("boolean", "false", False),
            ("boolean", 1, True),
            ("boolean", 0, False),
        ],
    )
    def test_accepted(self, kind, value, expected):
        validator = PayloadValidator(fields_to_schema({"v": Field("V", type=kind)}))
        result = validator({"v": value})["v"]
        assert result == expected and type(result) is type(expected)

    @pytest.mark.parametrize(
        ("kind", "value", "message"),
        [
            ("string", ["a", "b"], "V must be a string but it was an array."),
            ("number", "abc", "V must be a number but it was a string."),
            ("integer", "5.5", "V must be an integer but it was a string."),
            ("boolean", "TRUE", "V must be a boolean but it was a string."),
            ("boolean", "no", "V must be a boolean but it was a string."),
            ("object", [{}], "V must be an object but it was an array."),
        ],
    )
    def test_refused(self, kind, value, message):
        validator = PayloadValidator(fields_to_schema({"v": Field("V", type=kind)}))
        with pytest.raises(PayloadValidationError) as err:
            validator({"v": value})
        assert str(err.value) == message


class TestMessages:
    validator = PayloadValidator(fields_to_schema(RICH_FIELDS))

    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            ({"name": "a"}, "Name must be 2 characters or more but it was 1 character."),
            ({"name": "abcdefg"}, "Name must be 5 characters or fewer but it was 7 characters."),
            ({"score": 0.5}, "Score must be equal to or greater than 1."),
            ({"score": "11"}, "Score must be equal to or less than 10."),
            ({"when": "not a date"}, "When must be a valid date-like string but it was not."),
            ({"when": True}, "When must be a valid date-like string but it was not."),
            ({"when": {}}, "When must be a string or number but it was an object."),
            ({"maybe_when": []}, "Maybe When must be a string, number, or null but it was an array."),
            ({"level": ["mid"]}, 'The value at /level/0 must be one of: "lo", "hi", or null.'),
            (
                {"address": {"zip": "x"}},
                "Address is missing the required field 'street'. Zip must be an integer but it was a string.",
            ),
            ({"address": "5th Ave"}, "Address must be an object but it was a string."),
            ({"items": [{"qty": 1}]}, "The value at /items/0 is missing the required field 'sku'."),
            ({"nums": [1, "x"]}, "The value at /nums/1 must be an integer but it was a string."),
            ({"maybe_obj": 5}, "Maybe Object must be an object or null but it was a number."),
        ],
    )
    def test_messages(self, payload, message):
        assert validate(payload, self.validator) == {"error": message}

    def test_nested_objects_drop_unknown_keys_unless_open(self):
        result = self.validator(
            {"address": {"street": "Main", "x": 1}, "open": {"a": "2", "b": 3}, "obj": {"any": [1]}}
        )
        assert result == {"address": {"street": "Main"}, "open": {"a": 2, "b": 3}, "obj": {"any": [1]}}

    def test_zero_minimum_is_ignored_like_segment(self):
        assert self.validator({"zero_min": -5}) == {"zero_min": -5}


class TestRemoveEmptyValues:
    schema = fields_to_schema(D_FIELDS)

    def test_missing_list_items_are_dropped_for_typed_lists(self):
        assert remove_empty_values({"tags": ["a", MISSING, None, ""]}, self.schema, True) == {"tags": ["a", ""]}

    def test_keys_without_schema_are_kept_unless_empty_at_root(self):
        assert remove_empty_values({"zzz": "", "yyy": None}, self.schema, True) == {"yyy": None}
        assert remove_empty_values({"zzz": ""}, self.schema, False) == {"zzz": ""}

    def test_untyped_values_are_untouched(self):
        assert remove_empty_values({"a": None}, {}) == {"a": None}
        schema = fields_to_schema({"o": Field("O", type="object")})
        assert remove_empty_values({"o": {"x": None, "y": [MISSING]}}, schema, True) == {
            "o": {"x": None, "y": [MISSING]}
        }


def test_default_values_keep_null_and_skip_unset_in_field_order():
    fields = {
        "a": Field("A", default={"@path": "$.a"}),
        "b": Field("B"),
        "c": Field("C", default=None),
        "d": Field("D", default=0),
    }
    assert list(default_values(fields).items()) == [("a", {"@path": "$.a"}), ("c", None), ("d", 0)]


# --- the same in Segment's actions-core ---------------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("fields", [D_FIELDS, RICH_FIELDS], ids=["spec-8.3", "rich"])
def test_schema_equals_segments(oracle, fields):
    ours = json.loads(json.dumps(fields_to_schema(fields)))
    assert ours == oracle.call("kit.schema", fields=segment_fields(fields))


ORACLE_CASES = [
    (D_FIELDS, {"count": 1}),
    (D_FIELDS, {"userId": 123, "count": "5", "tags": "x"}),
    (D_FIELDS, {"userId": "u", "count": "", "nullable": None, "color": ""}),
    (D_FIELDS, {"userId": ""}),
    (D_FIELDS, {"userId": None}),
    (D_FIELDS, {"userId": "u", "zzz": 1}),
    (D_FIELDS, {"userId": {"a": 1}, "color": "green"}),
    (D_FIELDS, {"userId": "u", "tags": [1, True, None]}),
    (D_FIELDS, {"userId": "u", "color": {"a": 1}}),
    (D_FIELDS, {"userId": [5]}),
    (D_FIELDS, {"userId": [{"a": 1}]}),
    (D_FIELDS, {"userId": "u", "count": "  "}),
    (D_FIELDS, {"userId": "u", "count": "0x10"}),
    (D_FIELDS, {"userId": "u", "nullable": ["x"]}),
    (D_FIELDS, {"userId": "u", "nullable": 0}),
    (D_FIELDS, {"userId": "u", "color": ["red"]}),
    (D_FIELDS, {"userId": "u", "color": 5}),
    (RICH_FIELDS, {"name": "a"}),
    (RICH_FIELDS, {"name": "a😀"}),
    (RICH_FIELDS, {"name": "abcdefg", "score": "11", "when": {}, "flag": "TRUE"}),
    (RICH_FIELDS, {"maybe_when": [], "level": ["mid", None, "lo"], "nums": ["1", "x", 2.0]}),
    (
        RICH_FIELDS,
        {
            "address": {"zip": "x", "other": 1},
            "items": [{"qty": "2", "z": 1}, {"sku": None}],
            "open": {"a": [3], "b": None},
        },
    ),
    (RICH_FIELDS, {"when": "2024-01-02", "maybe_when": None, "text": 5, "secret": True, "maybe_obj": ""}),
    (RICH_FIELDS, {"address": "x", "items": "y", "obj": [], "level": "hi"}),
]


@pytest.mark.oracle
def test_validation_equals_segments_on_catalogue(oracle):
    cases = [{"fields": segment_fields(f), "payload": p, "batch": b} for f, p in ORACLE_CASES for b in (False, True)]
    expected = oracle.call("kit.validateMany", cases=cases)
    ours = []
    for (fields, payload), batch in ((c, b) for c in ORACLE_CASES for b in (False, True)):
        result = validate(payload, PayloadValidator(fields_to_schema(fields)), batch=batch)
        ours.append(as_js(result))
    for case, mine, theirs in zip(cases, ours, expected):
        theirs = {k: v for k, v in theirs.items() if k != "name"}
        assert mine == as_js(theirs), case


@pytest.mark.oracle
def test_string_lengths_count_utf16_units_like_segment(oracle):
    """ajv's maxLength/minLength message reports JS `.length`; a lone surrogate is one unit there too."""
    fields = {"name": RICH_FIELDS["name"]}
    payloads = [{"name": s} for s in ("abc\ud800defg", "\udc00", "a\ud83d\ude00\ud83d\ude00\ud83d\ude00", "ab\ud800")]
    expected = oracle.call(
        "kit.validateMany", cases=[{"fields": segment_fields(fields), "payload": p, "batch": False} for p in payloads]
    )
    ours = [validate(p, PayloadValidator(fields_to_schema(fields))) for p in payloads]
    # ASCII-escaped JSON compares the UTF-16 units (Python holds an astral character either joined or as halves).
    assert json.dumps(ours) == json.dumps([{k: v for k, v in r.items() if k != "name"} for r in expected])


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "1",
            "-1",
            " 12 ",
            "1e3",
            "0x1f",
            "5.5",
            "true",
            "false",
            "TRUE",
            "abc",
            "red",
            "blue",
            "2024-01-02",
            "lo",
            "hi",
            "a😀",
        ]
    ),
    st.text(max_size=6),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "sku", "qty", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)
_payloads = st.dictionaries(st.sampled_from(sorted({*D_FIELDS, *RICH_FIELDS, "zzz"})), _values, max_size=6)


@pytest.mark.oracle
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(_payloads, min_size=8, max_size=8), batch=st.booleans())
def test_validation_equals_segments_on_generated_payloads(oracle, payloads, batch):
    for fields in (D_FIELDS, RICH_FIELDS):
        validator = PayloadValidator(fields_to_schema(fields))
        cases = [{"fields": segment_fields(fields), "payload": p, "batch": batch} for p in payloads]
        expected = oracle.call("kit.validateMany", cases=cases)
        for payload, theirs in zip(payloads, expected):
            theirs = {k: v for k, v in theirs.items() if k != "name"}
            assert as_js(validate(payload, validator, batch=batch)) == as_js(theirs), payload


# --- running events through subscriptions -----------------------------------------------------------------------


def _echo(data):
    return [dict(data.payload)]


class KitSettings(DestinationSettings):
    apiKey: SecretStr = setting("API Key", "")


KIT_DESTINATION = Destination(
    name="Kit Test",
    slug="kit-test",
    mode="cloud",
    description="",
    settings_model=KitSettings,
    actions={
        "needsUser": Action(
            "Needs User", "", {"userId": Field("User ID", required=True), "n": Field("N", type="integer")}, _echo
        ),
        "skipper": Action("Skipper", "", {"userId": Field("User ID")}, lambda data: Filtered("skipped on purpose")),
        "broken": Action("Broken", "", {}, lambda data: 1 / 0),
    },
)


def compiled(name, subscribe, action, mapping, enabled=True):
    return CompiledSubscription(Subscription(name, subscribe, action, mapping, enabled))


def test_d8_each_subscription_keeps_its_own_result():
    subs = [
        compiled("first", 'type = "track"', "needsUser", {"userId": {"@path": "$.userId"}, "n": "3"}),
        compiled("second", 'type = "track"', "needsUser", {"userId": {"@path": "$.nobody"}}),
        compiled("third", 'type = "identify"', "needsUser", {"userId": {"@path": "$.userId"}}),
        compiled("fourth", 'type = "track"', "skipper", {}),
        compiled("fifth", 'type = "track"', "broken", {}),
        compiled("sixth", 'type = "track"', "unknownAction", {}),
        compiled("seventh", 'type = "track"', "needsUser", {"userId": "x"}, enabled=False),
    ]
    results = run_event(KIT_DESTINATION, subs, {"type": "track", "userId": "u-1"}, {"apiKey": "k"})
    assert [(r.subscription.name, r.status) for r in results] == [
        ("first", Status.READY),
        ("second", Status.INVALID),
        ("third", Status.NOT_SUBSCRIBED),
        ("fourth", Status.FILTERED),
        ("fifth", Status.FAILED),
        ("sixth", Status.FAILED),
        ("seventh", Status.DISABLED),
    ]
    first, second, third, fourth, fifth, sixth, _ = results
    assert first.messages == [{"userId": "u-1", "n": 3}] and first.log == [
        "Mappings resolved",
        "Payload validated",
        "Action Executed",
    ]
    assert second.reason == "The root value is missing the required field 'userId'." and second.log == [
        "Mappings resolved"
    ]
    assert third.reason == 'the event does not match the trigger type = "identify"'
    assert fourth.reason == "skipped on purpose"
    assert "division by zero" in fifth.reason and "unknown action 'unknownAction'" in sixth.reason
    assert not first.failed and second.failed and fifth.failed and not fourth.failed


def test_run_event_refuses_non_objects():
    with pytest.raises(TypeError, match="must be a JSON object"):
        run_event(KIT_DESTINATION, [], [], {})
