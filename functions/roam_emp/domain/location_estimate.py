"""The price of a planned session at a cached location, before charging (issue 14): the plan read
from the admin API's query, the tariffs of the chosen EVSE/connector as the location carries them
inlined, priced by the CDR check's engine (pricing/estimate.py) in the location's ``time_zone``
(mod_tariffs.asciidoc: restrictions are in the local time of the Location)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from ..ocpi.leniency import describe_validation_error, parse_inbound
from ..ocpi.tariffs import Tariff
from ..ocpi.timestamps import format_timestamp, parse_timestamp, utcnow
from .pricing import estimate_session
from .pricing.check import UNCHECKABLE

OK = "OK"
# A planned session, not a fleet's month: bounds that keep a typo from pricing a year of charging.
_MAX_KWH = Decimal(1000)
_MAX_MINUTES = Decimal(60 * 24 * 7)


class PlanError(ValueError):
    """A query parameter that is not a plan; ``parameter`` names it (the caller's 400 + 2001)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class UnknownPlace(LookupError):
    """The EVSE or connector asked for is not at the location (the caller's 404 + 2003)."""


@dataclass(frozen=True)
class Plan:
    kwh: Decimal
    minutes: Decimal
    start: datetime
    parking_minutes: Decimal = Decimal(0)
    evse_uid: str | None = None
    connector_id: str | None = None


def _number(query: Mapping[str, str], name: str, *, required: bool, ceiling: Decimal) -> Decimal:
    raw = query.get(name)
    if raw is None or not raw.strip():
        if required:
            raise PlanError(name, "is required")
        return Decimal(0)
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise PlanError(name, f"must be a number, got {raw[:40]!r}") from None
    if not value.is_finite() or value < 0 or value > ceiling:
        raise PlanError(name, f"must be between 0 and {ceiling}, got {raw[:40]!r}")
    return value


def parse_plan(query: Mapping[str, str], now: datetime | None = None) -> Plan:
    """The plan from the estimate route's query: kwh, minutes (>0), optional parking_minutes,
    start (RFC 3339 with an offset; default now), evse_uid, connector_id."""
    kwh = _number(query, "kwh", required=True, ceiling=_MAX_KWH)
    minutes = _number(query, "minutes", required=True, ceiling=_MAX_MINUTES)
    if minutes == 0:
        raise PlanError("minutes", "must be positive (the charging time of the plan)")
    parking = _number(query, "parking_minutes", required=False, ceiling=_MAX_MINUTES)
    raw_start = query.get("start")
    try:
        start = parse_timestamp(raw_start) if raw_start else (now or utcnow())
    except ValueError as error:
        raise PlanError("start", str(error)) from None
    return Plan(
        kwh, minutes, start, parking, query.get("evse_uid") or None, query.get("connector_id") or None
    )


def _connectors(location: Mapping[str, Any], plan: Plan) -> list[tuple[str, str, list[Any]]]:
    """(evse_uid, connector_id, inlined tariffs) of the connectors the plan names."""
    chosen = []
    for evse in location.get("evses") or []:
        if plan.evse_uid is not None and evse.get("uid") != plan.evse_uid:
            continue
        for connector in evse.get("connectors") or []:
            if plan.connector_id is not None and connector.get("id") != plan.connector_id:
                continue
            chosen.append(
                (str(evse.get("uid")), str(connector.get("id")), list(connector.get("tariffs") or []))
            )
    if not chosen:
        where = f"evse {plan.evse_uid}" if plan.evse_uid else "any evse"
        what = f"connector {plan.connector_id} at {where}" if plan.connector_id else where
        raise UnknownPlace(f"no {what} at location {location.get('id')}")
    return chosen


def estimate_at(location: Mapping[str, Any], plan: Plan) -> dict[str, Any]:
    """One estimate per distinct tariff of the chosen connectors, each naming the connectors it
    applies to; ``status`` is OK when there is at least one and each could be priced (``reasons``
    name connectors without a tariff and tariffs that cannot be read). Raises UnknownPlace."""
    time_zone = location.get("time_zone") if isinstance(location.get("time_zone"), str) else None
    places: dict[str, list[dict[str, str]]] = {}
    tariffs: dict[str, Tariff] = {}
    reasons: list[str] = []
    for evse_uid, connector_id, inlined in _connectors(location, plan):
        if not inlined:
            # FAQ: no tariff on a connector means the CPO publishes no price for it (ad hoc or
            # contract terms): nothing to price, and no guess either.
            reasons.append(f"evse {evse_uid} connector {connector_id} carries no tariff")
        for raw in inlined:
            tariff_id = str(raw.get("id")) if isinstance(raw, dict) else "?"
            if tariff_id not in tariffs:
                try:
                    tariffs[tariff_id] = parse_inbound(Tariff, raw)[0]
                except ValidationError as error:
                    reasons.append(f"tariff {tariff_id} cannot be read: {describe_validation_error(error)}")
                    continue
            places.setdefault(tariff_id, []).append({"evse_uid": evse_uid, "connector_id": connector_id})
    estimates = estimate_session(
        list(tariffs.values()),
        kwh=plan.kwh,
        minutes=plan.minutes,
        start=plan.start,
        time_zone=time_zone,
        parking_minutes=plan.parking_minutes,
    )
    priced = [{**e.as_dict(), "connectors": places.get(e.tariff_id, [])} for e in estimates]
    all_ok = bool(priced) and all(e["status"] == OK for e in priced)
    return {
        "location_id": location.get("id"),
        "time_zone": time_zone,
        "status": OK if all_ok else UNCHECKABLE,
        "reasons": reasons,
        "plan": {
            "kwh": float(plan.kwh),
            "minutes": float(plan.minutes),
            "parking_minutes": float(plan.parking_minutes),
            "start": format_timestamp(plan.start),
            "evse_uid": plan.evse_uid,
            "connector_id": plan.connector_id,
        },
        "estimates": priced,
    }
