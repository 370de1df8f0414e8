"""JS `Date.parse` as node's V8 reads text (`actions_1flow/jsdate.py`), and Segment's `date-like` format built on it.

The literal table pins V8's rules (values taken from node with TZ=UTC); the property tests compare every generated
text with node itself, in whatever time zone the run has, for `Date.parse` and for actions-core's ajv format.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions_1flow import jsdate
from actions_1flow.actions.dates import is_date_like

UTC_CASES = [
    (" 12 ", 1007164800000),  # a lone number is a month: December 1st of 2001
    ("12", 1007164800000),
    ("Jan 5", 978652800000),
    ("2024", 1704067200000),
    ("2024-01-02", 1704153600000),  # date-only ISO text is UTC; date-time text without an offset is local
    ("2024-01-02T10:00", 1704189600000),
    ("2024-01-02T24:00", 1704240000000),
    ("2024-01-02T24:01", None),
    ("2024-02-30", 1709251200000),  # days roll over into the next month
    ("2024-13-01", None),
    ("2024-01-02 10:00", 1704189600000),
    ("Tue, 02 Jan 2024 03:04:05 GMT", 1704164645000),
    ("March 7, 2020 10:30 pm", 1583620200000),
    ("Tue March 7 2020 10:00 pm (CET)", 1583618400000),  # parenthesised text is a comment
    ("12/31/1999 23:59:59 EST", 946702799000),
    ("Thu Jan 01 1970 00:00:00 GMT+0100 (Central European Standard Time)", -3600000),
    ("GMT+5 2020-01-01", None),
    ("2020-01-01 x", None),  # words after the first number must be month, zone or am/pm
    ("x 2020-01-01", 1577836800000),  # ... before it, anything goes
    ("x2020", None),  # ... but apart from it
    ("1.2.2020", 1577923200000),
    ("10:00 2020-1-2", 1577959200000),
    ("2020-01-02 10:00:00.1234567891", 1577959200123),
    ("2020-01-02T10:00:00.0985510553Z", 1577959200985),  # leading zeros do not count among the nine digits
    ("+275760-09-13T00:00:00Z", 8640000000000000),  # the last valid JS date
    ("+275760-09-13T00:00:00.001Z", None),
    ("-000000-01-01", 978307200000),  # -000000 is not an ISO year, so the legacy rules read it
    ("-000001-01-01T00:00:00Z", -62198755200000),
    ("2020\x00garbage", 1577836800000),  # NUL ends the text
    ("\ufeff2020-1-1", 1577836800000),  # JS white space, not only ASCII
    ("99 Jan", 915148800000),
    ("50-1-1", -631152000000),  # two-digit years: 50-99 are 19xx, 0-49 are 20xx
    ("49-1-1", 2493072000000),
    ("Septembre 2", 999388800000),  # a month is any word starting with its three letters
    ("2020 am", None),
    ("13:00 pm 2020-1-1", None),
    ("2020-01-01 10:00 +0530", 1577853000000),
    ("2020-01-01 10:00 UTC+05:30", 1577853000000),
    ("(a(b)c) 1 2 3", 1041465600000),
    ("1 2 3 4", None),
    ("2020-01-01T10:00:00+24:00", None),
    ("", None),
    ("not a date", None),
]


@pytest.fixture
def utc(monkeypatch):
    """Run in UTC whatever the machine's zone, as the table's values are for UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("text, expected", UTC_CASES)
def test_v8_rules(utc, text, expected):
    assert jsdate.parse(text) == expected


@pytest.mark.oracle
def test_literal_table_agrees_with_node(oracle):
    texts = [text for text, _ in UTC_CASES]
    assert [jsdate.parse(t) for t in texts] == oracle.call("date.parseMany", texts=texts)


@pytest.mark.parametrize(
    "text, valid",
    [
        ("2024-01-02", True),
        ("2024-01-02T03:04:05.123+02:00", True),
        ("1704153600", True),
        ("1704153600000", True),
        ("9e12", False),
        ("-0", True),
        (" 12 ", True),
        ("2024-1-2 3:4:5.678912", True),
        ("2024-01-02Z", True),
        ("２０２４", False),
        ("2024\n", True),
        ("Tue, 02 Jan 2024 03:04:05 GMT", True),
        ("March 7, 2020", True),
        ("not a date", False),
        ("", False),
        ("NaN", False),
        ("Infinity", False),
    ],
)
def test_date_like(text, valid):
    """dayjs: canonical numbers are unix seconds, `YYYY-MM-DD hh:mm:ss`-style text is its own, the rest `new Date`."""
    assert is_date_like(text) is valid


# --- generated text, compared with node --------------------------------------------------------------------------

WORDS = [
    "Jan",
    "january",
    "FEB",
    "Mar",
    "march",
    "apr",
    "May",
    "jun",
    "JUL",
    "Aug",
    "sep",
    "Sept",
    "oct",
    "Nov",
    "dec",
    "decx",
    "Mon",
    "Tue",
    "Wednesday",
    "am",
    "PM",
    "a",
    "p",
    "UTC",
    "utc",
    "GMT",
    "UT",
    "Z",
    "z",
    "T",
    "t",
    "EST",
    "edt",
    "CST",
    "cdt",
    "MST",
    "mdt",
    "PST",
    "pdt",
    "x",
    "foo",
    "Tx",
    "zz",
    "\u00a0",
    "\ufeff",
    "\u2028",
    "é",
    "😀",
    "_",
    "[",
    "`",
    "{",
]
SEPARATORS = [" ", "-", "+", ":", ".", ",", "/", "(", ")", "(x)", "((a)b)", "\t", "\n", "\x00", "::", "#", "'"]
SPECIAL_NUMBERS = [
    "0",
    "1",
    "12",
    "13",
    "23",
    "24",
    "31",
    "32",
    "49",
    "50",
    "59",
    "60",
    "99",
    "100",
    "999",
    "1000",
    "1970",
    "2024",
    "275760",
    "275761",
    "10000",
    "999999",
    "1000000",
    "1704153600",
    "1704153600000",
    "-0",
    "1e3",
    "0x10",
    "NaN",
]

_numbers = st.one_of(st.text(alphabet="0123456789", min_size=1, max_size=13), st.sampled_from(SPECIAL_NUMBERS))
_soup = st.lists(st.one_of(_numbers, st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=9).map("".join)


@st.composite
def _iso_like(draw) -> str:
    """ES date-time text, often slightly wrong: out-of-range parts, other separators, extra words."""
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    text = sign + (f"{draw(st.integers(0, 300_000)):06d}" if sign else f"{draw(st.integers(0, 9999)):04d}")
    if draw(st.booleans()):
        text += f"-{draw(st.integers(0, 13)):02d}"
        if draw(st.booleans()):
            text += f"-{draw(st.integers(0, 32)):02d}"
    if draw(st.booleans()):
        text += (
            draw(st.sampled_from(["T", "t", " ", ""]))
            + f"{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 60)):02d}"
        )
        if draw(st.booleans()):
            text += f":{draw(st.integers(0, 60)):02d}"
            if draw(st.booleans()):
                text += "." + draw(st.text(alphabet="0123456789", min_size=0, max_size=11))
        text += draw(st.sampled_from(["", "Z", "z", "+01:00", "-0530", "+24:00", "+1", " GMT", "+05", " pm", " (x)"]))
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(SEPARATORS + WORDS)) + text[at:]
    return text


DATE_TEXTS = st.one_of(_soup, _iso_like())


@pytest.mark.oracle
@settings(max_examples=40, deadline=None)
@given(texts=st.lists(DATE_TEXTS, min_size=250, max_size=250))
def test_parse_equals_nodes(oracle, texts):
    assert [jsdate.parse(t) for t in texts] == oracle.call("date.parseMany", texts=texts)


@pytest.mark.oracle
@settings(max_examples=20, deadline=None)
@given(texts=st.lists(DATE_TEXTS, min_size=250, max_size=250))
def test_date_like_equals_segments(oracle, texts):
    """The `date-like` format of a `datetime` field, against actions-core's ajv format."""
    assert [is_date_like(t) for t in texts] == oracle.call("date.likeMany", texts=texts)
