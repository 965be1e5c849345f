"""Building blocks for the pricing tests: CDRs made from a tariff and charging periods written the
way the spec's examples tell them (local wall-clock times, minutes, kWh)."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from roam_emp.ocpi.cdrs import Cdr
from roam_emp.ocpi.leniency import parse_inbound
from roam_emp.ocpi.tariffs import Tariff

from .helpers import example

TOLERANCE = Decimal("0.01")
BERLIN = "Europe/Berlin"
BREAKDOWN = ("total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost")


def tariff(elements: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "8PS",
        "id": "T1",
        "currency": "EUR",
        "elements": elements,
        "last_updated": "2026-01-01T00:00:00Z",
        **extra,
    }


def component(kind: str, price: float, step_size: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "price": price, "step_size": step_size, **extra}


def local(wall_clock: str, time_zone: str = BERLIN) -> datetime:
    """ "2026-03-02 09:30" at the location -> an aware datetime."""
    return datetime.fromisoformat(wall_clock).replace(tzinfo=ZoneInfo(time_zone))


def utc(when: datetime | str) -> str:
    moment = when if isinstance(when, datetime) else datetime.fromisoformat(when.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def period(start: datetime | str, tariff_id: str | None = "T1", **volumes: float) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "start_date_time": utc(start),
        "dimensions": [{"type": k, "volume": v} for k, v in volumes.items()],
    }
    if tariff_id is not None:
        raw["tariff_id"] = tariff_id
    return raw


def sequence(start: datetime, *steps: tuple[float, dict[str, float]]) -> list[dict[str, Any]]:
    """Consecutive periods from `start`: (minutes, volumes) each; TIME/PARKING_TIME/RESERVATION_TIME
    given as True are filled with the period's length in hours."""
    periods, at = [], start
    for minutes, volumes in steps:
        filled = {k: (minutes / 60 if v is True else v) for k, v in volumes.items()}
        periods.append(period(at, **filled))
        at += timedelta(minutes=minutes)
    return periods


def cdr(
    tariffs: dict[str, Any] | list[dict[str, Any]],
    periods: list[dict[str, Any]],
    total: float,
    *,
    incl_vat: float | None = None,
    end: datetime | None = None,
    **fields: Any,
) -> Cdr:
    """The spec's example CDR carrying `tariffs` and `periods`, billing `total` excl. VAT; its own
    breakdown removed unless given in `fields` (total_time_cost={"excl_vat": ...})."""
    raw = copy.deepcopy(example("cdr_example.json"))
    for name in BREAKDOWN:
        raw.pop(name, None)
    first = datetime.fromisoformat(periods[0]["start_date_time"].replace("Z", "+00:00"))
    raw.update(
        start_date_time=periods[0]["start_date_time"],
        end_date_time=utc(end or first + timedelta(hours=12)),
        tariffs=tariffs if isinstance(tariffs, list) else [tariffs],
        charging_periods=periods,
        total_cost={"excl_vat": total} | ({} if incl_vat is None else {"incl_vat": incl_vat}),
        **fields,
    )
    return parse_inbound(Cdr, raw)[0]


def spec_tariff(name: str, tariff_id: str = "T1") -> dict[str, Any]:
    """An official example tariff, with the id the periods use."""
    return {**example(name), "id": tariff_id, "last_updated": "2026-01-01T00:00:00Z"}


def parsed_tariff(raw: dict[str, Any]) -> Tariff:
    return parse_inbound(Tariff, raw)[0]


def money(value: float) -> dict[str, float]:
    return {"excl_vat": value}
