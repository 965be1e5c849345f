"""The transactional outbox: every committed change of a table that holds facts becomes a domain
event on the EMP's bus, read from the table's DynamoDB Stream, never from the request that wrote it.

A request that fails right after its write (a timeout, a crash, a failed publish) can no longer
lose the event: the stream holds the change for 24 hours and the consumer retries until it is
published (at least once). Each event's ``idempotency_key`` is derived from the stored change
itself (an item and its version), so duplicates from retries, resends and stream replays carry the
same key and consumers collapse them. docs/events.md lists each event with its key.

Which PutEvents calls carry the events, and the batching of status-only location changes into
``LocationStatusesChanged`` events: event_batches.py. The CDR table's stream also drives the CDR
enrichment after acknowledgement (cdr_enrichment.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from ..config import Settings
from ..store import doc_codec
from ..store.bus import EventPublisher
from ..store.cdrs import CDR_SK, CONFLICT_SK, CdrStore, cdr_key
from ..store.locations import STATUS_SK as LOCATION_STATUS_SK
from ..store.locations import TARIFF_VERSION_PREFIX
from ..store.privacy import FORGET_ID
from ..store.streams import Change, Item, change_from_record, number, text
from .cdr_enrichment import CdrEnricher
from .event_batches import Event, Outgoing

logger = Logger(child=True)
# In-process attempts per record before the record is handed back to the event source (which
# retries from it, STREAM_CONSUMER.max_retries times): most AWS hiccups pass within a second.
ATTEMPTS = 3


def _obj(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """An optional object of a document we keep as received (it may be anything there)."""
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


def _short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class OutboxRelay:
    tables: dict[str, str]  # table name -> topology table key
    events: EventPublisher
    cdrs: CdrStore
    enricher: CdrEnricher
    sleep: Callable[[float], None] = time.sleep
    count: Callable[[str], None] = lambda _name: None  # a business metric (the handler's Metrics)

    @classmethod
    def from_settings(cls, config: Settings) -> OutboxRelay:
        return cls(
            tables={
                config.locations_table: "locations",
                config.tokens_table: "tokens",
                config.authorizations_table: "authorizations",
                config.sessions_table: "sessions",
                config.cdrs_table: "cdrs",
                config.commands_table: "commands",
            },
            events=EventPublisher(config.event_bus_name),
            cdrs=CdrStore(config.cdrs_table, config.cdr_archive_bucket),
            enricher=CdrEnricher.from_settings(config),
        )

    def counting(self, count: Callable[[str], None]) -> OutboxRelay:
        self.count = count
        return self

    def process(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Records in stream order; at the first that fails, stop and report it: the event source
        retries from there, so a later change of the same item never overtakes an earlier one.

        Events are put on the bus ten to a call (PutEvents' limit) rather than one call per
        record, and the status items' changes of the whole batch ride in as few
        ``LocationStatusesChanged`` events as fit (issue 11: EventBridge bills per entry). A record
        counts as relayed only once everything it announces is on the bus: a failed put reports
        the earliest record it, or anything not yet put, carried."""
        outgoing = Outgoing(lambda events: self._attempt(lambda: self.events.publish_many(events), None))

        def failure(index: int) -> dict[str, Any]:
            sequence_number = change_from_record(records[index]).sequence_number
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}

        for index, record in enumerate(records):
            change = change_from_record(record)
            item = f"{change.table}/{change.pk()}"
            try:
                if self._is_status_item(change):
                    entry = self._attempt(lambda c=change: self.status_change(c), change)  # type: ignore[misc]
                    if entry is not None:
                        outgoing.add_status(index, item, entry)
                else:
                    for event in self._attempt(lambda c=change: self.translate(c), change):  # type: ignore[misc]
                        outgoing.add_event(index, item, event)
            except Exception:
                unrelayed = outgoing.put(final=True)
                return failure(index if unrelayed is None else unrelayed)
            if outgoing.full():
                unrelayed = outgoing.put()
                if unrelayed is not None:
                    return failure(unrelayed)
        unrelayed = outgoing.put(final=True)
        return failure(unrelayed) if unrelayed is not None else {"batchItemFailures": []}

    def _attempt(self, action: Callable[[], Any], change: Change | None) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return action()
            except Exception:
                if attempt == ATTEMPTS:
                    where = (
                        {"table": change.table, "pk": change.pk(), "seq": change.sequence_number}
                        if change
                        else {}
                    )
                    logger.exception("stream record not relayed; the event source retries it", extra=where)
                    raise
                self.sleep(0.02 * 4**attempt)
        raise AssertionError("unreachable")

    def translate(self, change: Change) -> list[Event]:
        """The domain events of one committed change (none when it is not news)."""
        table = self.tables.get(change.table)
        translate = _TRANSLATORS.get(table or "")
        if translate is None:
            logger.warning("stream record of an unknown table ignored", extra={"table": change.table})
            return []
        return translate(self, change)

    # CDRs --------------------------------------------------------------------------------------

    def cdr_change(self, change: Change) -> list[Event]:
        new, old = change.new, change.old
        if new is None or not change.sk().startswith((CDR_SK, CONFLICT_SK)):
            return []
        wanted, held = number(new, "enrich_round") or 1, number(new, "facts_round")
        if wanted > held:
            # Facts first; their write-back is the change that announces the CDR.
            doc = self.cdrs.doc_of(new)
            facts = self.enricher.facts(doc, text(new, "x_original_protocol"))
            self.cdrs.save_facts(change.keys, wanted, facts)
            return []
        if held == 0 or held == number(old, "facts_round"):
            return []
        return [self._cdr_event(change.sk(), new, held)]

    def _cdr_event(self, sk: str, item: Item, round_: int) -> Event:
        cdr = self.cdrs.doc_of(item)
        facts = json.loads(item["facts"]["S"])
        digest = item["digest"]["S"]
        location, total = _obj(cdr, "cdr_location"), _obj(cdr, "total_cost")
        detail_type = "CdrReceived" if round_ == 1 else "CdrFactsUpdated"
        detail = {
            "idempotency_key": f"{detail_type}/{cdr.get('id')}/{digest}/{round_}",
            "cdr_id": cdr.get("id"),
            "outcome": "conflict" if sk.startswith(CONFLICT_SK) else "stored",
            "digest": digest,
            "archive_key": item["archive_key"]["S"],
            "country_code": cdr.get("country_code"),
            "party_id": cdr.get("party_id"),
            "session_id": cdr.get("session_id"),
            "location_id": location.get("id"),
            "evse_uid": location.get("evse_uid"),
            "currency": cdr.get("currency"),
            "total_cost_excl_vat": total.get("excl_vat"),
            "total_energy_kwh": cdr.get("total_energy"),
            "start_date_time": cdr.get("start_date_time"),
            "end_date_time": cdr.get("end_date_time"),
            "facts_round": round_,
            "enrich_reason": text(item, "enrich_reason"),
            **facts,
        }
        if (facts.get("cost_check") or {}).get("status") == "DISCREPANCY":
            self.count("CdrCostDiscrepancy")
        if facts.get("credit"):
            self.count("CdrCredit")
        return detail_type, detail

    # Sessions ----------------------------------------------------------------------------------

    def session_change(self, change: Change) -> list[Event]:
        session = doc_codec.loads(change.new)
        if session is None or session == doc_codec.loads(change.old):
            return []  # removed, or written again unchanged (a resend)
        forgotten = text(change.new, FORGET_ID)
        if forgotten and forgotten != text(change.old, FORGET_ID):
            return []  # a GDPR erasure (domain/forget.py announces it once, without personal data)
        self._link_cdrs(session)
        token = _obj(session, "cdr_token")
        last_updated = session.get("last_updated")  # as Plugsurfing sent it (the item's is fixed-width)
        detail = {
            "idempotency_key": f"SessionUpdated/{change.pk()}/{last_updated}/{_short_hash(session)}",
            "session_id": session.get("id"),
            "country_code": session.get("country_code"),
            "party_id": session.get("party_id"),
            "status": session.get("status"),
            "kwh": session.get("kwh"),
            "token_uid": token.get("uid"),
            "token_type": token.get("type"),
            "contract_id": token.get("contract_id"),
            "location_id": session.get("location_id"),
            "evse_uid": session.get("evse_uid"),
            "connector_id": session.get("connector_id"),
            "last_updated": last_updated,
            "x_original_protocol": text(change.new, "x_original_protocol"),
        }
        return [("SessionUpdated", detail)]

    def _link_cdrs(self, session: dict[str, Any]) -> None:
        """FAQ "Can a CDR be sent without a Session ID?": a CDR can come first. When its session
        arrives, the CDR gets a new round of facts (session_linked) and a CdrFactsUpdated event."""
        session_id = session.get("id")
        if not isinstance(session_id, str) or not session_id:
            return
        keys = [k for k in self.cdrs.keys_for_session(session_id) if k["sk"]["S"] == CDR_SK]
        keys.append(cdr_key(session_id))  # FAQ: with a session, the CDR id is the session id
        seen: set[str] = set()
        for found in keys:
            key = {"pk": found["pk"], "sk": found["sk"]}  # as stored: never re-derived from the id
            if key["pk"]["S"] in seen:
                continue
            seen.add(key["pk"]["S"])
            stored = self.cdrs.get_at(key)
            if stored and stored["facts"] is not None and stored["facts"].get("session_linked") is False:
                self.cdrs.request_enrichment(key, "session arrived")

    # Commands ----------------------------------------------------------------------------------

    def command_change(self, change: Change) -> list[Event]:
        new, old = change.new, change.old
        result = doc_codec.loads(new, "result")
        if result is None or (old is not None and doc_codec.loads(old, "result") == result):
            return []
        source = text(new, "result_source")
        command_id = change.pk().removeprefix("CMD#")
        detail = {
            "idempotency_key": f"CommandResultReceived/{command_id}/{source}/{result.get('result')}",
            "command_id": command_id,
            "command": text(new, "command"),
            "result": result.get("result"),
            "message": result.get("message"),
            "source": source,  # cpo: the CPO's CommandResult; timer: no result by the due time
            "late": source == "cpo" and text(old, "result_source") == "timer",
            "result_at": text(new, "result_at"),
        }
        return [("CommandResultReceived", detail)]

    # Tokens ------------------------------------------------------------------------------------

    def token_change(self, change: Change) -> list[Event]:
        new, old = change.new, change.old
        state = text(new, "push_state")
        if new is None or (
            state == text(old, "push_state") and number(new, "version") == number(old, "version")
        ):
            return []
        token = doc_codec.loads(new) or {}
        version = number(new, "version")
        detail = {
            "idempotency_key": "TokenPushStateChanged/"
            f"{token.get('type')}/{token.get('uid')}/{version}/{state}",
            "token_uid": token.get("uid"),
            "token_type": token.get("type"),
            "contract_id": token.get("contract_id"),
            "valid": token.get("valid"),
            "whitelist": token.get("whitelist"),
            "version": version,
            "push_state": state,
            "previous_push_state": text(old, "push_state"),
            "push_error": text(new, "push_error"),
        }
        return [("TokenPushStateChanged", detail)]

    # Authorizations ----------------------------------------------------------------------------

    def authorization_change(self, change: Change) -> list[Event]:
        if change.event_name != "INSERT" or change.new is None:
            return []  # a decision is written once; REMOVE is its retention ending (TTL)
        decision = json.loads(change.new["summary"]["S"])
        key = f"AuthorizationDecided/{decision.get('authorization_reference')}"
        return [("AuthorizationDecided", {"idempotency_key": key, **decision})]

    # Locations and tariffs ---------------------------------------------------------------------

    def location_change(self, change: Change) -> list[Event]:
        if change.pk().startswith("TRF#"):
            return self._tariff_change(change)
        if change.sk() == LOCATION_STATUS_SK:
            return []  # a status item: process() batches it (status_change), never one event each
        new, old = change.new, change.old
        # Spelt as the pull received it (the key is upper-cased: ocpi.common.ci_key), as in
        # LocationStatusesChanged and the admin API.
        location_id = text(new or old, "location_id") or change.pk().removeprefix("LOC#")
        if new is None:
            key = f"LocationRemoved/{location_id}/{text(old, 'content_hash')}"
            return [("LocationRemoved", {"idempotency_key": key, "location_id": location_id})]
        content_hash = text(new, "content_hash")
        if content_hash == text(old, "content_hash"):
            return []
        location = doc_codec.loads(new) or {}
        operator = _obj(location, "operator")
        evses = [e for e in location.get("evses") or [] if isinstance(e, dict) and e.get("uid")]
        detail = {
            "idempotency_key": f"LocationUpserted/{location_id}/{content_hash}",
            "change": "updated" if old else "created",
            "location_id": location_id,
            "country_code": location.get("country_code"),
            "party_id": location.get("party_id"),
            "operator": operator.get("name"),
            "country": location.get("country"),
            "name": location.get("name"),
            "publish": location.get("publish"),
            "publish_allowed_to": location.get("publish_allowed_to"),
            "last_updated": text(new, "last_updated"),
            "evse_statuses": {e.get("uid"): e.get("status") for e in evses if e.get("status") != "REMOVED"},
            # spec mod_locations, Status: REMOVED means the EVSE no longer exists.
            "removed_evses": sorted(str(e.get("uid")) for e in evses if e.get("status") == "REMOVED"),
        }
        return [("LocationUpserted", detail)]

    def _is_status_item(self, change: Change) -> bool:
        """A location's status item (``LOC#<key>`` / ``S``: its EVSE statuses, written by a
        status-only change): announced in batches, ``LocationStatusesChanged``."""
        return (
            self.tables.get(change.table) == "locations"
            and change.pk().startswith("LOC#")
            and change.sk() == LOCATION_STATUS_SK
        )

    def status_change(self, change: Change) -> dict[str, Any] | None:
        """One entry of a ``LocationStatusesChanged`` event (none when it is not news). A removed
        status item announces nothing: it goes with its location (``LocationRemoved``)."""
        new, old = change.new, change.old
        if new is None:
            return None
        content_hash = text(new, "content_hash")
        if old is not None and content_hash == text(old, "content_hash"):
            return None
        location_id = text(new, "location_id") or change.pk().removeprefix("LOC#")
        listed = doc_codec.loads(new, "evses")
        evses = (
            [e for e in listed if isinstance(e, dict) and e.get("uid")] if isinstance(listed, list) else []
        )
        return {
            "idempotency_key": f"LocationStatusChanged/{location_id}/{content_hash}",
            "location_id": location_id,
            "last_updated": text(new, "last_updated"),
            "evse_statuses": {e["uid"]: e.get("status") for e in evses if e.get("status") != "REMOVED"},
            # spec mod_locations, Status: REMOVED means the EVSE no longer exists.
            "removed_evses": sorted(str(e["uid"]) for e in evses if e.get("status") == "REMOVED"),
        }

    def _tariff_change(self, change: Change) -> list[Event]:
        """One event per new tariff *version* (store/locations.py keeps each one): TariffAdded
        for an id's first, TariffChanged after (FAQ: tariffs are immutable, so say so). The
        current-version item moving between versions announces nothing more."""
        new, old = change.new, change.old
        if not change.sk().startswith(TARIFF_VERSION_PREFIX) or new is None or old is not None:
            return []
        tariff = doc_codec.loads(new) or {}
        detail_type = "TariffAdded" if new.get("first_version", {}).get("BOOL", True) else "TariffChanged"
        detail = {
            "idempotency_key": f"{detail_type}/{tariff.get('id')}/{text(new, 'content_hash')}",
            "tariff_id": tariff.get("id"),
            "currency": tariff.get("currency"),
            "last_updated": tariff.get("last_updated"),
        }
        return [(detail_type, detail)]


_TRANSLATORS: dict[str, Callable[[OutboxRelay, Change], list[Event]]] = {
    "cdrs": OutboxRelay.cdr_change,
    "sessions": OutboxRelay.session_change,
    "commands": OutboxRelay.command_change,
    "tokens": OutboxRelay.token_change,
    "authorizations": OutboxRelay.authorization_change,
    "locations": OutboxRelay.location_change,
}
