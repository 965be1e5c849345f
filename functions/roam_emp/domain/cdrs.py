"""CDRs pushed by Plugsurfing (FAQ "CDRs"): the billing feed that must never lose a record.

Acknowledged (HTTP 200, status_code 1000, nothing else: Plugsurfing resends anything else nightly
for up to 7 days) only once the raw body is archived in S3 and the parsed CDR is stored. Retries
collapse to one record; a different body for a known id is kept as a conflict. Each CDR is matched
to our token: by uid, else by contract_id in any form and, as Plugsurfing itself does, the first
token with that contract_id; such a match is ambiguous when ``X-Original-Protocol`` says an older
upstream protocol could not name the key (FAQ "What is X-Original-Protocol?"). Credit CDRs are not
supported by Roam OCPI: stored, flagged, alerted. The cost is recomputed from the CDR's tariffs and
charging periods (tariff_engine.py); a difference beyond the configured tolerance is flagged for
dispute handling.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger

from ..config import Settings
from ..ocpi.cdrs import Cdr
from ..ocpi.leniency import DeviationLog, parse_inbound
from ..ocpi.timestamps import format_timestamp
from ..store.bus import EventPublisher
from ..store.cdrs import CdrStore, StoreOutcome
from ..store.sessions import SessionStore
from ..store.tokens import TokenStore
from .tariff_engine import recompute

logger = Logger(child=True)


@dataclass
class CdrResult:
    cdr: Cdr
    outcome: StoreOutcome
    facts: dict[str, Any]
    deviations: DeviationLog


def body_digest(raw: dict[str, Any]) -> str:
    """Identical content gives an identical digest, whatever the JSON formatting of a resend."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class CdrService:
    store: CdrStore
    tokens: TokenStore
    sessions: SessionStore
    events: EventPublisher
    cost_tolerance: Decimal

    @classmethod
    def from_settings(cls, config: Settings) -> CdrService:
        return cls(
            CdrStore(config.cdrs_table, config.cdr_archive_bucket),
            TokenStore(config.tokens_table),
            SessionStore(config.sessions_table),
            EventPublisher(config.event_bus_name),
            config.cdr_cost_tolerance,
        )

    def receive(self, raw: dict[str, Any], body: bytes, original_protocol: str | None) -> CdrResult:
        cdr, deviations = parse_inbound(Cdr, raw)  # ValidationError -> 2001 naming the field
        digest = body_digest(raw)
        facts = {
            "token_match": self.match_token(cdr, original_protocol),
            "session_linked": self.sessions.exists(cdr.country_code, cdr.party_id, cdr.session_id or cdr.id),
            "credit": bool(cdr.credit),
            "x_original_protocol": original_protocol,
            "deviations": deviations.by_kind(),
            "cost_check": recompute(cdr, self.cost_tolerance).as_dict(),
        }
        archive_key = self.store.archive(raw, body, digest)
        outcome = self.store.store(raw, digest, archive_key, facts)
        if outcome is StoreOutcome.CONFLICT:
            logger.error(
                "CDR conflict: a different body for a known id, kept for review",
                extra={"cdr_id": cdr.id, "digest": digest},
            )
        if cdr.credit:
            logger.error(
                "credit CDR received: not supported by Roam OCPI, stored flagged",
                extra={"cdr_id": cdr.id, "credit_reference_id": cdr.credit_reference_id},
            )
        if outcome is not StoreOutcome.DUPLICATE:
            self.events.publish(
                "CdrReceived",
                {
                    "cdr_id": cdr.id,
                    "outcome": outcome.value,
                    "country_code": cdr.country_code,
                    "party_id": cdr.party_id,
                    "session_id": cdr.session_id,
                    "location_id": cdr.cdr_location.id,
                    "evse_uid": cdr.cdr_location.evse_uid,
                    "currency": cdr.currency,
                    "total_cost_excl_vat": float(cdr.total_cost.excl_vat),
                    "total_energy_kwh": float(cdr.total_energy),
                    "start_date_time": format_timestamp(cdr.start_date_time),
                    "end_date_time": format_timestamp(cdr.end_date_time),
                    **facts,
                },
            )
        return CdrResult(cdr, outcome, facts, deviations)

    def match_token(self, cdr: Cdr, original_protocol: str | None) -> dict[str, Any]:
        token = cdr.cdr_token
        stored = self.tokens.get(token.type, token.uid, consistent=False)
        if stored is not None:
            return {"method": "uid", "token_uid": token.uid, "token_type": token.type, "ambiguous": False}
        sharing = self.tokens.count_for_contract(token.contract_id)
        first = self.tokens.first_for_contract(token.contract_id) if sharing else None
        if first is None:
            return {"method": "none", "token_uid": None, "token_type": None, "ambiguous": False}
        return {
            "method": "contract_id",
            "token_uid": first.token["uid"],
            "token_type": first.token["type"],
            # Several tokens share the contract_id and an older upstream protocol only gave it:
            # like Plugsurfing, we take the first; the exact key is not certain.
            "ambiguous": len(sharing) > 1 and original_protocol is not None,
        }
