"""Recompute a CDR's cost from its own tariffs and charging periods (mod_tariffs.asciidoc), to flag
discrepancies for dispute handling. Pure computation, no I/O.

- Per charging period and dimension (ENERGY kWh, TIME h, PARKING_TIME h), the first tariff element
  with a price component of that dimension whose restrictions hold at the period's start is used
  (start/end time and date, day of week, min/max kWh so far, min/max duration so far, min/max
  power/current when the period carries them; reservation restrictions never hold here: Roam OCPI
  supports no reservations).
- FLAT is charged once per session.
- step_size: the total billed volume of a dimension is rounded up to whole steps (Wh for energy,
  seconds for time) at the price of the last component used for it.
- min_price / max_price bound the total.
Restriction times are compared in UTC: a CDR carries no time zone (cdr_location has none); for
locations away from UTC a time-of-day tariff may read as a discrepancy, which is then a question
for review, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from ..ocpi.cdrs import Cdr
from ..ocpi.sessions import ChargingPeriod
from ..ocpi.tariffs import PriceComponent, Tariff, TariffElement, TariffRestrictions

_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
# dimension -> (step unit in the dimension's volume unit)
_STEP_UNIT = {
    "ENERGY": Decimal(1) / Decimal(1000),
    "TIME": Decimal(1) / Decimal(3600),
    "PARKING_TIME": Decimal(1) / Decimal(3600),
}


@dataclass(frozen=True)
class CostVerdict:
    status: str  # OK | DISCREPANCY | UNCHECKABLE
    computed_excl_vat: Decimal | None
    reported_excl_vat: Decimal
    detail: str

    @property
    def difference(self) -> Decimal | None:
        return None if self.computed_excl_vat is None else self.computed_excl_vat - self.reported_excl_vat

    def as_dict(self) -> dict[str, Any]:
        difference = self.difference
        return {
            "status": self.status,
            "detail": self.detail,
            "computed_excl_vat": None if self.computed_excl_vat is None else float(self.computed_excl_vat),
            "reported_excl_vat": float(self.reported_excl_vat),
            "difference": None if difference is None else float(difference),
        }


def _holds(
    r: TariffRestrictions | None,
    at: datetime,
    energy_so_far: Decimal,
    elapsed_s: Decimal,
    dimensions: dict[str, Decimal],
) -> bool:
    if r is None:
        return True
    if r.reservation is not None:
        return False
    clock = at.strftime("%H:%M")
    if r.start_time and r.end_time and r.end_time < r.start_time:  # over midnight
        if not (clock >= r.start_time or clock < r.end_time):
            return False
    else:
        if r.start_time and clock < r.start_time:
            return False
        if r.end_time and clock >= r.end_time:
            return False
    day = at.strftime("%Y-%m-%d")
    if (r.start_date and day < r.start_date) or (r.end_date and day >= r.end_date):
        return False
    if r.day_of_week and _DAYS[at.weekday()] not in r.day_of_week:
        return False
    if (r.min_kwh is not None and energy_so_far < r.min_kwh) or (
        r.max_kwh is not None and energy_so_far >= r.max_kwh
    ):
        return False
    if (r.min_duration is not None and elapsed_s < r.min_duration) or (
        r.max_duration is not None and elapsed_s >= r.max_duration
    ):
        return False
    for kind, low, high in (("POWER", r.min_power, r.max_power), ("CURRENT", r.min_current, r.max_current)):
        value = dimensions.get(kind)
        if value is not None and ((low is not None and value < low) or (high is not None and value >= high)):
            return False
    return True


def _component(
    tariff: Tariff,
    kind: str,
    at: datetime,
    energy_so_far: Decimal,
    elapsed_s: Decimal,
    dimensions: dict[str, Decimal],
) -> PriceComponent | None:
    element: TariffElement
    for element in tariff.elements:
        component = next((c for c in element.price_components if c.type == kind), None)
        if component is not None and _holds(element.restrictions, at, energy_so_far, elapsed_s, dimensions):
            return component
    return None


def recompute(cdr: Cdr, tolerance: Decimal) -> CostVerdict:
    reported = cdr.total_cost.excl_vat
    tariffs = {t.id: t for t in cdr.tariffs or []}
    if not tariffs:
        return CostVerdict("UNCHECKABLE", None, reported, "the CDR carries no tariffs")
    periods: list[ChargingPeriod] = sorted(cdr.charging_periods, key=lambda p: p.start_date_time)
    cost = Decimal(0)
    totals: dict[str, Decimal] = {}
    last: dict[str, PriceComponent] = {}
    energy_so_far = Decimal(0)
    flat_charged = False
    first_tariff: Tariff | None = None
    for period in periods:
        tariff = tariffs.get(period.tariff_id or "") or (
            next(iter(tariffs.values())) if len(tariffs) == 1 else None
        )
        if tariff is None:
            return CostVerdict("UNCHECKABLE", None, reported, f"unknown tariff_id {period.tariff_id!r}")
        first_tariff = first_tariff or tariff
        dimensions = {d.type: d.volume for d in period.dimensions}
        elapsed = Decimal(int((period.start_date_time - cdr.start_date_time).total_seconds()))
        at = period.start_date_time
        for kind in ("ENERGY", "TIME", "PARKING_TIME"):
            volume = dimensions.get(kind)
            if not volume:
                continue
            component = _component(tariff, kind, at, energy_so_far, elapsed, dimensions)
            if component is None:
                continue
            cost += volume * component.price
            totals[kind] = totals.get(kind, Decimal(0)) + volume
            last[kind] = component
        if not flat_charged:
            flat = _component(tariff, "FLAT", at, energy_so_far, elapsed, dimensions)
            if flat is not None:
                cost += flat.price
                flat_charged = True
        energy_so_far += dimensions.get("ENERGY", Decimal(0))
    for kind, component in last.items():
        if component.step_size > 0:
            step = Decimal(component.step_size) * _STEP_UNIT[kind]
            billed = (totals[kind] / step).to_integral_value(rounding=ROUND_CEILING) * step
            cost += (billed - totals[kind]) * component.price
    if first_tariff is not None:
        if first_tariff.min_price and cost < first_tariff.min_price.excl_vat:
            cost = first_tariff.min_price.excl_vat
        if first_tariff.max_price and cost > first_tariff.max_price.excl_vat:
            cost = first_tariff.max_price.excl_vat
    cost = cost.quantize(Decimal("0.0001"))
    if abs(cost - reported) <= tolerance:
        return CostVerdict("OK", cost, reported, "recomputed total matches")
    return CostVerdict(
        "DISCREPANCY", cost, reported, f"recomputed {cost} {cdr.currency} excl. VAT, reported {reported}"
    )
