"""Sessions pushed by Plugsurfing (FAQ "Sessions": push only; PUT at start, PATCHes with
incremental kWh, status and last_updated while charging, PUT again at stop).

Out-of-order or repeated updates are ignored when older than what we hold (``last_updated``);
a PATCH of an unknown session is 404 + 2001; PATCH ``charging_periods`` are added to the stored
ones (mod_sessions.asciidoc, PATCH), a period being identified by its ``start_date_time`` so a
resent PATCH changes nothing. Sessions may lack ``authorization_reference`` (offline starts,
OCPI 2.1.1 CPOs); ``X-Original-Protocol`` is recorded when Plugsurfing sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..ocpi.common import ci_equal
from ..ocpi.leniency import DeviationLog, parse_inbound
from ..ocpi.sessions import Session
from ..ocpi.status import OcpiError, StatusCode
from ..store.sessions import SessionStore, StorageLimitExceeded
from ..store.stamps import epoch_us


@dataclass
class SessionResult:
    session: dict[str, Any]
    applied: bool  # False: older than what we hold, ignored
    deviations: DeviationLog


def _path_must_match(body: dict[str, Any], country_code: str, party_id: str, session_id: str) -> None:
    # All three are CiString (types.asciidoc): ``abc`` in the body is the URL's ``ABC``.
    for field, expected in (("country_code", country_code), ("party_id", party_id), ("id", session_id)):
        if field in body and not (isinstance(body[field], str) and ci_equal(body[field], expected)):
            raise OcpiError(
                StatusCode.INVALID_OR_MISSING_PARAMETERS,
                f"{field} {body[field]!r} differs from the URL ({expected!r})",
            )


def _patched_periods(stored: Any, patched: Any) -> list[dict[str, Any]]:
    """The stored charging periods with a PATCH's added (mod_sessions.asciidoc, PATCH: "any new
    charging periods are added"). A period is identified by its ``start_date_time`` (compared as
    a time, not a string): a resent PATCH replaces its own periods instead of appending them
    again, and the result is ordered by start whatever order the PATCHes came in."""
    if not isinstance(patched, list) or not all(isinstance(p, dict) for p in patched):
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS,
            "charging_periods must be a list of ChargingPeriod objects",
        )
    by_start: dict[int, dict[str, Any]] = {}
    for origin, periods in (("stored", stored or []), ("PATCH", patched)):
        for index, period in enumerate(periods):
            try:
                start = epoch_us(period["start_date_time"])
            except (KeyError, ValueError) as error:
                raise OcpiError(
                    StatusCode.INVALID_OR_MISSING_PARAMETERS,
                    f"charging_periods[{index}].start_date_time is missing or not a DateTime ({origin})",
                ) from error
            by_start[start] = period
    return [by_start[start] for start in sorted(by_start)]


@dataclass
class SessionService:
    store: SessionStore

    @classmethod
    def from_settings(cls, config: Settings) -> SessionService:
        return cls(SessionStore(config.sessions_table, compress=config.compress_session_documents))

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
        if body.get("charging_periods") is not None:
            merged["charging_periods"] = _patched_periods(
                stored.get("charging_periods"), body["charging_periods"]
            )
        elif "charging_periods" in body:  # null: nothing to add
            merged["charging_periods"] = stored.get("charging_periods") or []
        session, deviations = parse_inbound(Session, merged)
        return self._save(merged, session, deviations, original_protocol)

    def _save(
        self, raw: dict[str, Any], session: Session, deviations: DeviationLog, original_protocol: str | None
    ) -> SessionResult:
        # SessionUpdated comes from the table's stream (domain/outbox.py), not from here.
        try:
            applied = self.store.save(raw, session.last_updated, original_protocol)
        except StorageLimitExceeded as error:  # a retry cannot help: 4xx, not 5xx
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, str(error)) from error
        return SessionResult(raw, applied, deviations)

    def get(self, country_code: str, party_id: str, session_id: str) -> dict[str, Any]:
        stored = self.store.get(country_code, party_id, session_id)
        if stored is None:
            raise OcpiError(StatusCode.CLIENT_ERROR, f"unknown session {session_id}", http_status=404)
        return stored
