"""Masking of secrets for everything that prints, logs or returns them.

One rule for the whole product: a key (the 1Flow Project API Key, say) is shown as `****` plus its last four
characters (only `****` when it is shorter than 12 characters, so a short key is not half revealed). Code that needs
the real value holds it in a pydantic `SecretStr` and unwraps it only where a request header is built. A connection
URL (`storage: postgresql://…`) is shown with every secret libpq reads from it replaced by `***` (`redact_url`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from pydantic import SecretStr

MASK = "****"
REVEALED_TAIL = 4
MIN_LENGTH_TO_REVEAL_TAIL = 12


def secret_value(secret: str | SecretStr | None) -> str:
    """The plain value of a secret given either as `SecretStr` or as text ('' for None)."""
    if secret is None:
        return ""
    if isinstance(secret, SecretStr):
        return secret.get_secret_value()
    return secret


def mask_secret(secret: str | SecretStr | None) -> str:
    """The displayable form of a secret: `****` and, for long enough secrets, the last four characters."""
    value = secret_value(secret)
    if not value:
        return ""
    if len(value) < MIN_LENGTH_TO_REVEAL_TAIL:
        return MASK
    return MASK + value[-REVEALED_TAIL:]


def redact(text: str, *secrets: str | SecretStr | None) -> str:
    """`text` with every occurrence of the given secrets replaced by their masked form."""
    for secret in secrets:
        value = secret_value(secret)
        if value:
            text = text.replace(value, mask_secret(value))
    return text


# -- connection URLs ---------------------------------------------------------------------------------------------

URL_MASK = "***"
URL_SECRET_PARAMETERS = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
"""Parameters of a PostgreSQL URL whose value is a secret: those libpq itself hides (`PQconndefaults` marks them
`*`), and the SCRAM keys (a client key authenticates like the password). File paths (`sslkey`, `passfile`) are not
secrets: the files are."""
MIN_SCRUBBED_LENGTH = 4
"""Shorter secret values are not searched for in free text (they would mask ordinary words)."""

_SCHEME = re.compile(r"(?i)^[a-z][a-z0-9+.\-]*://")
_KEYWORD_SECRET = re.compile(
    r"(?i)\b(" + "|".join(sorted(URL_SECRET_PARAMETERS)) + r")(\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)"
)
"""`password=…` in libpq's `key=value` form (a value may be single-quoted, with backslash escapes)."""


def _userinfo_end(url: str, after: int) -> int:
    """The index of the `@` closing `user:password@`, or -1. libpq ends the user part at the first `/`, a URL parser
    at the first `?`: the later of the two readings wins, so a raw `@`, `/` or `?` in a password is masked whole."""
    ends = []
    for stop in ("/", "?"):
        cut = url.find(stop, after)
        ends.append(url.rfind("@", after, len(url) if cut < 0 else cut))
    return max(ends)


def _split_url(url: str, after: int) -> tuple[str, str | None, str, str | None]:
    """`(up to the password, the password or None, from the password to the query, the query or None)` of a URL
    whose scheme ends at `after`."""
    at = _userinfo_end(url, after)
    user, colon, secret = url[after:at].partition(":") if at >= 0 else ("", "", "")
    if colon:
        head, password, rest = url[: after + len(user) + 1], secret, url[at:]
    else:
        head, password, rest = url[:after], None, url[after:]
    base, question, query = rest.partition("?")
    return head, password, base, query if question else None


def _is_secret_parameter(raw_name: str) -> bool:
    names = (raw_name, raw_name.replace("+", " "))
    return any(unquote(name).strip().lower() in URL_SECRET_PARAMETERS for name in names)


def _split_query(query: str) -> list[tuple[str, str | None]]:
    """`a=1&b` as [("a", "1"), ("b", None)], nothing decoded (so it can be put back as it was)."""
    pairs: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        pairs.append((name, value if equals else None))
    return pairs


def redact_url(url: str) -> str:
    """A connection URL without its secrets: the password of `user:password@` and the value of every secret query
    parameter (`password=`, `sslpassword=`…, also percent-encoded, repeated or in any case) become `***`, whatever
    they contain; the scheme may be in any case. User, host, port and database stay: the operator's messages name
    them (unauthenticated answers must not show the URL at all)."""
    scheme = _SCHEME.match(url)
    if scheme is None:  # not a URL: libpq's `host=… password=…` form, or a mistake shown back
        return _KEYWORD_SECRET.sub(lambda m: m[1] + m[2] + URL_MASK, url)
    head, password, base, query = _split_url(url, scheme.end())
    shown = head + ("" if password is None else URL_MASK) + base
    if query is None:
        return shown
    query, hash_, fragment = query.partition("#")
    parts = [
        name if value is None else f"{name}={URL_MASK if _is_secret_parameter(name) else value}"
        for name, value in _split_query(query)
    ]
    return shown + "?" + "&".join(parts) + hash_ + fragment


def url_secrets(url: str) -> set[str]:
    """The secret values of a connection URL, as written and percent-decoded (to scrub them from free text)."""
    scheme = _SCHEME.match(url)
    if scheme is None:
        found = {m[3].strip("'") for m in _KEYWORD_SECRET.finditer(url)}
        return {value for value in found if len(value) >= MIN_SCRUBBED_LENGTH}
    _, password, _, query = _split_url(url, scheme.end())
    found = set() if password is None else {password}
    if query is not None:
        pairs = _split_query(query.partition("#")[0])
        found.update(value for name, value in pairs if value is not None and _is_secret_parameter(name))
    return {form for value in found for form in (value, unquote(value)) if len(form) >= MIN_SCRUBBED_LENGTH}


def scrub_url_secrets(text: str, url: str) -> str:
    """`text` (a driver's error message, say) with every secret of `url` in it replaced by `***`."""
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, URL_MASK)
    return text
