"""One codec for the JSON documents our items hold (sessions, CDRs, command results, ...): a
compact JSON text (``separators=(",", ":")``, ASCII with ``\\uXXXX`` escapes, so lone surrogates
received from Plugsurfing survive), stored zlib-compressed as a binary attribute or, for items
written before compression or with ``compress_session_documents`` off, as a string.

The bytes are exactly what store/cdrs.py and store/sessions.py always wrote: a CDR's compressed
size decides whether it is stored inline (``cdrs.INLINE_DOC_MAX``), so this encoding must not
change. Locations have their own encoding (store/location_encoding.py: its hashes depend on it),
written with zstd by default; ``loads`` reads them too (store/compression.py tells the forms apart).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from .compression import decompress
from .streams import Item, blob


def dumps(doc: Any) -> bytes:
    """The document's compact JSON, as stored (before compression)."""
    return json.dumps(doc, separators=(",", ":")).encode()


def pack(doc: Any) -> bytes:
    """The compressed document: a binary attribute's value."""
    return zlib.compress(dumps(doc))


def attribute(text: bytes, compress: bool) -> dict[str, Any]:
    """The JSON text :func:`dumps` made, as a binary (compressed) or string attribute."""
    return {"B": zlib.compress(text)} if compress else {"S": text.decode()}


def packed(doc: Any, like: dict[str, Any]) -> dict[str, Any]:
    """``doc`` in the attribute form of ``like`` (compressed binary or a JSON string)."""
    return attribute(dumps(doc), "B" in like)


def loads(item: Item | None, name: str = "doc") -> Any:
    """An item's document in either form (binary compressed, or a JSON string); None when absent.
    Readers always take both, so a writer may switch forms in either direction (docs/operations.md,
    "Upgrades")."""
    if not item or name not in item:
        return None
    value = item[name]
    if "B" in value:
        return json.loads(decompress(blob(value)))  # zlib, or zstd for a location (compression.py)
    return json.loads(value["S"])
