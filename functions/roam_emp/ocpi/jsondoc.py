"""JSON documents as RFC 8259 defines them: the one parser for every body we receive, and safe
text and bytes for any document we hold (no I/O).

Python's ``json`` module is more permissive than the RFC, and each liberty has reached a 5xx or an
invalid answer before (issue 13):

- ``NaN``, ``Infinity`` and ``-Infinity`` literals are not JSON (RFC 8259 section 6); once
  accepted they were stored and echoed back, so ``GET /cdrs/{id}`` answered invalid JSON. A number
  too large for a double (``1e999``) would become the same ``Infinity``. Both are refused.
- Nesting a thousand levels deep raised RecursionError (a 503). OCPI's deepest object is about
  eight levels (CDR > tariffs > elements > price_components); anything deeper than
  :data:`MAX_DEPTH` is refused before any model or store sees it.
- ``"\\ud800"`` is well-formed JSON but a lone UTF-16 surrogate is not a Unicode character (RFC
  8259 section 8.2): such a string cannot be encoded as UTF-8, which AWS APIs and ``str.encode``
  require. Parsing keeps it (a CDR is never refused for its strings, issue 13); what leaves the
  process goes through :func:`dumps`, :func:`canonical_bytes` or :func:`escape_lone_surrogates`,
  which write it as the JSON escape it arrived as.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Escaped surrogates in raw JSON text (valid pairs too); a document whose text has none cannot
# hold a lone surrogate, so most bodies skip the walk for them.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")


class JsonRefused(ValueError):
    """Not a JSON document we accept (answered 400 + 2001 by the API layer)."""


def _no_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON value (RFC 8259 section 6: numbers are finite)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"number {text[:40]} is out of range (RFC 8259 section 6)")
    return value


def parse(raw: str | bytes) -> Any:
    """Parse a JSON text strictly; raise :class:`JsonRefused` saying why not."""
    try:
        doc = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except JsonRefused:
        raise
    except RecursionError:
        raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, int digit limits
        raise JsonRefused(f"not valid JSON: {error}") from error
    if depth(doc) > MAX_DEPTH:
        raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels")
    return doc


def depth(doc: Any) -> int:
    """Nesting depth (a scalar is 0, ``[]`` is 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:  # deeper is refused anyway: stop walking
            stack.extend((child, level) for child in children)
    return deepest


def lone_surrogate_path(doc: Any) -> str | None:
    """The path (``cdr_token.uid``, ``charging_periods.0``) of the first key or string holding a
    lone surrogate, or None."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                return where or "body"
        elif isinstance(node, dict):
            for key, value in node.items():
                path = f"{where}.{key}" if where else str(key)
                if _LONE_SURROGATE.search(str(key)):
                    return escape_lone_surrogates(path)
                stack.append((value, path))
        elif isinstance(node, list):
            stack.extend((item, f"{where}.{i}" if where else str(i)) for i, item in enumerate(node))
    return None


def has_lone_surrogate(text: str) -> bool:
    return _LONE_SURROGATE.search(text) is not None


def may_hold_lone_surrogate(raw: str) -> bool:
    """False when a raw JSON text certainly parses to a document without lone surrogates."""
    return _ESCAPED_SURROGATE.search(raw) is not None


def escape_lone_surrogates(text: str) -> str:
    """``text`` with every lone surrogate written as its JSON escape (``\\ud800``): always encodable
    as UTF-8, identical to ``text`` for every valid Unicode string. For values that go to AWS as
    they are (DynamoDB keys and string attributes, S3 keys, log keys)."""
    if not _LONE_SURROGATE.search(text):
        return text
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def dumps(doc: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text that is always encodable as UTF-8: non-ASCII characters as themselves,
    lone surrogates as escapes (so the text parses back to the same document)."""
    # Within JSON text a raw surrogate can only sit inside a string literal (a key or a value),
    # where its escape means the same character.
    return escape_lone_surrogates(
        json.dumps(doc, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False, allow_nan=False)
    )


def canonical_bytes(doc: Any) -> bytes:
    """One byte string per document content, whatever the formatting it arrived in: keys sorted,
    no whitespace, UTF-8. For a document without lone surrogates this equals
    ``json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``, so
    digests computed that way before stay valid; with them it no longer raises."""
    return dumps(doc, sort_keys=True).encode("utf-8")
