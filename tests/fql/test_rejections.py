"""One test per rejection rule of DESIGN §2.2 (and the further misreadings found against Segment): each raises
FQLSyntaxError naming the problem at the right column."""

from __future__ import annotations

import pytest

from actions_1flow import fql


def rejects(text: str, position: int, *fragments: str) -> None:
    with pytest.raises(fql.FQLSyntaxError) as caught:
        fql.parse(text)
    error = caught.value
    assert error.position == position, error
    for fragment in fragments:
        assert fragment in error.message, error
    assert error.text == text


# -- DESIGN §2.2, in its order ---------------------------------------------------------------------------------


def test_unknown_field() -> None:
    rejects('type = "track" and foo = "bar"', 19, "unknown field 'foo'")


def test_unknown_field_is_case_sensitive() -> None:
    rejects('Type = "track"', 0, "unknown field 'Type'", "case-sensitive")


def test_unknown_token() -> None:
    rejects('type = "track" $', 15, "unexpected character '$'")


def test_capital_connectives() -> None:
    rejects('type = "track" AND event = "x"', 15, "connectives are lowercase", "'and'")
    rejects('type = "track" OR event = "x"', 15, "connectives are lowercase", "'or'")


def test_mixed_connectives_at_one_level() -> None:
    rejects('type = "track" and event = "A" or event = "B"', 31, "'and' and 'or' mixed at one level")
    rejects('(type = "a" or type = "b" and event = "c")', 26, "'or' and 'and' mixed at one level")


def test_single_quoted_string() -> None:
    rejects("type = 'track'", 7, "single-quoted string", "double quotes")


def test_negation_of_a_non_function() -> None:
    rejects('!type = "track"', 0, "'!' can only negate contains() or match()")
    rejects('!(type = "track")', 0, "'!' can only negate contains() or match()")


def test_two_character_operators_need_a_space_after() -> None:
    rejects("properties.a <=5", 13, "'<=' must be followed by a space")
    rejects("properties.a >=5", 13, "'>=' must be followed by a space")
    rejects('event !="x"', 6, "'!=' must be followed by a space")
    rejects("userId!=null", 6, "'!=' must be followed by a space")


def test_missing_value() -> None:
    rejects("type =", 6, "expected a value after '='", "the end")
    rejects("type", 4, "expected an operator", "the end")


def test_missing_connective() -> None:
    rejects('type = "track" type = "page"', 15, "expected 'and', 'or' or the end", "'type'")
    rejects('type = "track",', 14, "expected 'and', 'or' or the end", "','")


def test_match_pattern_without_a_leading_or_trailing_star() -> None:
    rejects('match(event, "Order")', 13, "match() patterns need a leading or trailing '*'")


def test_match_pattern_with_a_star_in_the_middle() -> None:
    rejects('match(event, "O*der")', 13, "'*' only at its start or its end")
    rejects('match(event, "*Ord*")', 13, "'*' only at its start or its end")


def test_event_and_type_compared_with_null() -> None:
    rejects("event = null", 8, "'event' cannot be compared with null")
    rejects("event != null", 9, "'event' cannot be compared with null")
    rejects("type = null", 7, "'type' cannot be compared with null")


def test_numbers_with_exponents_or_trailing_letters() -> None:
    rejects("properties.a = 1e5", 15, "malformed number '1e5'")
    rejects("userId = 123abc", 9, "malformed number '123abc'")
    rejects("properties.a = -", 15, "expected a number after '-'")


def test_escapes_in_field_names_are_accepted() -> None:  # the positive side of "`\` escapes in field names"
    assert fql.parse('properties.my\\ key = "v"').ast["children"][0]["name"] == "my key"


# -- structure ---------------------------------------------------------------------------------------------------


def test_nested_parentheses() -> None:
    rejects('((type = "track"))', 1, "nested parentheses are not supported")
    rejects('type = "a" and (event = "b" or (event = "c"))', 31, "nested parentheses")


def test_unbalanced_and_empty_parentheses() -> None:
    rejects('(type = "track"', 15, "missing ')' to close the '(' at column 1")
    rejects('type = "track")', 14, "unmatched ')'")
    rejects("()", 0, "empty parentheses")


def test_leading_and_trailing_connectives() -> None:
    rejects('and type = "track"', 0, "expected a condition before 'and'")
    rejects('type = "track" and', 18, "expected a condition after 'and'", "the end")


def test_empty_text() -> None:
    rejects("", 0, "empty trigger")
    rejects("  \n ", 4, "empty trigger")


def test_double_equals() -> None:
    rejects('type == "track"', 5, "'==' is not an operator")


# -- fields ------------------------------------------------------------------------------------------------------


def test_bare_nested_root_and_sub_fields_of_top_level_fields() -> None:
    rejects('properties = "x"', 0, "'properties' needs a name after it")
    rejects('event.name = "x"', 0, "'event' has no sub-fields")


def test_names_that_read_javascript_builtins() -> None:
    rejects('properties.constructor = "x"', 0, "'constructor' names a JavaScript built-in")
    rejects("properties.a.__proto__ != null", 0, "'__proto__' names a JavaScript built-in")


def test_names_with_no_path_segment() -> None:
    rejects("properties.\\. = 1", 0, "names no field")


def test_name_ending_in_a_keyword_segment() -> None:
    rejects("properties.and = 1", 11, "final '.and' as the keyword and")


def test_brackets_and_numeric_segments() -> None:
    rejects("properties.a[0] = 1", 12, "expected a space between 'properties.a' and '['")
    rejects("properties.0 = 1", 11, "expected a name after 'properties.'")


# -- values ------------------------------------------------------------------------------------------------------


def test_string_run_into_the_next_word() -> None:
    rejects('type="track"and event="x"', 12, "expected a space after the string, found 'a'")


def test_backslash_before_a_closing_quote() -> None:
    rejects('event = "a\\"b"', 10, "FQL strings have no escapes")


def test_unterminated_string() -> None:
    rejects('event = "unterminated', 8, "unterminated string")


def test_not_equal_to_a_boolean() -> None:
    rejects("properties.flag != true", 19, "'properties.flag != true' is not supported")
    rejects("userId != false", 10, "'userId != false' is not supported")


def test_ordering_needs_a_number() -> None:
    rejects('properties.total > "5"', 19, "'>' compares numbers")
    rejects("properties.total < null", 19, "'<' compares numbers")


def test_number_that_segment_rewrites_as_text() -> None:
    rejects("userId = 007", 9, 'Segment reads 007 as the text "7"')


def test_number_out_of_range() -> None:
    rejects("properties.a = 1" + "0" * 400, 15, "number out of range")


def test_word_truncated_by_segments_lexer_at_the_end() -> None:
    rejects("type = ab", 7, "Segment reads 'ab' at the very end as 'a'")
    rejects("type = nul", 7, "Segment reads 'nul' at the very end as 'n'")
    assert fql.parse("type = ab ").ast["children"][0]["value"] == "ab"


# -- functions ---------------------------------------------------------------------------------------------------


def test_function_punctuation() -> None:
    rejects('contains(event, "x"', 19, "expected ')' to close contains()")
    rejects('contains(properties.tags "x")', 25, "expected ',' after the field in contains()")
    rejects("contains(event, x)", 16, "needs a double-quoted string as its 2nd argument")


def test_function_on_type() -> None:
    rejects('contains(type, "tr")', 9, "contains() cannot test 'type'")


# -- characters ----------------------------------------------------------------------------------------------------


def test_carriage_return_and_control_characters() -> None:
    rejects('type = "track"\r', 14, "found U+000D")
    rejects('type = "track" and \x00', 19, "unexpected character U+0000")


# -- rendering -----------------------------------------------------------------------------------------------------


def test_error_shows_a_caret_under_the_column() -> None:
    with pytest.raises(fql.FQLSyntaxError) as caught:
        fql.parse('type = "track" and foo = "bar"')
    assert str(caught.value).splitlines() == [
        "unknown field 'foo' (fields are type, event, name, userId, properties.*, traits.*, context.*) (column 20)",
        '  type = "track" and foo = "bar"',
        "                     ^",
    ]


def test_error_on_a_later_line_shows_that_line() -> None:
    with pytest.raises(fql.FQLSyntaxError) as caught:
        fql.parse('event = "x" or\n\tfoo = 1')
    error = caught.value
    assert (error.position, error.line, error.column) == (16, 2, 1)
    assert str(error).splitlines()[1:] == ["  \tfoo = 1", "  \t^"]


def test_error_in_a_long_line_shows_a_window_around_the_column() -> None:
    text = 'event = "' + "x" * 500 + '" and foo = 1'
    with pytest.raises(fql.FQLSyntaxError) as caught:
        fql.parse(text)
    _, shown, caret = str(caught.value).splitlines()
    assert shown.startswith("  …") and len(shown) < 100
    assert shown[caret.index("^") :].startswith("foo = 1")


def test_non_text_input() -> None:
    with pytest.raises(fql.FQLSyntaxError, match="FQL must be text"):
        fql.parse(None)  # type: ignore[arg-type]
