"""The ``Authorization: Token <credentials token>`` header (transport_and_format.asciidoc).

OCPI 2.2.x sends the token base64-encoded; OCPI 2.1.1 sent it raw, and some hubs still do, so we
accept both forms. Comparison is constant-time (hmac.compare_digest) over every candidate, so the
time taken reveals nothing about how much of a token matched.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re

_PRINTABLE = re.compile(r"^[\x21-\x7e]+$")


def encode_token(token: str) -> str:
    """The header value we send."""
    return "Token " + base64.b64encode(token.encode("ascii")).decode("ascii")


def candidates(header: str | None) -> list[str]:
    """The tokens a header may carry: the base64-decoded form when it decodes to a printable
    token, and the raw 2.1.1 form."""
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    found = [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return found
    if _PRINTABLE.match(decoded):
        found.insert(0, decoded)
    return found


def matches(header: str | None, expected: str | None) -> bool:
    """True when the header carries ``expected``; always compares every candidate."""
    if not expected:
        return False
    want = expected.encode("ascii", "replace")
    result = False
    for candidate in candidates(header):
        result |= hmac.compare_digest(candidate.encode("ascii", "replace"), want)
    return result
