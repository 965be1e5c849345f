"""What we learn about a CDR after acknowledging it (facts), written back to the CDR item.

Each CDR is matched to our token (domain/token_match.py): by uid, else by contract_id in any form
and, as Plugsurfing itself does, the first token with that contract_id; ambiguous when several of
our tokens share it and ``X-Original-Protocol`` says an older upstream protocol could not name the
key (FAQ "What is X-Original-Protocol?"). ``session_linked`` says whether we hold its session
(FAQ: a CDR can arrive before its session; the session's arrival asks for a new round). Credit CDRs
are not supported by Roam OCPI: flagged. The cost is recomputed from the CDR's tariffs and charging
periods in the location's local time (domain/pricing/); an engine failure is an UNCHECKABLE verdict
with the reason, never a lost or failed CDR.
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
from .pricing import CostVerdict, recompute
from .pricing.check import UNCHECKABLE
from .token_match import match_token

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
            "token_match": match_token(self.tokens, cdr.cdr_token, original_protocol),
            "session_linked": self.sessions.exists(cdr.country_code, cdr.party_id, cdr.session_id or cdr.id),
            "credit": bool(cdr.credit),
            "x_original_protocol": original_protocol,
            "deviations": deviations.by_kind(),
            "cost_check": self.cost_check(cdr),
        }

    def cost_check(self, cdr: Cdr) -> dict[str, Any]:
        try:
            # Restrictions are in the location's local time (mod_tariffs): the cached location's
            # time_zone; without one the engine says UNCHECKABLE wherever time changes the price.
            time_zone = self.locations.time_zone_of(cdr.cdr_location.id)
            return recompute(cdr, self.cost_tolerance, time_zone=time_zone).as_dict()
        except Exception as error:  # the check informs a human; it never fails a CDR
            logger.exception("cost check failed", extra={"cdr_id": cdr.id})
            # The shape of every verdict (events/schemas: one cost_check shape for consumers).
            reason = f"cost engine failed: {type(error).__name__}"
            excl_vat = cdr.total_cost.excl_vat
            return CostVerdict(
                UNCHECKABLE, None, excl_vat, reason, currency=cdr.currency, reasons=(reason,)
            ).as_dict()
