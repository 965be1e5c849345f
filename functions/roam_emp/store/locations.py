"""The Locations cache in DynamoDB.

- One item per location (``LOC#<id>``), the OCPI JSON *as received* (unknown fields kept),
  compressed (zstd or zlib, cdk.json ``location_doc_compression``; read either way:
  store/compression.py), with each connector's inlined ``tariffs`` replaced by references: tariffs are stored
  once per id (``TRF#<id>``) because Roam OCPI tariffs are immutable (FAQ "How should partners treat
  tariff IDs?"), and keep their own ``last_updated``.
- A content hash per location: a pull writes only locations whose hash changed, so a full pull of
  an unchanged network costs reads, not writes.
- Index attributes: ``party_key`` (connection owner ``country_code*party_id``), ``country``
  (Location.country, ISO alpha-3 as sent), plus a small ``summary`` projected into both indexes.
- Location ids are CiString(36) (mod_locations.asciidoc; types.asciidoc): the item is keyed by
  ``ocpi.common.ci_key`` of the id, so a location pulled as ``loc1`` and again as ``LOC1`` is one
  location; ``location_id`` and the document keep the spelling of the latest pull.

Item layout of the locations table (``pk`` / ``sk``):

- ``LOC#<key>`` / ``L``, the location item: ``location_id``, ``party_key`` and ``country`` (the two
  indexes' keys), ``summary`` (their projection), ``operator_name``, ``content_hash`` (of the whole
  location as received), ``shape_hash`` (of everything but the EVSE ``status``/``last_updated`` and
  the location's ``last_updated``), ``last_updated`` and ``evse_statuses`` (the EVSE count per
  status, JSON) and ``doc`` (the compressed document). Written whole by a new location or a new
  shape (``BatchWriteItem``).
- ``LOC#<key>`` / ``S``, the status item: the latest status-only change, written on top of one
  location item by a ``PutItem`` of its own (about 1 write unit instead of the whole location
  item's 2 or more: DynamoDB bills a write by the size of the item written, issue 11).
  ``location_id`` (as received), ``base_hash`` (the ``content_hash`` of the location item it was
  written on), ``shape_hash``, ``content_hash`` (of the whole location as received with these
  statuses), ``last_updated`` (``format_timestamp``) and ``last_updated_ms`` (epoch milliseconds, a
  number: what the write's condition compares), ``evse_statuses`` (as on the location item) and
  ``evses``: JSON, ``[{"uid", "status", "last_updated"}]`` as received, in the document's EVSE
  order, REMOVED included (spec mod_locations: a status change touches ``EVSE.status``,
  ``EVSE.last_updated`` and ``Location.last_updated``). It *applies* iff its ``base_hash`` is the
  location item's ``content_hash``: every reader overlays it then, and ignores it otherwise (a
  full change writes a location item with another content hash, which voids it with no write of
  its own). Neither index keys on its attributes.
- ``TRF#<id>`` / ``T`` and ``TRF#<id>`` / ``V#<hash>``: tariffs, current and each version.

This module does the I/O. With no I/O: the encoding and hashes in store/location_encoding.py, the
keys, the location and status items and the rules of their writes in store/location_items.py, and
what every reader applies (a status item's overlay) in store/location_overlay.py.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ..ocpi.common import ci_key
from . import aws
from .compression import ZSTD, decompress
from .dynamo import Item, batch_get, batch_write, is_conditional_failure, paginate
from .dynamo import item_bytes as item_bytes

# The encoding (location_encoding.py) and the items (location_items.py) have modules of their own,
# with no I/O; the names imported from here stay importable from here.
from .location_encoding import _digest as _digest
from .location_encoding import canonical as canonical
from .location_encoding import canonical_hash as canonical_hash
from .location_encoding import compress_doc as compress_doc
from .location_encoding import encode as encode
from .location_encoding import finite_numbers as finite_numbers
from .location_encoding import legacy_canonical as legacy_canonical
from .location_items import (
    _STATUS_CONDITION,
    FUTURE_TOLERANCE_MS,
    TARIFF_SK,
    _later,
    _location_pk,
    tariff_key,
    tariff_record,
    tariff_version_key,
)
from .location_items import STATUS_SK as STATUS_SK
from .location_items import TARIFF_VERSION_PREFIX as TARIFF_VERSION_PREFIX
from .location_items import IncomingLocation as IncomingLocation
from .location_items import StatusChange as StatusChange
from .location_items import location_record as location_record
from .location_items import status_item as status_item
from .location_items import status_key as status_key
from .location_overlay import StoredHashes, _applying, _by_sk, _connectors, _overlay, stored_hashes_of
from .lookups import LOCATION_SK, location_country
from .lookups import location_key as location_key

logger = Logger(child=True)


def _unpack(blob: Any) -> dict[str, Any]:
    data = blob.value if hasattr(blob, "value") else blob
    return json.loads(decompress(data))  # type: ignore[no-any-return]


@dataclass
class UpsertResult:
    created: list[IncomingLocation] = field(default_factory=list)
    updated: list[IncomingLocation] = field(default_factory=list)
    status_only: int = 0  # of ``updated``: a status item written, the location item untouched
    # of ``status_only``: not written, a later status on the same location item was stored first
    status_superseded: int = 0
    unchanged: int = 0
    new_tariffs: list[dict[str, Any]] = field(default_factory=list)
    changed_tariffs: list[str] = field(default_factory=list)


# Status items of a page, a few at a time (each is one PutItem round trip).
_WRITERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="location-status")


class LocationCache:
    def __init__(self, table_name: str, doc_compression: str = ZSTD) -> None:
        """``doc_compression``: how the location documents it writes are compressed, "zstd" or
        "zlib" (cdk.json ``location_doc_compression``: ``Settings``); it reads both."""
        self.table = table_name
        self.doc_compression = doc_compression
        self._known_tariffs: set[tuple[str, str]] = set()  # (id, content hash) stored, per process

    # Writing -------------------------------------------------------------------------------

    def stored_hashes(self, location_ids: list[str]) -> dict[str, StoredHashes]:
        """Content and shape hashes by the ids' CiString keys (``ci_key``): one BatchGetItem of
        the location item and the status item per location (the effective content hash is the
        applying status item's)."""
        ids = {ci_key(i): i for i in location_ids}  # one location per id, whatever its case
        keys = [key for i in ids.values() for key in (location_key(i), status_key(i))]
        # Eventually consistent: half the read units of every pull's change check (issue 11). A
        # read that misses a write of the last second costs at most a repeated write: a missed
        # status item makes its change look new again (the same status item is written again,
        # the condition lets an equal stamp through, and its stream record, the content hash
        # unchanged, announces nothing); a missed location item mostly has another shape than
        # the incoming one, so the change takes the full path. What a stale read can cost, and
        # only when one location is read twice within that second (it moved to a later page of
        # the same pull): a status item put on a superseded location item (ignored until the
        # next change), or a change back to the location item's own content taken for
        # unchanged while a missed status item says otherwise (until the next change or the
        # nightly full pull). Strongly consistent reads would double this read's cost
        # (docs/cost.md) for that window.
        items = batch_get(
            self.table,
            keys,
            projection="pk, sk, location_id, content_hash, shape_hash, base_hash",
            consistent=False,
        )
        hashes: dict[str, StoredHashes] = {}
        for parts in _by_sk(items).values():
            location, status = parts.get(LOCATION_SK), parts.get(STATUS_SK)
            if location is None or "location_id" not in location:
                continue
            hashes[ci_key(location["location_id"]["S"])] = stored_hashes_of(location, status)
        return hashes

    def upsert(
        self,
        incoming: list[IncomingLocation],
        before_write: Callable[[UpsertResult], None] | None = None,
        *,
        stored: dict[str, StoredHashes] | None = None,
        unchanged: int = 0,
    ) -> UpsertResult:
        """Store the locations whose content changed, and tariffs not stored before.

        ``stored``: the hashes already read for this page (the puller reads them first, to
        validate only what changed; ``unchanged`` counts what it left out for being unchanged).
        A status-only change is a PutItem of the location's small status item (module
        docstring): the location item, its document and both indexes stay untouched (issue 11).
        Any other change rewrites the location item, which voids the status item (its base hash
        is no longer the location item's content hash).

        ``before_write`` sees the changes before anything is written (the puller announces them
        there): a crash in between repeats the announcement on the resumed page rather than
        losing it, so events are at-least-once."""
        result = UpsertResult(unchanged=unchanged)
        if not incoming:
            return result
        # One item per CiString key: a page holding one id in two spellings keeps the last one
        # (DynamoDB refuses a batch naming one key twice).
        incoming = list({ci_key(i.id): i for i in incoming}.values())
        if stored is None:
            stored = self.stored_hashes([i.id for i in incoming])
        puts: list[Item] = []
        voided: list[Item] = []  # status items a rewritten location item would bring back to life
        updates: list[tuple[IncomingLocation, StoredHashes]] = []
        tariffs: dict[str, dict[str, Any]] = {}
        tariff_hashes: dict[str, str] = {}
        for item in incoming:
            encoded = item.stored
            previous = stored.get(ci_key(item.id))
            if previous is not None and previous.content_hash == encoded.content_hash:
                result.unchanged += 1
                continue
            (result.updated if previous else result.created).append(item)
            if item.status_change is not None and previous is not None:
                # the same shape, tariffs included: nothing new for the tariffs either
                assert previous.shape_hash is not None
                updates.append((item, previous))
                result.status_only += 1
                continue
            if previous is not None and previous.status_base == encoded.content_hash:
                # Back to an earlier content (shape A, a status change, shape B, A again as it was
                # first stored): the old status item's base hash would match again. Rare: delete it.
                voided.append(status_key(item.id))
            tariffs.update(encoded.tariffs)
            tariff_hashes.update(encoded.tariff_hashes)
            location = item.fields
            assert location is not None, "a new location or a new shape is validated in full"
            puts.append(location_record(location, encoded, self.doc_compression))
        tariff_puts = self._plan_tariffs(tariffs, tariff_hashes, result)
        if before_write is not None:
            before_write(result)
        batch_write(self.table, puts=tariff_puts + puts, deletes=voided)
        if updates:
            # One conditional PutItem per location (a batch takes no condition): a few at a time.
            written = list(_WRITERS.map(lambda u: self._put_status(*u), updates))
            result.status_superseded = written.count(False)
            if result.status_superseded:
                logger.info(
                    "status changes not written: a later status was already stored",
                    extra={"superseded": result.status_superseded},
                )
        for put in tariff_puts:
            self._known_tariffs.add((put["tariff_id"]["S"], put["content_hash"]["S"]))
        return result

    def _put_status(self, item: IncomingLocation, stored: StoredHashes) -> bool:
        """The status item, written on the stored location item; False when a later status on
        that same location item is stored already (the older change arrived second)."""
        record = status_item(item, stored.base_hash)
        try:
            aws.dynamodb().put_item(
                TableName=self.table,
                Item=record,
                ConditionExpression=_STATUS_CONDITION,
                ExpressionAttributeValues={
                    ":base": record["base_hash"],
                    ":ms": record["last_updated_ms"],
                    ":future": {"N": str(int(time.time() * 1000) + FUTURE_TOLERANCE_MS)},
                },
            )
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True

    def _plan_tariffs(
        self, tariffs: dict[str, dict[str, Any]], hashes: dict[str, str], result: UpsertResult
    ) -> list[Item]:
        """Tariffs are immutable (FAQ "How should partners treat tariff IDs?"), yet a different
        body may come under a known id. Each version is kept (``TRF#<id>`` / ``V#<hash>``, whose
        stream record announces it: TariffAdded for an id's first version, TariffChanged after),
        and the current item (``TRF#<id>`` / ``T``, what cached locations inline) moves only to a
        version with a later ``last_updated``, compared as times, never as strings (issue 10)."""
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
        known = {
            t
            for t in unknown
            if t in versions or (t in current and current[t]["content_hash"]["S"] == hashes[t])
        }
        known |= self._known_by_legacy_hash(
            {t: tariffs[t] for t in unknown if t not in known and t in current}, hashes, current
        )
        puts: list[Item] = []
        for tariff_id in unknown:
            tariff, content_hash = tariffs[tariff_id], hashes[tariff_id]
            now = current.get(tariff_id)
            if tariff_id in known:
                self._known_tariffs.add((tariff_id, content_hash))
                continue
            record = tariff_record(tariff_id, tariff, content_hash)
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

    def _known_by_legacy_hash(
        self, candidates: dict[str, dict[str, Any]], hashes: dict[str, str], current: dict[str, Item]
    ) -> set[str]:
        """Known tariff ids whose body was stored under its pre-orjson hash (:func:`canonical`:
        only a body holding a small float such as ``1e-05`` hashes differently): the same body,
        not a new version, so no TariffChanged. Costs an encoding per *changed-looking* tariff
        only, and a read only when that hash differs."""
        legacy = {t: _digest(legacy_canonical(body)) for t, body in candidates.items()}
        legacy = {t: h for t, h in legacy.items() if h != hashes[t]}
        known = {t for t, h in legacy.items() if current[t]["content_hash"]["S"] == h}
        rest = [t for t in legacy if t not in known]
        if rest:
            found = batch_get(
                self.table, [tariff_version_key(t, legacy[t]) for t in rest], projection="tariff_id"
            )
            known |= {item["tariff_id"]["S"] for item in found}
        return known

    def remove(self, location_ids: list[str]) -> None:
        """Each location's item and its status item (none there: the delete writes nothing)."""
        batch_write(
            self.table, deletes=[key for i in location_ids for key in (location_key(i), status_key(i))]
        )

    # Reading -------------------------------------------------------------------------------

    def get(self, location_id: str, *, with_tariffs: bool = True) -> dict[str, Any] | None:
        """The location as OCPI JSON, tariffs inlined again as received, with the statuses of its
        applying status item (``with_tariffs=False``: the connectors without tariffs, one read: a
        Query of the location's partition returns both items)."""
        items = (
            aws.dynamodb()
            .query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": location_key(location_id)["pk"]},
            )
            .get("Items", [])
        )
        parts = {i["sk"]["S"]: i for i in items}
        item = parts.get(LOCATION_SK)
        if not item:
            return None
        doc = _unpack(item["doc"]["B"])
        status = _applying(item, parts.get(STATUS_SK))
        if status is not None:
            _overlay(doc, status)
        connectors = _connectors(doc)
        if not with_tariffs:
            for connector in connectors:
                connector.pop("_tariff_refs", None)
            return doc
        # a malformed inlined tariff (no id, or not a string) is referenced as received, not stored
        refs = {r for c in connectors for r in c.get("_tariff_refs", []) if isinstance(r, str)}
        tariffs = (
            {
                i["tariff_id"]["S"]: _unpack(i["doc"]["B"])
                for i in batch_get(self.table, [tariff_key(r) for r in sorted(refs)])
            }
            if refs
            else {}
        )
        for connector in connectors:
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
        return location_country(self.table, location_id)

    def _add_statuses(self, summaries: list[dict[str, Any]]) -> None:
        """The EVSE status counts and ``last_updated`` are not in the indexes (a status change
        must not rewrite them): one BatchGetItem of the page's location and status items, the
        applying status item's counts winning. Items stored before they were separate carry them
        in their summary already."""
        wanted = [s["id"] for s in summaries if "evses" not in s and isinstance(s.get("id"), str)]
        if not wanted:
            return
        keys = [key for w in dict.fromkeys(wanted) for key in (location_key(w), status_key(w))]
        found: dict[str, Item] = {}
        for pk, parts in _by_sk(
            batch_get(
                self.table,
                keys,
                projection="pk, sk, location_id, content_hash, base_hash, evse_statuses, last_updated",
            )
        ).items():
            location = parts.get(LOCATION_SK)
            if location is not None and "location_id" in location:
                found[pk] = _applying(location, parts.get(STATUS_SK)) or location
        for summary in summaries:
            if "evses" in summary or not isinstance(summary.get("id"), str):
                continue
            item = found.get(_location_pk(summary["id"]))
            if item is None:
                continue
            summary["evses"] = json.loads(item["evse_statuses"]["S"]) if "evse_statuses" in item else {}
            if "last_updated" in item:
                summary["last_updated"] = item["last_updated"]["S"]

    def all_ids(self) -> set[str]:
        """Every cached location id as last received (a paginated scan of keys: reads, no
        writes); compare them by ``ci_key``."""
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
        self._add_statuses(summaries)
        if operator:
            summaries = [s for s in summaries if s.get("operator") == operator]
        if not include_unpublished:
            summaries = [s for s in summaries if s.get("publish") is not False]
        last = page.get("LastEvaluatedKey")
        next_cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        return summaries, next_cursor
