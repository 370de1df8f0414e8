"""Masking of secrets (the 1Flow Project API Key) for everything that prints, logs or returns them.

One rule for the whole product: a secret is shown as `****` plus its last four characters (only `****` when it is
shorter than 12 characters, so a short key is not half revealed). Code that needs the real value holds it in a
pydantic `SecretStr` and unwraps it only where a request header is built.
"""

from __future__ import annotations

import re

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


def redact_url(url: str) -> str:
    """A URL without its password (`postgresql://user:***@host/db`), for messages about where a store is."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
