"""What we learn about a CDR after acknowledging it (facts), written back to the CDR item.

Each CDR is matched to our token: by uid, else by contract_id in any form and, as Plugsurfing
itself does, the first token with that contract_id; such a match is ambiguous when
``X-Original-Protocol`` says an older upstream protocol could not name the key (FAQ "What is
X-Original-Protocol?"). ``session_linked`` says whether we hold its session (FAQ: a CDR can arrive
before its session; the session's arrival asks for a new round). Credit CDRs are not supported by
Roam OCPI: flagged. The cost is recomputed from the CDR's tariffs and charging periods in the
location's local time (tariff_engine.py); an engine failure is an UNCHECKABLE verdict with the
reason, never a lost or failed CDR.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from ..config import Settings
from ..ocpi.cdrs import Cdr
from ..ocpi.leniency import describe_validation_error, parse_inbound
from ..store.locations import LocationCache
from ..store.sessions import SessionStore
from ..store.tokens import TokenStore
from .tariff_engine import recompute

logger = Logger(child=True)


@dataclass
class CdrEnricher:
    tokens: TokenStore
    sessions: SessionStore
    locations: LocationCache
    cost_tolerance: Decimal

    @classmethod
    def from_settings(cls, config: Settings) -> CdrEnricher:
        return cls(
            TokenStore(config.tokens_table),
            SessionStore(config.sessions_table),
            LocationCache(config.locations_table),
            config.cdr_cost_tolerance,
        )

    def facts(self, raw: dict[str, Any], original_protocol: str | None) -> dict[str, Any]:
        """Reads may fail (and the stream retries the record); the cost check never does."""
        try:
            cdr, deviations = parse_inbound(Cdr, raw)
        except ValidationError as error:
            # Stored under an older, more lenient rule: keep it, say why nothing else is known.
            return {"valid": False, "invalid_reason": describe_validation_error(error)}
        return {
            "valid": True,
            "token_match": self.match_token(cdr, original_protocol),
            "session_linked": self.sessions.exists(cdr.country_code, cdr.party_id, cdr.session_id or cdr.id),
            "credit": bool(cdr.credit),
            "x_original_protocol": original_protocol,
            "deviations": deviations.by_kind(),
            "cost_check": self.cost_check(cdr),
        }

    def cost_check(self, cdr: Cdr) -> dict[str, Any]:
        try:
            return recompute(cdr, self.cost_tolerance).as_dict()
        except Exception as error:  # the check informs a human; it never fails a CDR
            logger.exception("cost check failed", extra={"cdr_id": cdr.id})
            return {"status": "UNCHECKABLE", "reason": f"cost engine failed: {type(error).__name__}"}

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
