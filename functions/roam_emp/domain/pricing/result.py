"""What pricing produces: per period and dimension the priced lines, per dimension the billed
volume and cost, and the session total (engine.py computes it; check.py and estimate.py show it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal

from ...ocpi.tariffs import PriceComponent, Tariff

# Result dimensions, named after the CDR's cost breakdown fields.
ENERGY, TIME, PARKING, FLAT, RESERVATION = "energy", "time", "parking", "flat", "reservation"
DIMENSIONS = (ENERGY, TIME, PARKING, FLAT, RESERVATION)
REPORTED_FIELD = {
    ENERGY: "total_energy_cost",
    TIME: "total_time_cost",
    PARKING: "total_parking_cost",
    FLAT: "total_fixed_cost",
    RESERVATION: "total_reservation_cost",
}
UNIT = {ENERGY: "kWh", TIME: "h", PARKING: "h", FLAT: "", RESERVATION: "h"}
_CHARGING_VOLUMES = ("ENERGY", "TIME", "PARKING_TIME")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Period:
    """One charging period to price: its start, the tariff relevant to it and its volumes."""

    index: int  # 1-based, in time order
    start: datetime
    tariff: Tariff | None
    volumes: dict[str, Decimal]  # CdrDimensionType -> volume
    problem: str | None = None  # why its tariff is unknown (makes the result UNCHECKABLE)

    @property
    def is_reservation(self) -> bool:
        return bool(self.volumes.get("RESERVATION_TIME")) and not any(
            self.volumes.get(kind) for kind in _CHARGING_VOLUMES
        )


@dataclass(frozen=True)
class Line:
    """A priced volume: one dimension of one period, or a step_size rounding, or a FLAT fee."""

    period: int
    dimension: str
    volume: Decimal
    tariff_id: str | None
    element: int | None  # index into the tariff's elements
    component: PriceComponent | None
    cost_excl_vat: Decimal
    cost_incl_vat: Decimal
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        c = self.component
        return {
            "period": self.period,
            "dimension": self.dimension,
            "volume": _num(self.volume),
            "unit": UNIT[self.dimension],
            "tariff_id": self.tariff_id,
            "element": self.element,
            "price": None if c is None else _num(c.price),
            "step_size": None if c is None else c.step_size,
            "vat": None if c is None or c.vat is None else _num(c.vat),
            "cost_excl_vat": _num(self.cost_excl_vat),
            "cost_incl_vat": _num(self.cost_incl_vat),
            "note": self.note,
        }


@dataclass
class Dimension:
    name: str
    volume: Decimal = ZERO  # as consumed, priced or not
    billed_volume: Decimal = ZERO  # the priced part, after step_size
    cost_excl_vat: Decimal = ZERO
    cost_incl_vat: Decimal = ZERO
    components: list[tuple[str | None, int | None, PriceComponent]] = field(default_factory=list)

    def add(self, line: Line) -> None:
        self.cost_excl_vat += line.cost_excl_vat
        self.cost_incl_vat += line.cost_incl_vat
        if line.component is not None:
            # A reservation's FLAT fee is part of its cost, not of its billed hours.
            if self.name == FLAT or line.component.type != "FLAT":
                self.billed_volume += line.volume
            if self.name == FLAT:
                self.volume += line.volume  # the fees charged
            used = (line.tariff_id, line.element, line.component)
            if used not in self.components:
                self.components.append(used)

    def as_dict(self) -> dict[str, object]:
        return {
            "volume": _num(self.volume),
            "billed_volume": _num(self.billed_volume),
            "unit": UNIT[self.name],
            "components": [
                {
                    "tariff_id": tariff_id,
                    "element": element,
                    "price": _num(c.price),
                    "step_size": c.step_size,
                    "vat": None if c.vat is None else _num(c.vat),
                }
                for tariff_id, element, c in self.components
            ],
            "cost_excl_vat": _num(self.cost_excl_vat),
            "cost_incl_vat": _num(self.cost_incl_vat),
        }


@dataclass
class Priced:
    """The result of pricing a list of periods in one time zone."""

    zone: tzinfo
    periods: list[Period]
    lines: list[Line] = field(default_factory=list)
    dimensions: dict[str, Dimension] = field(default_factory=lambda: {d: Dimension(d) for d in DIMENSIONS})
    unknowns: list[str] = field(default_factory=list)  # why the price cannot be known
    notes: list[str] = field(default_factory=list)  # what the price assumes
    bound: tuple[str, Decimal] | None = None  # ("max_price", 10.00) when it applied
    total_excl_vat: Decimal = ZERO
    total_incl_vat: Decimal = ZERO
    # (period, dimension) -> (tariff_id, element) chosen: to say which restriction made a difference
    choices: dict[tuple[int, str], tuple[str | None, int | None]] = field(default_factory=dict)

    def key(self) -> tuple[object, ...]:
        return (
            self.total_excl_vat,
            self.total_incl_vat,
            tuple((d.cost_excl_vat, d.billed_volume) for d in self.dimensions.values()),
            tuple(self.unknowns),
        )


def _num(value: Decimal) -> float:
    return float(value)


def plain(value: Decimal, places: int = 6) -> str:
    """`value` to at most `places` decimals, without trailing zeros or exponent."""
    text = f"{value.quantize(Decimal(1).scaleb(-places)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def with_vat(cost: Decimal, component: PriceComponent | None) -> Decimal:
    # "If omitted, no VAT is applicable" (PriceComponent.vat).
    if component is None or component.vat is None:
        return cost
    return cost * (1 + component.vat / 100)
