"""The Locations cache in DynamoDB.

- One item per location (``LOC#<id>``), the OCPI JSON *as received* (unknown fields kept), zlib
  compressed, with each connector's inlined ``tariffs`` replaced by references: tariffs are stored
  once per id (``TRF#<id>``) because Roam OCPI tariffs are immutable (FAQ "How should partners treat
  tariff IDs?"), and keep their own ``last_updated``.
- A content hash per location: a pull writes only locations whose hash changed, so a full pull of
  an unchanged network costs reads, not writes.
- Index attributes: ``party_key`` (connection owner ``country_code*party_id``), ``country``
  (Location.country, ISO alpha-3 as sent), plus a small ``summary`` projected into both indexes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ..ocpi.jsondoc import escape_lone_surrogates
from ..ocpi.leniency import to_json_dict
from ..ocpi.timestamps import format_timestamp, parse_timestamp
from . import aws
from .dynamo import Item, batch_get, batch_write, paginate

if TYPE_CHECKING:
    # Only the pull builds Locations; the authorize path reads one attribute by key and must not
    # pay for the Location/Tariff models' import on its cold start (issue 11).
    from ..ocpi.locations import Location

logger = Logger(child=True)

LOCATION_SK = "L"
TARIFF_SK = "T"  # the current version of a tariff id
TARIFF_VERSION_PREFIX = "V#"  # every version received, by content hash


def canonical_hash(raw: dict[str, Any]) -> str:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _pack(doc: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode(), 6)


def _unpack(blob: Any) -> dict[str, Any]:
    data = blob.value if hasattr(blob, "value") else blob
    return json.loads(zlib.decompress(data))  # type: ignore[no-any-return]


def location_key(location_id: str) -> Item:
    # Any id can be looked up (authorize takes it from Plugsurfing's request): a lone surrogate
    # goes to DynamoDB as its JSON escape, which takes UTF-8 only (issue 13).
    return {"pk": {"S": escape_lone_surrogates(f"LOC#{location_id}")}, "sk": {"S": LOCATION_SK}}


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
class IncomingLocation:
    """One validated location of a page, with the raw JSON it came in."""

    location: Location
    raw: dict[str, Any]
    content_hash: str = ""

    def __post_init__(self) -> None:
        self.content_hash = self.content_hash or canonical_hash(self.raw)


@dataclass
class UpsertResult:
    created: list[IncomingLocation] = field(default_factory=list)
    updated: list[IncomingLocation] = field(default_factory=list)
    unchanged: int = 0
    new_tariffs: list[dict[str, Any]] = field(default_factory=list)
    changed_tariffs: list[str] = field(default_factory=list)


def _split_tariffs(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The location without inlined tariffs (references instead), and the tariffs by id."""
    doc = json.loads(json.dumps(raw))
    tariffs: dict[str, dict[str, Any]] = {}
    for evse in doc.get("evses") or []:
        for connector in evse.get("connectors") or []:
            inlined = connector.pop("tariffs", None)
            if inlined is None:
                continue
            connector["_tariff_refs"] = [t.get("id") for t in inlined]
            for tariff in inlined:
                if isinstance(tariff, dict) and tariff.get("id"):
                    tariffs[tariff["id"]] = tariff
    return doc, tariffs


def _summary(location: Location) -> str:
    statuses: dict[str, int] = {}
    for evse in location.evses or []:
        if evse.status == "REMOVED":
            continue  # spec mod_locations, Status: REMOVED is an EVSE that no longer exists
        statuses[evse.status] = statuses.get(evse.status, 0) + 1
    return json.dumps(
        {
            "id": location.id,
            "name": location.name,
            # spec mod_locations, Location: whether (and to whom) the location may be shown.
            "publish": location.publish,
            "publish_allowed_to": [to_json_dict(p) for p in location.publish_allowed_to]
            if location.publish_allowed_to
            else None,
            "operator": location.operator.name if location.operator else None,
            "party": f"{location.country_code}*{location.party_id}",
            "country": location.country,
            "city": location.city,
            "evses": statuses,
            "last_updated": location.last_updated.isoformat(),
        },
        separators=(",", ":"),
    )


class LocationCache:
    def __init__(self, table_name: str) -> None:
        self.table = table_name
        self._known_tariffs: set[tuple[str, str]] = set()  # (id, content hash) stored, per process

    # Writing -------------------------------------------------------------------------------

    def stored_hashes(self, location_ids: list[str]) -> dict[str, str]:
        items = batch_get(
            self.table, [location_key(i) for i in location_ids], projection="location_id, content_hash"
        )
        return {i["location_id"]["S"]: i["content_hash"]["S"] for i in items if "location_id" in i}

    def upsert(
        self,
        incoming: list[IncomingLocation],
        before_write: Callable[[UpsertResult], None] | None = None,
    ) -> UpsertResult:
        """Store the locations whose content changed, and tariffs not stored before.

        ``before_write`` sees the changes before anything is written (the puller announces them
        there): a crash in between repeats the announcement on the resumed page rather than
        losing it, so events are at-least-once."""
        result = UpsertResult()
        if not incoming:
            return result
        stored = self.stored_hashes([i.location.id for i in incoming])
        puts: list[Item] = []
        tariffs: dict[str, dict[str, Any]] = {}
        for item in incoming:
            previous = stored.get(item.location.id)
            if previous == item.content_hash:
                result.unchanged += 1
                continue
            (result.updated if previous else result.created).append(item)
            doc, inlined = _split_tariffs(item.raw)
            tariffs.update(inlined)
            location = item.location
            record: Item = {
                **location_key(location.id),
                "location_id": {"S": location.id},
                "party_key": {"S": f"{location.country_code}*{location.party_id}"},
                "country": {"S": location.country},
                "content_hash": {"S": item.content_hash},
                "last_updated": {"S": format_timestamp(location.last_updated)},
                "summary": {"S": _summary(location)},
                "doc": {"B": _pack(doc)},
            }
            if location.operator and location.operator.name:
                record["operator_name"] = {"S": location.operator.name}
            puts.append(record)
        tariff_puts = self._plan_tariffs(tariffs, result)
        if before_write is not None:
            before_write(result)
        batch_write(self.table, puts=tariff_puts + puts)
        for put in tariff_puts:
            self._known_tariffs.add((put["tariff_id"]["S"], put["content_hash"]["S"]))
        return result

    def _plan_tariffs(self, tariffs: dict[str, dict[str, Any]], result: UpsertResult) -> list[Item]:
        """Tariffs are immutable (FAQ "How should partners treat tariff IDs?"), yet a different
        body may come under a known id. Each version is kept (``TRF#<id>`` / ``V#<hash>``, whose
        stream record announces it: TariffAdded for an id's first version, TariffChanged after),
        and the current item (``TRF#<id>`` / ``T``, what cached locations inline) moves only to a
        version with a later ``last_updated``, compared as times, never as strings (issue 10)."""
        hashes = {tariff_id: canonical_hash(t) for tariff_id, t in tariffs.items()}
        unknown = [t for t, h in hashes.items() if (t, h) not in self._known_tariffs]
        if not unknown:
            return []
        current: dict[str, Item] = {}
        versions: set[str] = set()
        for stored in batch_get(
            self.table,
            [tariff_key(t) for t in unknown] + [tariff_version_key(t, hashes[t]) for t in unknown],
            projection="sk, tariff_id, content_hash, last_updated",
        ):
            if stored["sk"]["S"] == TARIFF_SK:
                current[stored["tariff_id"]["S"]] = stored
            else:
                versions.add(stored["tariff_id"]["S"])
        puts: list[Item] = []
        for tariff_id in unknown:
            tariff, content_hash = tariffs[tariff_id], hashes[tariff_id]
            now = current.get(tariff_id)
            if tariff_id in versions or (now is not None and now["content_hash"]["S"] == content_hash):
                self._known_tariffs.add((tariff_id, content_hash))
                continue
            record: Item = {
                "tariff_id": {"S": tariff_id},
                "content_hash": {"S": content_hash},
                "last_updated": {"S": str(tariff.get("last_updated", ""))},
                "doc": {"B": _pack(tariff)},
            }
            puts.append(
                {
                    **tariff_version_key(tariff_id, content_hash),
                    **record,
                    "first_version": {"BOOL": now is None},
                }
            )
            if now is None:
                result.new_tariffs.append(tariff)
            else:
                result.changed_tariffs.append(tariff_id)
                logger.warning(
                    "a known tariff id came with a different body (tariffs are immutable)",
                    extra={"tariff_id": tariff_id, "content_hash": content_hash},
                )
            if now is None or _later(record["last_updated"]["S"], now["last_updated"]["S"]):
                puts.append({**tariff_key(tariff_id), **record})
        return puts

    def remove(self, location_ids: list[str]) -> None:
        batch_write(self.table, deletes=[location_key(i) for i in location_ids])

    # Reading -------------------------------------------------------------------------------

    def get(self, location_id: str) -> dict[str, Any] | None:
        """The location as OCPI JSON, tariffs inlined again as received."""
        item = aws.dynamodb().get_item(TableName=self.table, Key=location_key(location_id)).get("Item")
        if not item:
            return None
        doc = _unpack(item["doc"]["B"])
        refs = {
            ref
            for evse in doc.get("evses") or []
            for connector in evse.get("connectors") or []
            for ref in connector.get("_tariff_refs", [])
        }
        tariffs = (
            {
                i["tariff_id"]["S"]: _unpack(i["doc"]["B"])
                for i in batch_get(self.table, [tariff_key(r) for r in sorted(refs)])
            }
            if refs
            else {}
        )
        for evse in doc.get("evses") or []:
            for connector in evse.get("connectors") or []:
                if "_tariff_refs" in connector:
                    connector["tariffs"] = [tariffs[r] for r in connector.pop("_tariff_refs") if r in tariffs]
        return doc

    def time_zone_of(self, location_id: str) -> str | None:
        """The cached location's IANA ``time_zone`` (tariff restrictions are in local time)."""
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=location_key(location_id), ProjectionExpression="doc")
            .get("Item")
        )
        if not item:
            return None
        zone = _unpack(item["doc"]["B"]).get("time_zone")
        return zone if isinstance(zone, str) and zone else None

    def country_of(self, location_id: str) -> str | None:
        """The location's country if it is in the cache (one small read: the authorize path)."""
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=location_key(location_id), ProjectionExpression="country")
            .get("Item")
        )
        return item["country"]["S"] if item else None

    def all_ids(self) -> set[str]:
        """Every cached location id (a paginated scan of keys: reads, no writes)."""
        items = paginate(
            "scan",
            TableName=self.table,
            ProjectionExpression="location_id",
            FilterExpression="sk = :l",
            ExpressionAttributeValues={":l": {"S": LOCATION_SK}},
        )
        return {i["location_id"]["S"] for i in items}

    def query(
        self,
        *,
        country: str | None = None,
        party_key: str | None = None,
        operator: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        include_unpublished: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Summaries by connection owner (and operator name) or by country, paged. Locations with
        ``publish: false`` are left out unless asked for (spec mod_locations: not to be shown)."""
        if party_key:
            index, key, value = "by_party", "party_key", party_key
        elif country:
            index, key, value = "by_country", "country", country
        else:
            raise ValueError("country or operator_party is required")
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "Limit": limit,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":v": {"S": value}},
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = json.loads(base64.urlsafe_b64decode(cursor))
        page = aws.dynamodb().query(**kwargs)
        summaries = [json.loads(i["summary"]["S"]) for i in page.get("Items", [])]
        if operator:
            summaries = [s for s in summaries if s.get("operator") == operator]
        if not include_unpublished:
            summaries = [s for s in summaries if s.get("publish") is not False]
        last = page.get("LastEvaluatedKey")
        next_cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        return summaries, next_cursor
