"""liquidjs's filters with JavaScript semantics, for python-liquid (`@liquid`).

python-liquid's own filters follow Ruby Liquid (decimal arithmetic, `str()` of Python values, Python string
methods); Segment's templates run on liquidjs, whose filters work on JS numbers and UTF-16 strings. These
replace them, filter by filter, following liquidjs 10.30. The one liquidjs filter not here, `sample` (random),
passes its input through, as unknown filters do in lax mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from liquid.exceptions import FilterError
from liquid.undefined import Undefined

from ..jsvalues import (
    MISSING,
    WHITESPACE,
    as_double,
    char_at,
    is_array_index,
    join_surrogates,
    json_stringify,
    number_to_string,
    to_lower_case,
    to_number,
    to_string,
    to_upper_case,
    trim,
    truthy,
    utf16_length,
    utf16_units,
)
from . import liquid_dates
from .liquid_operators import DROPS, PLAIN, drop_value, liquid_equals

Filter = Callable[..., Any]
FILTERS: dict[str, Filter] = {}


def _filter(*names: str) -> Callable[[Filter], Filter]:
    def register(fn: Filter) -> Filter:
        for name in names:
            FILTERS[name] = fn
        return fn

    return register


def disabled(name: str) -> Filter:
    """A filter Segment disables: using it fails the render."""

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise FilterError(f'filter "{name}" is disabled', token=None)

    return fail


# --- liquidjs value helpers ------------------------------------------------------------------------------------


def value(x: Any) -> Any:
    """python-liquid's values as JS values: Undefined is MISSING, ranges are arrays, the literal objects `nil`,
    `empty` and `blank` their values (None, `""`, `""`: liquidjs's `toValue`)."""
    t = type(x)
    if t in PLAIN:  # first: isinstance() against Undefined is slow
        return x
    if isinstance(x, Undefined):
        return MISSING
    if t is range:
        return list(x)
    return drop_value(x)


def _held(x: Any) -> Any:
    """A filter argument as liquidjs hands it over: a literal object (`nil`, `empty`, `blank`) stays the object."""
    return x if type(x) in DROPS else value(x)


def text(x: Any) -> str:
    """liquidjs `stringify`: nil prints nothing, arrays print their items with no separator."""
    x = value(x)
    if type(x) is str:
        return x
    if x is None or x is MISSING:
        return ""
    if type(x) is list:
        return "".join(text(v) for v in x)
    return to_string(x)


def number(x: Any) -> float | int:
    """liquidjs `toNumber`: `+x || 0`."""
    n = to_number(value(x))
    return n if n == n and n != 0 else 0


def _array(x: Any) -> list:
    """liquidjs `toArray`."""
    x = value(x)
    if x is None or x is MISSING:
        return []
    return x if type(x) is list else [x]


def _nil(x: Any) -> bool:
    return x is None or x is MISSING


def _truthy(x: Any) -> bool:
    """JS truthiness (liquidjs filters test their arguments with `if (arg)`)."""
    return truthy(value(x))


def _given(x: Any, default: Any) -> Any:
    """A filter argument, or its JS default parameter when undefined."""
    x = value(x)
    return default if x is MISSING else x


def read_property(obj: Any, key: Any) -> Any:
    """liquidjs `readProperty`: own properties, then `size`, `first`, `last`; MISSING when undefined; null has only
    null properties."""
    obj = value(obj)
    t = type(obj)
    if obj is None:
        return None
    if t is list:
        if type(key) is int:
            index = key + len(obj) if key < 0 else key
            return obj[index] if 0 <= index < len(obj) else MISSING
        if key in ("size", "length"):
            return len(obj)
        if key == "first":
            return obj[0] if obj else MISSING
        if key == "last":
            return obj[-1] if obj else MISSING
        if type(key) is str and is_array_index(key):
            index = int(key)
            return obj[index] if index < len(obj) else MISSING
        return MISSING
    if t is dict or isinstance(obj, dict):
        name = key if type(key) is str else to_string(key)
        found = obj.get(name, MISSING)
        if found is MISSING and name == "size":
            return len(obj)
        return found
    if t is str:
        if key in ("size", "length"):
            return utf16_length(obj)
        if type(key) is int and key >= 0:
            return char_at(obj, key)
        if type(key) is str and is_array_index(key):
            return char_at(obj, int(key))
    return MISSING


def _path(obj: Any, path: Any) -> Any:
    """liquidjs `_getFromScope(item, "a.b")`."""
    for key in text(path).split("."):
        if _nil(obj):
            return obj
        obj = read_property(obj, key)
    return obj


def _utf8(s: str) -> bytes:
    """UTF-8 as Node's Buffer writes it: lone surrogates become U+FFFD."""
    return re.sub("[\ud800-\udfff]", "\ufffd", join_surrogates(s)).encode("utf-8")


# --- html --------------------------------------------------------------------------------------------------------

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}


@_filter("escape", "xml_escape")
def escape(v: Any, *_: Any, **__: Any) -> str:
    return re.sub(r"[&<>\"']", lambda m: _ESCAPES[m.group()], text(v))


def _unescape(v: Any) -> str:
    return re.sub(r"&(amp|lt|gt|#34|#39);", lambda m: _UNESCAPES[m.group()], text(v))


@_filter("escape_once")
def escape_once(v: Any, *_: Any, **__: Any) -> str:
    return escape(_unescape(v))


@_filter("strip_html")
def strip_html(v: Any, *_: Any, **__: Any) -> str:
    s = text(v)
    blocks = {"<script": "</script>", "<style": "</style>", "<!--": "-->", "<": ">"}
    out, i = [], 0
    while i < len(s):
        lt = s.find("<", i)
        if lt < 0:
            out.append(s[i:])
            return "".join(out)
        out.append(s[i:lt])
        for opener, closer in list(blocks.items()):
            if not s.startswith(opener, lt):
                continue
            end = s.find(closer, lt + len(opener))
            if end >= 0:
                i = end + len(closer)
                break
            del blocks[opener]
        if i <= lt:
            out.append(s[lt:])
            return "".join(out)
    return "".join(out)


# --- math (JS doubles) -------------------------------------------------------------------------------------------


def _numeric(fn: Callable[..., float]) -> Filter:
    def apply(v: Any, *args: Any, **__: Any) -> Any:
        return fn(number(v), *(number(a) for a in args))

    return apply


def _js_round(x: float) -> float:
    """`Math.round`: halves go up (toward +Infinity)."""
    if not math.isfinite(x):
        return x
    low = math.floor(x)
    return float(low + 1 if x - low >= 0.5 else low)


def _js_divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _js_mod(a: float, b: float) -> float:
    if b == 0 or not math.isfinite(a) or a != a or b != b:
        return math.nan
    if math.isinf(b):
        return float(a)
    return math.fmod(a, b)


def _finite_op(fn: Callable[[float], float]) -> Callable[..., float]:
    return lambda x, *_: float(fn(x)) if math.isfinite(x) else float(x)


# Like the JS functions they follow, these ignore arguments past the ones they take (`{{ x | abs: 1 }}`).
FILTERS.update(
    {
        "abs": _numeric(lambda x, *_: abs(float(x))),
        "at_least": _numeric(lambda *xs: float(max(xs))),
        "at_most": _numeric(lambda *xs: float(min(xs))),
        "ceil": _numeric(_finite_op(math.ceil)),
        "floor": _numeric(_finite_op(math.floor)),
        "minus": _numeric(lambda a, b=math.nan, *_: float(a) - float(b)),
        "plus": _numeric(lambda a, b=math.nan, *_: float(a) + float(b)),
        "times": _numeric(lambda a, b=math.nan, *_: float(a) * float(b)),
        "modulo": _numeric(lambda a, b=math.nan, *_: _js_mod(_js_mod(a, b) + b, b)),
        "divided_by": _numeric(lambda a, b=math.nan, integer=0, *_: _floor_if(integer, _js_divide(a, b))),
    }
)


def _floor_if(integer: float, q: float) -> float:
    return float(math.floor(q)) if integer and math.isfinite(q) else q


def _shift_decimal(n: float, exponent: float) -> float:
    mantissa, _, power = number_to_string(n).partition("e")
    return to_number(f"{mantissa}e{number_to_string(to_number(power or '0') + exponent)}")


@_filter("round")
def round_(v: Any, arg: Any = 0, *_: Any, **__: Any) -> float:
    x, places = float(number(v)), float(number(arg))
    scaled = _shift_decimal(abs(x), places)
    if not scaled <= 2**53 - 1:
        return x
    rounded = _shift_decimal(_js_round(scaled), -places)
    return -rounded if x < 0 else rounded


# --- url -------------------------------------------------------------------------------------------------------


def _encode_uri(s: str, safe: str) -> str:
    s = join_surrogates(s)
    if re.search("[\ud800-\udfff]", s):
        raise FilterError("URI malformed", token=None)
    return quote(s, safe=safe, encoding="utf-8")


def _decode_uri_component(s: str) -> str:
    def bytes_run(m: re.Match) -> str:
        try:
            return bytes.fromhex(m.group().replace("%", "")).decode("utf-8")
        except UnicodeDecodeError:
            raise FilterError("URI malformed", token=None) from None

    if re.search(r"%(?![0-9A-Fa-f]{2})", s):
        raise FilterError("URI malformed", token=None)
    return re.sub(r"(?:%[0-9A-Fa-f]{2})+", bytes_run, s)


@_filter("url_encode")
def url_encode(v: Any, *_: Any, **__: Any) -> str:
    return _encode_uri(text(v), "!~*'()").replace("%20", "+")


@_filter("url_decode")
def url_decode(v: Any, *_: Any, **__: Any) -> str:
    return _decode_uri_component(text(v).replace("+", " "))


@_filter("cgi_escape")
def cgi_escape(v: Any, *_: Any, **__: Any) -> str:
    encoded = _encode_uri(text(v), "!~*'()").replace("%20", "+")
    return re.sub(r"[!'()*]", lambda m: f"%{ord(m.group()):X}", encoded)


@_filter("uri_escape")
def uri_escape(v: Any, *_: Any, **__: Any) -> str:
    return _encode_uri(text(v), ";,/?:@&=+$!~*'()#").replace("%5B", "[").replace("%5D", "]")


def _slug_keep(ch: str, extra: str) -> bool:
    return unicodedata.category(ch)[0] in "LM" or unicodedata.category(ch) == "Nd" or ch in extra


_ACCENTS = [
    ("àáâãäå", "a"),
    ("æ", "ae"),
    ("ç", "c"),
    ("èéêë", "e"),
    ("ìíîï", "i"),
    ("ð", "d"),
    ("ñ", "n"),
    ("òóôõöø", "o"),
    ("ùúûü", "u"),
    ("ýÿ", "y"),
    ("ß", "ss"),
    ("œ", "oe"),
    ("þ", "th"),
    ("ẞ", "SS"),
    ("Œ", "OE"),
    ("Þ", "TH"),
]


@_filter("slugify")
def slugify(v: Any, mode: Any = "default", cased: Any = False, *_: Any, **__: Any) -> str:
    s = text(v)
    mode = value(mode)
    if mode == "latin":
        for chars, plain in _ACCENTS:
            s = re.sub(f"[{chars}]", plain, s)
    if mode == "raw":
        s = re.sub(r"\s+", "-", s)
    elif mode == "ascii":
        s = re.sub("[^A-Za-z0-9]+", "-", s)
    elif mode in ("default", "latin", "pretty"):
        extra = "._~!$&'()+,;=@" if mode == "pretty" else ""
        out, run = [], False
        for ch in s:
            if _slug_keep(ch, extra):
                out.append(ch)
                run = False
            elif not run:
                out.append("-")
                run = True
        s = "".join(out)
    if mode in ("raw", "ascii", "default", "latin", "pretty"):
        s = re.sub("^-|-$", "", s)
    return s if _truthy(cased) else to_lower_case(s)


# --- arrays ------------------------------------------------------------------------------------------------------


@_filter("join")
def join(v: Any, sep: Any = MISSING, *_: Any, **__: Any) -> str:
    separator = " " if _nil(value(sep)) else text(sep)
    return separator.join("" if _nil(x) else to_string(x) for x in _array(v))


def _array_like(x: Any) -> bool:
    if type(x) is str:
        return x != ""
    if type(x) is list:
        return True
    return isinstance(x, dict) and type(x.get("length")) in (int, float)


@_filter("first")
def first(v: Any, *_: Any, **__: Any) -> Any:
    v = value(v)
    if not _array_like(v):
        return ""
    return read_property(v, 0) if type(v) is not dict else v.get("0", MISSING)


@_filter("last")
def last(v: Any, *_: Any, **__: Any) -> Any:
    v = value(v)
    if not _array_like(v):
        return ""
    if type(v) is list:
        return v[-1] if v else MISSING
    if type(v) is str:
        return utf16_units(v)[-1]
    return v.get(to_string(as_double(v["length"]) - 1), MISSING)


@_filter("size")
def size(v: Any, *_: Any, **__: Any) -> Any:
    v = value(v)
    if type(v) is str:
        return utf16_length(v)
    if type(v) is list:
        return len(v)
    if isinstance(v, dict):
        length = v.get("length", MISSING)
        return length if truthy(length) else 0
    return 0


@_filter("sum")
def sum_(v: Any, prop: Any = MISSING, *_: Any, **__: Any) -> float:
    total = 0.0
    for item in _array(v):
        n = to_number(value(_path(item, prop) if _truthy(prop) else item))
        total += 0 if n != n else n
    return total


@_filter("compact")
def compact(v: Any, *_: Any, **__: Any) -> list:
    return [x for x in _array(v) if not _nil(value(x))]


@_filter("push")
def push(v: Any, arg: Any = MISSING, *_: Any, **__: Any) -> list:
    return [*_array(v), value(arg)]


@_filter("unshift")
def unshift(v: Any, arg: Any = MISSING, *_: Any, **__: Any) -> list:
    return [value(arg), *_array(v)]


@_filter("pop")
def pop(v: Any, *_: Any, **__: Any) -> list:
    return _array(v)[:-1]


@_filter("shift")
def shift(v: Any, *_: Any, **__: Any) -> list:
    return _array(v)[1:]


@_filter("slice")
def slice_(v: Any, begin: Any = 0, length: Any = 1, *_: Any, **__: Any) -> Any:
    v = value(v)
    if _nil(v):
        return []
    if type(v) is not list:
        v = join_surrogates(text(v))
    begin, length = int(number(_given(begin, 0))), int(number(_given(length, 1)))
    if begin < 0:
        begin += len(v)
    if begin < 0 or length < 0:
        return [] if type(v) is list else ""
    return v[begin : begin + length]


@_filter("where")
def where(v: Any, prop: Any = MISSING, *expected: Any, **__: Any) -> list:
    wanted = _held(expected[0]) if expected else MISSING  # a literal `nil`, `empty`, `blank` matches by its own rule
    out = []
    for item in _array(v):
        found = value(_path(item, prop))
        keep = not (_nil(found) or found is False) if wanted is MISSING else liquid_equals(found, wanted)
        if keep:
            out.append(item)
    return out


# --- strings -----------------------------------------------------------------------------------------------------


def _one_argument(name: str, args: tuple, kwargs: dict) -> Any:
    """The argument of `append`/`prepend`, which liquidjs requires exactly one of (`key: value` is `[key, value]`)."""
    given = [*args, *([key, item] for key, item in kwargs.items())]
    if len(given) != 1:
        raise FilterError(f"{name} expect 2 arguments", token=None)
    return given[0]


@_filter("append")
def append(v: Any, *args: Any, **kwargs: Any) -> str:
    return text(v) + text(_one_argument("append", args, kwargs))


@_filter("prepend")
def prepend(v: Any, *args: Any, **kwargs: Any) -> str:
    return text(_one_argument("prepend", args, kwargs)) + text(v)


_JS_SPACES = re.compile(f"[{WHITESPACE}]+")


@_filter("strip")
def strip(v: Any, chars: Any = MISSING, *_: Any, **__: Any) -> str:
    s = text(v)
    return s.strip(text(chars)) if _truthy(chars) else trim(s)


@_filter("lstrip")
def lstrip(v: Any, chars: Any = MISSING, *_: Any, **__: Any) -> str:
    s = text(v)
    return s.lstrip(text(chars)) if _truthy(chars) else s.lstrip(WHITESPACE)


@_filter("rstrip")
def rstrip(v: Any, chars: Any = MISSING, *_: Any, **__: Any) -> str:
    s = text(v)
    return s.rstrip(text(chars)) if _truthy(chars) else s.rstrip(WHITESPACE)


@_filter("downcase")
def downcase(v: Any, *_: Any, **__: Any) -> str:
    return to_lower_case(text(v))


@_filter("upcase")
def upcase(v: Any, *_: Any, **__: Any) -> str:
    return to_upper_case(text(v))


@_filter("capitalize")
def capitalize(v: Any, *_: Any, **__: Any) -> str:
    s = join_surrogates(text(v))
    if not s:
        return ""
    head = s[0] if ord(s[0]) > 0xFFFF else to_upper_case(s[0])  # JS upper-cases a UTF-16 unit: astral stays
    return head + to_lower_case(s[1:])


def _split(s: str, sep: str) -> list:
    """JS `String.prototype.split` with a string separator ("" splits into UTF-16 units)."""
    return utf16_units(s) if sep == "" else s.split(sep)


@_filter("remove")
def remove(v: Any, arg: Any = MISSING, *_: Any, **__: Any) -> str:
    return "".join(_split(text(v), text(arg)))


@_filter("remove_first")
def remove_first(v: Any, arg: Any = MISSING, *_: Any, **__: Any) -> str:
    return text(v).replace(text(arg), "", 1)


@_filter("remove_last")
def remove_last(v: Any, arg: Any = MISSING, *_: Any, **__: Any) -> str:
    s, pattern = text(v), text(arg)
    i = s.rfind(pattern)
    return s if i < 0 else s[:i] + s[i + len(pattern) :]


@_filter("replace")
def replace(v: Any, pattern: Any = MISSING, replacement: Any = MISSING, *_: Any, **__: Any) -> str:
    return text(replacement).join(_split(text(v), text(pattern)))


@_filter("replace_first")
def replace_first(v: Any, pattern: Any = MISSING, replacement: Any = MISSING, *_: Any, **__: Any) -> str:
    return text(v).replace(text(pattern), text(replacement), 1)


@_filter("replace_last")
def replace_last(v: Any, pattern: Any = MISSING, replacement: Any = MISSING, *_: Any, **__: Any) -> str:
    s, p = text(v), text(pattern)
    i = s.rfind(p)
    return s if i < 0 else s[:i] + text(replacement) + s[i + len(p) :]


@_filter("split")
def split(v: Any, sep: Any = MISSING, *_: Any, **__: Any) -> list:
    parts = _split(text(v), text(sep))
    while parts and parts[-1] == "":
        parts.pop()
    return parts


@_filter("strip_newlines")
def strip_newlines(v: Any, *_: Any, **__: Any) -> str:
    return re.sub(r"\r?\n", "", text(v))


@_filter("squish")
def squish(v: Any, *_: Any, **__: Any) -> str:
    return trim(_JS_SPACES.sub(" ", text(v)))


@_filter("normalize_whitespace")
def normalize_whitespace(v: Any, *_: Any, **__: Any) -> str:
    return _JS_SPACES.sub(" ", text(v))


_CJK = "\u4e00-\u9fff\uf900-\ufaff\u3400-\u4dbf\u3040-\u309f\u30a0-\u30ff\uac00-\ud7af"


@_filter("number_of_words")
def number_of_words(v: Any, mode: Any = MISSING, *_: Any, **__: Any) -> int:
    s = trim(text(v))
    if not s:
        return 0
    mode = value(mode)
    cjk = len(re.findall(f"[{_CJK}]", s))
    if mode == "cjk" or (mode == "auto" and cjk):
        return cjk + len(re.findall(f"[^{_CJK}{WHITESPACE}]+", s))
    return len(_JS_SPACES.split(s))


@_filter("truncate")
def truncate(v: Any, length: Any = 50, ellipsis: Any = "...", *_: Any, **__: Any) -> Any:
    s, tail = join_surrogates(text(v)), join_surrogates(text(_given(ellipsis, "...")))
    limit = number(_given(length, 50))
    if len(s) <= limit:
        return value(v)
    return s[: int(max(limit - len(tail), 0))] + tail


@_filter("truncatewords")
def truncatewords(v: Any, words: Any = 15, ellipsis: Any = "...", *_: Any, **__: Any) -> str:
    tail = text(_given(ellipsis, "..."))
    parts = _JS_SPACES.split(text(v).lstrip(WHITESPACE))
    count = number(_given(words, 15))
    if count <= 0:
        count = 1
    out = " ".join(parts[: int(count)] if math.isfinite(count) else parts)
    return out + tail if len(parts) >= count else out


# --- base64, digests ---------------------------------------------------------------------------------------------


@_filter("base64_encode")
def base64_encode(v: Any, *_: Any, **__: Any) -> str:
    return base64.b64encode(_utf8(text(v))).decode("ascii")


@_filter("base64_decode")
def base64_decode(v: Any, *_: Any, **__: Any) -> str:
    s = text(v)
    compact_ = re.sub(r"[\t\n\f\r ]", "", s)
    bare = re.sub("==?$", "", compact_) if len(compact_) % 4 == 0 else compact_
    if len(bare) % 4 == 1 or not re.fullmatch("[A-Za-z0-9+/]*", bare):
        raise FilterError("invalid base64 provided to base64_decode", token=None)
    return base64.b64decode(bare + "=" * (-len(bare) % 4)).decode("utf-8", "replace")


@_filter("sha256")
def sha256(v: Any, *_: Any, **__: Any) -> str:
    return hashlib.sha256(_utf8(text(v))).hexdigest()


@_filter("hmac_sha256")
def hmac_sha256(v: Any, key: Any = MISSING, *_: Any, **__: Any) -> str:
    return hmac.new(_utf8(text(key)), _utf8(text(v)), hashlib.sha256).hexdigest()


# --- dates -------------------------------------------------------------------------------------------------------


@_filter("date")
def date(v: Any, fmt: Any = MISSING, zone: Any = MISSING, *_: Any, **__: Any) -> Any:
    v = value(v)
    ms = liquid_dates.parse_date(v)
    if ms is None:
        return v
    fmt = value(fmt)
    offset = value(zone)
    minutes = number(offset) if type(offset) in (int, float) else None
    return liquid_dates.strftime(ms, liquid_dates.DEFAULT_FORMAT if _nil(fmt) else text(fmt), minutes)


def _date_as(fmt: str) -> Filter:
    def format_date(v: Any, *_: Any, **__: Any) -> Any:
        v = value(v)
        ms = liquid_dates.parse_date(v)
        return v if ms is None else liquid_dates.strftime(ms, fmt)

    return format_date


def _date_words(month: str) -> Filter:
    """`date_to_string` / `date_to_long_string`, with liquidjs's "ordinal" and "US" variants."""

    def format_date(v: Any, kind: Any = MISSING, style: Any = MISSING, *_: Any, **__: Any) -> Any:
        v = value(v)
        ms = liquid_dates.parse_date(v)
        if ms is None:
            return v
        if value(kind) == "ordinal":
            day = liquid_dates.strftime(ms, "%-d")
            fmt = f"{month} {day}%q, %Y" if value(style) == "US" else f"{day}%q {month} %Y"
        else:
            fmt = f"%d {month} %Y"
        return liquid_dates.strftime(ms, fmt)

    return format_date


FILTERS.update(
    {
        "date_to_xmlschema": _date_as("%Y-%m-%dT%H:%M:%S%:z"),
        "date_to_rfc822": _date_as("%a, %d %b %Y %H:%M:%S %z"),
        "date_to_string": _date_words("%b"),
        "date_to_long_string": _date_words("%B"),
    }
)


# --- misc --------------------------------------------------------------------------------------------------------


@_filter("default")
def default(v: Any, fallback: Any = MISSING, *_: Any, allow_false: Any = False, **__: Any) -> Any:
    v = value(v)
    if type(v) in (list, str):
        return v if v else _held(fallback)
    if v is False and value(allow_false) not in (False, None, MISSING, 0, ""):
        return False
    return _held(fallback) if v is False or _nil(v) else v


def _json(v: Any, space: Any = 0, *_: Any, **__: Any) -> Any:
    return json_stringify(_plain(v), indent=_indent(value(space)))


def _plain(v: Any) -> Any:
    """Values as JSON.stringify sees them: Undefined inside containers is undefined, and liquidjs's literal objects
    (`nil`, `empty`, `blank`) have no properties of their own, so they are `{}`."""
    if type(v) in DROPS:
        return {}
    v = value(v)
    if type(v) is list:
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _indent(space: Any) -> str:
    if type(space) is str:
        return space[:10]
    if type(space) in (int, float) and space >= 1:
        return " " * int(min(space, 10))
    return ""


FILTERS.update({"json": _json, "jsonify": _json, "inspect": _json})


@_filter("to_integer")
def to_integer(v: Any, *_: Any, **__: Any) -> Any:
    return to_number(value(v))


@_filter("raw")
def raw(v: Any, *_: Any, **__: Any) -> Any:
    return v
