"""The items of the locations table as written, built from what a pull received, with no I/O:
their keys, the incoming location (validated, or a status-only change), the location item and the
status item (the item layout is in the docstring of ``store/locations.py``, which writes them),
their billed size, and the rules a write of a status item or of a tariff's current version applies."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..ocpi.jsondoc import dumps, escape_lone_surrogates
from ..ocpi.timestamps import format_timestamp, parse_timestamp
from .compression import ZSTD
from .dynamo import Item, item_bytes
from .location_encoding import Encoded, compact_json, encode
from .lookups import location_key
from .stamps import epoch_us

if TYPE_CHECKING:
    # Only the pull builds Locations; the authorize path reads one attribute by key and must not
    # pay for the Location/Tariff models' import on its cold start (issue 11).
    from ..ocpi.locations import Location

STATUS_SK = "S"  # the latest status-only change on top of the location item (item layout)
TARIFF_SK = "T"  # the current version of a tariff id
TARIFF_VERSION_PREFIX = "V#"  # every version received, by content hash


def _location_pk(location_id: str) -> str:
    return str(location_key(location_id)["pk"]["S"])


def status_key(location_id: str) -> Item:
    return {"pk": {"S": _location_pk(location_id)}, "sk": {"S": STATUS_SK}}


def tariff_key(tariff_id: str) -> Item:
    return {"pk": {"S": f"TRF#{tariff_id}"}, "sk": {"S": TARIFF_SK}}


def tariff_version_key(tariff_id: str, content_hash: str) -> Item:
    return {"pk": {"S": f"TRF#{tariff_id}"}, "sk": {"S": f"{TARIFF_VERSION_PREFIX}{content_hash}"}}


def _later(candidate: str, stored: str) -> bool:
    """Whether ``candidate`` is a later ``last_updated`` than ``stored`` (as times: issue 10)."""
    try:
        new = parse_timestamp(candidate)
    except ValueError:
        return False  # an unreadable stamp never displaces a readable one
    try:
        return new > parse_timestamp(stored)
    except ValueError:
        return True


@dataclass
class StatusChange:
    """A status-only change, its values validated (domain/location_pull.py): the new
    ``last_updated`` and each EVSE's status."""

    last_updated: datetime
    evse_statuses: list[str]


# A validated location's fields by name, as ``ocpi.leniency.check_inbound`` gives them (what
# ``Location.model_dump()`` gives): the store reads a few of them and keeps the raw JSON.
LocationFields = dict[str, Any]


@dataclass
class IncomingLocation:
    """One location of a page: validated (``location``: its fields, or a Location), or a
    status-only change (``status_change``: the rest is byte for byte what is stored), with the
    raw JSON it came in."""

    location: LocationFields | Location | None
    raw: dict[str, Any]
    encoded: Encoded | None = None
    status_change: StatusChange | None = None

    def __post_init__(self) -> None:
        self.encoded = self.encoded or encode(self.raw)
        if self.location is None and self.status_change is None:
            raise ValueError("an incoming location is validated or a status-only change")
        if self.location is not None:
            self.location = _fields(self.location)  # one form for the store: the fields by name

    @property
    def fields(self) -> LocationFields | None:
        return None if self.location is None else _fields(self.location)

    @property
    def id(self) -> str:
        return str(self.fields["id"]) if self.fields is not None else self.stored.location_id

    @property
    def stored(self) -> Encoded:
        assert self.encoded is not None
        return self.encoded

    @property
    def content_hash(self) -> str:
        return self.stored.content_hash


def _statuses_json(statuses: list[str]) -> str:
    """The EVSE count per status, the way the admin API's summaries show it."""
    counts: dict[str, int] = {}
    for status in statuses:
        if status == "REMOVED":
            continue  # spec mod_locations, Status: REMOVED is an EVSE that no longer exists
        counts[status] = counts.get(status, 0) + 1
    return compact_json(counts)


# A status item is written unless a later one on the same location item is stored: no status
# item, one on another location item (void), or one not later than this change (stamps compared
# as numbers, never as strings: issue 10). A stored stamp further in the future than a clock may
# be off (a CPO's clock bug) orders nothing: without that, one wrong stamp would freeze the
# location's statuses until its shape changed, every later change refused as older.
_STATUS_CONDITION = (
    "attribute_not_exists(pk) OR base_hash <> :base OR last_updated_ms <= :ms OR last_updated_ms > :future"
)
FUTURE_TOLERANCE_MS = 5 * 60 * 1000


def _fields(location: LocationFields | Location) -> LocationFields:
    return location if isinstance(location, dict) else location.model_dump()


def _summary(location: LocationFields | Location) -> str:
    """What the two indexes project: nothing a status change touches (the EVSE status counts and
    ``last_updated`` are attributes of their own, read back by ``LocationCache.query``), so a
    status-only change rewrites no index (issue 11)."""
    fields = _fields(location)
    operator, allowed = fields.get("operator"), fields.get("publish_allowed_to")
    return compact_json(
        {
            "id": fields["id"],
            "name": fields.get("name"),
            # spec mod_locations, Location: whether (and to whom) the location may be shown; each
            # PublishTokenType as OCPI JSON (its string fields, none null: to_json_dict's form).
            "publish": fields["publish"],
            "publish_allowed_to": [{k: v for k, v in p.items() if v is not None} for p in allowed]
            if allowed
            else None,
            "operator": operator["name"] if operator else None,
            "party": f"{fields['country_code']}*{fields['party_id']}",
            "country": fields["country"],
            "city": fields["city"],
        }
    )


def location_record(location: LocationFields | Location, encoded: Encoded, codec: str = ZSTD) -> Item:
    """The location item of a new location or a new shape (item layout), its document
    compressed by ``codec`` for the write units of the item as a whole (``compress_doc``)."""
    fields = _fields(location)
    operator = fields.get("operator")
    record: Item = {
        **location_key(fields["id"]),
        "location_id": {"S": fields["id"]},
        "party_key": {"S": f"{fields['country_code']}*{fields['party_id']}"},
        "country": {"S": fields["country"]},
        "content_hash": {"S": encoded.content_hash},
        "shape_hash": {"S": encoded.shape_hash},
        "last_updated": {"S": format_timestamp(fields["last_updated"])},
        "evse_statuses": {"S": _statuses_json([e["status"] for e in fields.get("evses") or []])},
        "summary": {"S": _summary(fields)},
    }
    if operator and operator.get("name"):
        record["operator_name"] = {"S": operator["name"]}
    record["doc"] = {"B": encoded.doc_blob(item_bytes(record) + len("doc"), codec)}
    return record


def status_item(item: IncomingLocation, base_hash: str) -> Item:
    """The status item of a status-only change, written on the location item whose content hash
    is ``base_hash`` (item layout)."""
    change = item.status_change
    assert change is not None
    encoded = item.stored
    evses = [
        {"uid": e.get("uid"), "status": e.get("status"), "last_updated": e.get("last_updated")}
        for e in item.raw.get("evses") or []
        if isinstance(e, dict)
    ]
    return {
        **status_key(item.id),
        "location_id": {"S": escape_lone_surrogates(item.id)},
        "base_hash": {"S": base_hash},
        "shape_hash": {"S": encoded.shape_hash},
        "content_hash": {"S": encoded.content_hash},
        "last_updated": {"S": format_timestamp(change.last_updated)},
        "last_updated_ms": {"N": str(epoch_us(change.last_updated) // 1000)},
        "evse_statuses": {"S": _statuses_json(change.evse_statuses)},
        "evses": {"S": dumps(evses)},
    }


def _pack(doc: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode(), 6)


def tariff_record(tariff_id: str, tariff: dict[str, Any], content_hash: str) -> Item:
    """A tariff item's attributes, its key left to the writer: the version (``V#<hash>``) and,
    when it is the later one, the current item (``T``) hold the same (item layout)."""
    return {
        "tariff_id": {"S": tariff_id},
        "content_hash": {"S": content_hash},
        "last_updated": {"S": str(tariff.get("last_updated", ""))},
        "doc": {"B": _pack(tariff)},
    }
