"""What every reader of the locations table applies, with no I/O: a status item overlays the
location item it was written on, and only that one (the item layout: ``store/locations.py``), in
the document a reader gets and in the hashes change detection compares with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .dynamo import Item
from .location_encoding import VOLATILE_EVSE_FIELDS


def _text(item: Item | None, name: str) -> str | None:
    value = (item or {}).get(name, {}).get("S")
    return value if isinstance(value, str) else None


def _applying(location: Item, status: Item | None) -> Item | None:
    """The status item if it was written on this very location item (item layout)."""
    base = _text(status, "base_hash")
    return status if base is not None and base == _text(location, "content_hash") else None


def _by_sk(items: list[Item]) -> dict[str, dict[str, Item]]:
    """Items of the locations table by partition key, then sort key."""
    parts: dict[str, dict[str, Item]] = {}
    for item in items:
        parts.setdefault(item["pk"]["S"], {})[item["sk"]["S"]] = item
    return parts


def _overlay(doc: dict[str, Any], status: Item) -> None:
    """The applying status item's statuses and stamps into the stored document. The shape is the
    one the status item was written on, so its EVSEs are the document's, in order; each is
    matched by ``uid`` too, in case."""
    doc["last_updated"] = status["last_updated"]["S"]
    evses = doc.get("evses")
    if not isinstance(evses, list):
        return
    for evse, new in zip(evses, json.loads(status["evses"]["S"]), strict=False):
        if isinstance(evse, dict) and isinstance(new, dict) and evse.get("uid") == new.get("uid"):
            for name in VOLATILE_EVSE_FIELDS:
                if name in new:
                    evse[name] = new[name]


def _connectors(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored document's connectors; EVSEs and connectors that are not objects (kept as
    received: a malformed optional part, ocpi/leniency.py) are passed over, not read."""
    evses = doc.get("evses")
    return [
        connector
        for evse in (evses if isinstance(evses, list) else [])
        if isinstance(evse, dict) and isinstance(evse.get("connectors"), list)
        for connector in evse["connectors"]
        if isinstance(connector, dict)
    ]


@dataclass(frozen=True)
class StoredHashes:
    """What change detection compares with. ``content_hash``: the applying status item's, else
    the location item's; ``base_hash``: the location item's (what a status item is written on);
    ``status_base``: the stored status item's ``base_hash``, applying or not (None: none)."""

    content_hash: str
    shape_hash: str | None  # None: stored before shape hashes existed (the next change rewrites)
    base_hash: str
    status_base: str | None = None


def stored_hashes_of(location: Item, status: Item | None) -> StoredHashes:
    """What change detection compares with, from a location's location item and status item."""
    base = location["content_hash"]["S"]
    applying = _applying(location, status)
    return StoredHashes(
        content_hash=applying["content_hash"]["S"] if applying is not None else base,
        shape_hash=_text(location, "shape_hash"),
        base_hash=base,
        status_base=_text(status, "base_hash"),
    )
