"""How a received location is encoded for change detection and storage (issue 11): the one
canonical JSON encoding (orjson, with the ``json`` encoding where orjson cannot be trusted), its
hashes (content, shape, tariffs), and the stored form with inlined tariffs replaced by references.
No I/O: ``store/locations.py`` writes and reads what this module encodes."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from typing import Any

from ..ocpi.jsondoc import escape_lone_surrogates
from .compression import CODECS, ZLIB, ZSTD, zstd_compress


def canonical(obj: Any) -> bytes:
    """The one canonical JSON encoding: sorted keys, no spaces, UTF-8 (hashed, and stored).

    orjson (issue 11: about a tenth of ``json.dumps``) writes the same bytes as ``json.dumps(obj,
    sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` for strings, integers, booleans,
    null and nested objects (keys in code point order, which is UTF-8 byte order), and floats but
    the small ones that Python writes with an exponent (``1e-05``, orjson ``0.00001``): a document
    holding such a float hashes differently from its pre-orjson hash, once (docs/performance.md).
    What orjson refuses (an integer beyond 64 bits, a lone surrogate, issue 13) takes the ``json``
    encoding, and so does a document whose encoding holds ``null`` unless it is known to hold no
    NaN or infinity (:func:`finite_numbers`): orjson writes those as ``null`` too (the hub client's
    parser accepts them), and a changed location must not hash as its unchanged self."""
    try:
        encoded = _sorted_dumps(obj)
    except TypeError:  # orjson.JSONEncodeError
        return legacy_canonical(obj)
    return legacy_canonical(obj) if b"null" in encoded and _MAY_HOLD_NON_FINITE.get() else encoded


# Whether a document being encoded may hold NaN or ±Infinity: unknown unless said otherwise.
_MAY_HOLD_NON_FINITE: ContextVar[bool] = ContextVar("may_hold_non_finite", default=True)


@contextmanager
def finite_numbers(known: bool = True) -> Iterator[None]:
    """Within: the documents encoded come from a body that held no NaN or ±Infinity (the hub
    client says so, ``HubResponse.non_finite_numbers``), so a ``null`` in orjson's encoding is a
    null and :func:`canonical` needs no ``json`` encoding for it: tariffs hold nulls on nearly
    every page, and that encoding was a sixth of a fully changed page's cost (issue 11)."""
    token = _MAY_HOLD_NON_FINITE.set(not known)
    try:
        yield
    finally:
        _MAY_HOLD_NON_FINITE.reset(token)


def legacy_canonical(obj: Any) -> bytes:
    """The ``json`` encoding (hashed before orjson, see :func:`canonical`); lone surrogates as
    their escapes (ocpi/jsondoc.py) instead of failing."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return escape_lone_surrogates(text).encode("utf-8")


def _first_sorted_dumps(obj: Any) -> bytes:
    # orjson is imported on first use: the authorize function imports this module for its keys
    # and never encodes a document (its cold start, tests/test_authorize_hot_path.py).
    global _sorted_dumps
    import orjson

    _sorted_dumps = partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)
    return _sorted_dumps(obj)


_sorted_dumps: Callable[[Any], bytes] = _first_sorted_dumps


def _first_dumps(obj: Any) -> bytes:
    global _dumps
    import orjson  # on first use, as above

    _dumps = orjson.dumps
    return _dumps(obj)


_dumps: Callable[[Any], bytes] = _first_dumps


def compact_json(obj: Any) -> str:
    """Compact JSON text of a small attribute read back by ``json.loads`` (a location's summary,
    its EVSE status counts): orjson, about a sixth of ``json.dumps`` (issue 11). What orjson
    refuses (a lone surrogate kept as received) is written by ``json``, escaped."""
    try:
        return _dumps(obj).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(obj, separators=(",", ":"))


# The stored ``doc`` (docs/performance.md, "Location ingest: change detection"): zstd level 1
# (``compression.zstd_compress``, cdk.json ``location_doc_compression`` "zstd", the default) or
# zlib level 1 ("zlib", what releases before zstd wrote: docs/operations.md); either way zlib level
# 6 where it may save a write unit. zstd level 1 takes about a quarter of zlib level 1's time for
# about the same size; zlib level 6 is at most ~9 % smaller than zstd level 1 and ~6 % smaller than
# zlib level 1 on the simulator's and the spec examples' locations (zstd's higher levels are no
# smaller on documents of a few KB). DynamoDB bills a write per started KB of the item, so level
# 6 is tried only where that saving could bring the item under the 1 KB boundary below it
# (``TIGHT_MARGIN``, with room to spare): the write units of level 6, the time of level 1.
# Readers decompress every form alike (``compression.decompress``).
DOC_COMPRESSION = 1  # zlib's level when the stack writes zlib
DOC_COMPRESSION_TIGHT = 6
TIGHT_MARGIN = 0.10
WRITE_UNIT_BYTES = 1024


def compress_doc(doc_bytes: bytes, other_bytes: int, codec: str = ZSTD) -> bytes:
    """The stored ``doc`` of an item whose other attributes (names and values) take
    ``other_bytes``: ``codec`` ("zstd" or "zlib") at level 1, or zlib level 6 when it may save a
    write unit."""
    if codec == ZSTD:
        fast = zstd_compress(doc_bytes)
    elif codec == ZLIB:
        fast = zlib.compress(doc_bytes, DOC_COMPRESSION)
    else:
        raise ValueError(f"location document compression must be one of {CODECS}, got {codec!r}")
    size = other_bytes + len(fast)
    boundary = (size - 1) // WRITE_UNIT_BYTES * WRITE_UNIT_BYTES  # the 1 KB boundary below
    if boundary and other_bytes + len(fast) * (1 - TIGHT_MARGIN) <= boundary:
        tight = zlib.compress(doc_bytes, DOC_COMPRESSION_TIGHT)
        return tight if len(tight) < len(fast) else fast
    return fast


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def canonical_hash(raw: dict[str, Any]) -> str:
    return _digest(canonical(raw))


# Tariff hashes by the tariff's orjson encoding in the order received, per process (bounded).
_TARIFF_HASHES: dict[bytes, str] = {}
TARIFF_HASHES_KEPT = 1024


def tariff_hash(tariff: dict[str, Any]) -> str:
    """``canonical_hash`` of an inlined tariff, once per content: a page's locations inline the
    same few tariffs again and again (FAQ "How are tariffs represented?"), and hashing each
    inlined copy was a tenth of a fully changed page (issue 11). The key, orjson's encoding in
    the order received, costs less than the sorted encoding and its SHA-256; the same content in
    another key order is only a miss. Not memoized: what orjson refuses, and a ``null`` unless
    the body is known to hold no NaN (orjson writes it as ``null`` too, :func:`canonical`)."""
    try:
        key = _dumps(tariff)
    except TypeError:  # orjson.JSONEncodeError
        return canonical_hash(tariff)
    if b"null" in key and _MAY_HOLD_NON_FINITE.get():
        return canonical_hash(tariff)
    found = _TARIFF_HASHES.get(key)
    if found is None:
        if len(_TARIFF_HASHES) >= TARIFF_HASHES_KEPT:
            _TARIFF_HASHES.clear()
        found = _TARIFF_HASHES[key] = canonical_hash(tariff)
    return found


def _split_tariffs(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The location without inlined tariffs (references instead), and the tariffs by id.

    Only the containers on the way to a connector's ``tariffs`` are copied (the raw JSON is never
    mutated, and nothing else is copied: issue 11, no ``json.loads(json.dumps())`` round trip)."""
    tariffs: dict[str, dict[str, Any]] = {}
    evses = raw.get("evses")
    if not isinstance(evses, list):
        return raw, tariffs
    new_evses: list[Any] = []
    for evse in evses:
        connectors = evse.get("connectors") if isinstance(evse, dict) else None
        if not isinstance(connectors, list):
            new_evses.append(evse)
            continue
        new_connectors: list[Any] = []
        for connector in connectors:
            inlined = connector.get("tariffs") if isinstance(connector, dict) else None
            if not isinstance(inlined, list):
                # none, or malformed (left out of the validated model, ocpi/leniency.py): kept as
                # received, no tariff taken from it
                new_connectors.append(connector)
                continue
            copy = dict(connector)  # (dict() and del: a third of a comprehension's time)
            del copy["tariffs"]
            copy["_tariff_refs"] = [t.get("id") if isinstance(t, dict) else None for t in inlined]
            for tariff in inlined:
                if isinstance(tariff, dict) and isinstance(tariff.get("id"), str) and tariff["id"]:
                    tariffs[tariff["id"]] = tariff
            new_connectors.append(copy)
        new_evse = dict(evse)
        new_evse["connectors"] = new_connectors
        new_evses.append(new_evse)
    doc = dict(raw)
    doc["evses"] = new_evses
    return doc, tariffs


# What a status change touches (spec mod_locations: EVSE.status, and the last_updated stamps of the
# EVSE and of its Location, the latest of its children's): everything else is the location's shape.
VOLATILE_EVSE_FIELDS = ("status", "last_updated")


def _shape(doc: dict[str, Any]) -> dict[str, Any]:
    # copies by dict() and pop(): a third of the time of comprehensions (issue 11)
    shape = dict(doc)
    shape.pop("last_updated", None)
    evses = doc.get("evses")
    if isinstance(evses, list):
        shape["evses"] = [_without_volatile(e) if isinstance(e, dict) else e for e in evses]
    return shape


def _without_volatile(evse: dict[str, Any]) -> dict[str, Any]:
    copy = dict(evse)
    for name in VOLATILE_EVSE_FIELDS:
        copy.pop(name, None)
    return copy


class Encoded:
    """A location of a page for change detection, computed before any validation: its canonical
    bytes are hashed once (the same hash as before this split, so stored hashes stay valid); the
    stored form (tariffs by reference) and the shape hash are computed only if it changed."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.location_id = str(raw.get("id"))
        self.raw = raw
        self.content_hash = _digest(canonical(raw))
        self._split: tuple[dict[str, Any], dict[str, dict[str, Any]]] | None = None
        self._doc_bytes: bytes | None = None
        self._tariff_hashes: dict[str, str] | None = None
        self._shape_hash: str | None = None

    @property
    def doc(self) -> dict[str, Any]:
        """The location with tariffs replaced by references."""
        if self._split is None:
            self._split = _split_tariffs(self.raw)
        return self._split[0]

    @property
    def tariffs(self) -> dict[str, dict[str, Any]]:
        self.doc  # noqa: B018 - splits once
        assert self._split is not None
        return self._split[1]

    @property
    def doc_bytes(self) -> bytes:
        """What is stored (compressed): encoded once, shared by every write of this location."""
        if self._doc_bytes is None:
            self._doc_bytes = canonical(self.doc)
        return self._doc_bytes

    def doc_blob(self, other_bytes: int, codec: str = ZSTD) -> bytes:
        """``doc_bytes`` compressed for an item whose other attributes take ``other_bytes``
        (:func:`compress_doc`)."""
        return compress_doc(self.doc_bytes, other_bytes, codec)

    @property
    def tariff_hashes(self) -> dict[str, str]:
        if self._tariff_hashes is None:
            self._tariff_hashes = {tariff_id: tariff_hash(t) for tariff_id, t in self.tariffs.items()}
        return self._tariff_hashes

    @property
    def shape_hash(self) -> str:
        """The hash of everything but the EVSE statuses and the last_updated stamps (tariffs
        inlined): equal to the stored one, a change is status-only. Once per location: the
        change check and the location item both read it."""
        if self._shape_hash is None:
            self._shape_hash = _digest(canonical(_shape(self.raw)))
        return self._shape_hash


def encode(raw: dict[str, Any]) -> Encoded:
    return Encoded(raw)
