"""The price of a planned session, before charging: the same engine as the CDR check, on charging
periods made up from the plan (kwh over minutes at a constant rate, then parking), split wherever
a restriction of the tariff could switch (local time of day and midnight, kWh and duration
thresholds), as a CPO splits a CDR (mod_cdrs.asciidoc, *ChargingPeriod*)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import Any

from ...ocpi.tariffs import Tariff
from .check import UNCHECKABLE, periods_table, priced_lines
from .engine import engine_error, price_zoned
from .restrictions import parse_clock
from .result import DIMENSIONS, Period

OK = "OK"
_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class SessionEstimate:
    tariff_id: str
    tariff_last_updated: datetime
    currency: str
    status: str  # OK | UNCHECKABLE (the tariff cannot be priced from what is given)
    total_excl_vat: Decimal | None
    total_incl_vat: Decimal | None
    time_zone: str | None = None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    price_bound: tuple[str, Decimal] | None = None
    dimensions: dict[str, dict[str, Any]] = field(default_factory=dict)
    periods: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tariff_id": self.tariff_id,
            "tariff_last_updated": self.tariff_last_updated.isoformat(),
            "currency": self.currency,
            "status": self.status,
            "total_excl_vat": None if self.total_excl_vat is None else float(self.total_excl_vat),
            "total_incl_vat": None if self.total_incl_vat is None else float(self.total_incl_vat),
            **priced_lines(self),
        }


@dataclass(frozen=True)
class _Plan:
    start: datetime
    kwh: Decimal
    charging_s: Decimal
    parking_s: Decimal
    power_kw: Decimal | None
    current_a: Decimal | None


def _seconds(delta: timedelta) -> Decimal:
    return Decimal(str(delta.total_seconds()))


def _boundaries(tariff: Tariff, plan: _Plan, zone: tzinfo) -> dict[Decimal, Decimal | None]:
    """Offsets (s from start) where the tariff could switch -> the energy (kWh) charged by then
    when it is a kWh threshold (kept exact so that min_kwh/max_kwh compare as meant)."""
    total = plan.charging_s + plan.parking_s
    marks: dict[Decimal, Decimal | None] = {plan.charging_s: None}
    clocks = {0}
    for element in tariff.elements:
        r = element.restrictions
        if r is None:
            continue
        for value in (r.start_time, r.end_time):
            try:
                clocks.add(parse_clock(value) if value else 0)
            except ValueError:
                continue  # the restriction itself says why it cannot be priced
        for kwh in (r.min_kwh, r.max_kwh):
            if kwh is not None and 0 < kwh < plan.kwh:
                marks[plan.charging_s * kwh / plan.kwh] = kwh
        for seconds in (r.min_duration, r.max_duration):
            if seconds is not None and 0 < seconds < total:
                marks.setdefault(Decimal(seconds), None)
    first = plan.start.astimezone(zone).date() - timedelta(days=1)
    last = (plan.start + timedelta(seconds=float(total))).astimezone(zone).date() + timedelta(days=1)
    day = first
    while day <= last:
        for clock in clocks:
            local = datetime.combine(day, time(clock // 3600, clock % 3600 // 60), tzinfo=zone)
            offset = _seconds(local - plan.start)
            if 0 < offset < total:
                marks.setdefault(offset, None)
        day += timedelta(days=1)
    return {k: v for k, v in marks.items() if 0 < k < total}


def _periods(tariff: Tariff, plan: _Plan, zone: tzinfo) -> list[Period]:
    marks = _boundaries(tariff, plan, zone)
    edges = [Decimal(0), *sorted(marks), plan.charging_s + plan.parking_s]

    def energy_at(offset: Decimal) -> Decimal:
        exact = marks.get(offset)
        if exact is not None:
            return exact
        return plan.kwh if offset >= plan.charging_s else plan.kwh * offset / plan.charging_s

    periods = []
    for index, (a, b) in enumerate(pairwise(edges), start=1):
        start = plan.start + timedelta(seconds=float(a))
        hours = (b - a) / 3600
        volumes: dict[str, Decimal]
        if a >= plan.charging_s:
            volumes = {"PARKING_TIME": hours}
        else:
            volumes = {"ENERGY": energy_at(b) - energy_at(a), "TIME": hours}
            if plan.power_kw is not None:
                volumes.update(MIN_POWER=plan.power_kw, MAX_POWER=plan.power_kw)
            if plan.current_a is not None:
                volumes.update(MIN_CURRENT=plan.current_a, MAX_CURRENT=plan.current_a)
        periods.append(Period(index, start, tariff, volumes))
    return periods


def _estimate(tariff: Tariff, plan: _Plan, time_zone: str | None, notes: list[str]) -> SessionEstimate:
    def build(zone: tzinfo) -> tuple[list[Period], datetime, bool]:
        return _periods(tariff, plan, zone), plan.start, False

    zoned = price_zoned(build, [tariff], time_zone, tariff.currency)
    priced = zoned.priced
    known = not zoned.unknowns
    return SessionEstimate(
        tariff.id,
        tariff.last_updated,
        tariff.currency,
        OK if known else UNCHECKABLE,
        priced.total_excl_vat.quantize(_QUANTUM) if known else None,
        priced.total_incl_vat.quantize(_QUANTUM) if known else None,
        time_zone=zoned.time_zone,
        reasons=tuple(zoned.unknowns),
        notes=tuple(notes + zoned.notes),
        price_bound=priced.bound,
        dimensions={d: priced.dimensions[d].as_dict() for d in DIMENSIONS},
        periods=periods_table(priced, zoned.time_zone is not None),
    )


def estimate_session(
    tariffs: Sequence[Tariff],
    *,
    kwh: Decimal,
    minutes: Decimal,
    start: datetime,
    time_zone: str | None,
    parking_minutes: Decimal = Decimal(0),
    power_kw: Decimal | None = None,
    current_a: Decimal | None = None,
) -> list[SessionEstimate]:
    """One estimate per tariff, in order: `kwh` charged over `minutes` from `start` (aware), then
    `parking_minutes` connected without charging; restrictions in the location's `time_zone`.
    Power defaults to the constant rate kwh over minutes; current restrictions need `current_a`.
    Raises ValueError for a plan that is not a session (the caller's 400); a tariff that cannot be
    priced is an UNCHECKABLE estimate with the reasons, never an exception."""
    # Exact arithmetic whatever the caller parsed the query into (an int or float would not mix).
    kwh, minutes, parking_minutes = (Decimal(str(v)) for v in (kwh, minutes, parking_minutes))
    if start.tzinfo is None:
        raise ValueError("start must carry a time zone or offset")
    if kwh < 0 or minutes <= 0 or parking_minutes < 0:
        raise ValueError("kwh and parking_minutes must not be negative, minutes must be positive")
    notes = []
    if power_kw is None:
        power_kw = kwh / (minutes / 60)
        notes.append(f"power assumed constant at {power_kw.quantize(Decimal('0.01'))} kW (kwh over minutes)")
    plan = _Plan(start, kwh, minutes * 60, parking_minutes * 60, power_kw, current_a)
    estimates = []
    for tariff in tariffs:
        try:
            estimates.append(_estimate(tariff, plan, time_zone, list(notes)))
        except Exception as error:  # one tariff the engine cannot price is a reason, not a 500
            reason = engine_error(error)
            estimates.append(
                SessionEstimate(
                    tariff.id,
                    tariff.last_updated,
                    tariff.currency,
                    UNCHECKABLE,
                    None,
                    None,
                    reasons=(reason,),
                )
            )
    return estimates
