"""Sessions pushed by Plugsurfing (FAQ "Sessions": push only; PUT at start, PATCHes with
incremental kWh, status and last_updated while charging, PUT again at stop).

Out-of-order or repeated updates are ignored when older than what we hold (``last_updated``);
a PATCH of an unknown session is 404 + 2001; PATCH ``charging_periods`` are appended
(mod_sessions.asciidoc, PATCH). Sessions may lack ``authorization_reference`` (offline starts,
OCPI 2.1.1 CPOs); ``X-Original-Protocol`` is recorded when Plugsurfing sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..ocpi.leniency import DeviationLog, parse_inbound
from ..ocpi.sessions import Session
from ..ocpi.status import OcpiError, StatusCode
from ..ocpi.timestamps import format_timestamp
from ..store.bus import EventPublisher
from ..store.sessions import SessionStore, StorageLimitExceeded


@dataclass
class SessionResult:
    session: dict[str, Any]
    applied: bool  # False: older than what we hold, ignored
    deviations: DeviationLog


def _path_must_match(body: dict[str, Any], country_code: str, party_id: str, session_id: str) -> None:
    for field, expected in (("country_code", country_code), ("party_id", party_id), ("id", session_id)):
        if field in body and body[field] != expected:
            raise OcpiError(
                StatusCode.INVALID_OR_MISSING_PARAMETERS,
                f"{field} {body[field]!r} differs from the URL ({expected!r})",
            )


@dataclass
class SessionService:
    store: SessionStore
    events: EventPublisher

    @classmethod
    def from_settings(cls, config: Settings) -> SessionService:
        return cls(SessionStore(config.sessions_table), EventPublisher(config.event_bus_name))

    def put(
        self, country_code: str, party_id: str, session_id: str, body: Any, original_protocol: str | None
    ) -> SessionResult:
        if not isinstance(body, dict):
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "body must be a Session object")
        _path_must_match(body, country_code, party_id, session_id)
        session, deviations = parse_inbound(
            Session, {"country_code": country_code, "party_id": party_id, "id": session_id, **body}
        )
        raw = {"country_code": country_code, "party_id": party_id, "id": session_id, **body}
        return self._save(raw, session, deviations, original_protocol)

    def patch(
        self, country_code: str, party_id: str, session_id: str, body: Any, original_protocol: str | None
    ) -> SessionResult:
        if not isinstance(body, dict):
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "body must be a JSON object")
        if "last_updated" not in body:
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "last_updated is required in a PATCH")
        _path_must_match(body, country_code, party_id, session_id)
        stored = self.store.get(country_code, party_id, session_id)
        if stored is None:
            raise OcpiError(
                StatusCode.INVALID_OR_MISSING_PARAMETERS,
                f"unknown session {country_code}/{party_id}/{session_id}",
                http_status=404,
            )
        merged = {**stored, **body}
        if isinstance(body.get("charging_periods"), list) and body["charging_periods"]:
            merged["charging_periods"] = [*(stored.get("charging_periods") or []), *body["charging_periods"]]
        elif "charging_periods" in body:
            merged["charging_periods"] = stored.get("charging_periods") or []
        session, deviations = parse_inbound(Session, merged)
        return self._save(merged, session, deviations, original_protocol)

    def _save(
        self, raw: dict[str, Any], session: Session, deviations: DeviationLog, original_protocol: str | None
    ) -> SessionResult:
        stamp = format_timestamp(session.last_updated)
        try:
            applied = self.store.save(raw, stamp, original_protocol)
        except StorageLimitExceeded as error:  # a retry cannot help: 4xx, not 5xx
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, str(error)) from error
        if applied:
            token = session.cdr_token
            self.events.publish(
                "SessionUpdated",
                {
                    "session_id": session.id,
                    "country_code": session.country_code,
                    "party_id": session.party_id,
                    "status": session.status,
                    "kwh": float(session.kwh),
                    "token_uid": token.uid,
                    "token_type": token.type,
                    "contract_id": token.contract_id,
                    "location_id": session.location_id,
                    "evse_uid": session.evse_uid,
                    "connector_id": session.connector_id,
                    "last_updated": stamp,
                    "x_original_protocol": original_protocol,
                },
            )
        return SessionResult(raw, applied, deviations)

    def get(self, country_code: str, party_id: str, session_id: str) -> dict[str, Any]:
        stored = self.store.get(country_code, party_id, session_id)
        if stored is None:
            raise OcpiError(StatusCode.CLIENT_ERROR, f"unknown session {session_id}", http_status=404)
        return stored
