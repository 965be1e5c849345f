"""The rules that turn priced volumes into the bill: step_size (mod_cdrs.asciidoc, *step_size*)
and min_price / max_price (mod_tariffs.asciidoc, notes on the Tariff object).

- step_size: once per session on the total billed ENERGY, and once for TIME and PARKING_TIME
  combined: when parking is billed, only the total parking duration is rounded up; otherwise the
  total charging time. The step of the last component used applies and the rounded-up rest is
  billed at its price. Reservation time is rounded on its own.
- min_price / max_price bound the session total, excl. and incl. VAT separately.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from .result import ENERGY, PARKING, RESERVATION, TIME, UNIT, ZERO, Line, Priced, plain, with_vat

_STEP_UNIT = {ENERGY: Decimal("0.001"), TIME: Decimal(1) / 3600, PARKING: Decimal(1) / 3600}
_STEP_UNIT[RESERVATION] = _STEP_UNIT[TIME]


def _round_up(total: Decimal, dimension: str, step_size: int) -> Decimal:
    """The billed volume of `total` in whole steps of `step_size` (mod_tariffs *PriceComponent*)."""
    if step_size <= 0:
        return total
    unit = _STEP_UNIT[dimension]
    base = total / unit
    if dimension != ENERGY:
        # Time is metered in seconds (the step unit); an hour volume such as 0.2667 only renders
        # 960 s, and must not be billed as 961 s, a whole extra step at step_size 60.
        base = base.to_integral_value(rounding=ROUND_HALF_UP)
    steps = (base / step_size).to_integral_value(rounding=ROUND_CEILING)
    return steps * step_size * unit


def _step_line(priced: Priced, dimension: str, lines: Sequence[Line]) -> None:
    priced_lines = [
        line
        for line in lines
        if line.dimension == dimension and line.component is not None and line.component.type != "FLAT"
    ]
    if not priced_lines:
        return
    last = priced_lines[-1]
    assert last.component is not None
    total = sum((line.volume for line in priced_lines), ZERO)
    billed = _round_up(total, dimension, last.component.step_size)
    if billed == total:
        return
    extra = billed - total
    cost = extra * last.component.price
    note = f"step_size {last.component.step_size}: {plain(total)} {UNIT[dimension]} billed as {plain(billed)}"
    priced.lines.append(
        Line(
            last.period,
            dimension,
            extra,
            last.tariff_id,
            last.element,
            last.component,
            cost,
            with_vat(cost, last.component),
            note,
        )
    )


def apply_step_sizes(priced: Priced) -> None:
    lines = list(priced.lines)
    _step_line(priced, ENERGY, lines)
    parking_billed = any(line.dimension == PARKING and line.component is not None for line in lines)
    # TIME followed by PARKING_TIME: step_size only on the total parking duration (mod_cdrs).
    _step_line(priced, PARKING if parking_billed else TIME, lines)
    _step_line(priced, RESERVATION, lines)


def apply_bounds(priced: Priced) -> None:
    tariffs = {p.tariff.id: p.tariff for p in priced.periods if p.tariff is not None}
    bounded = [t for t in tariffs.values() if t.min_price or t.max_price]
    if not bounded:
        return
    if len(tariffs) > 1:
        priced.unknowns.append(
            f"min_price/max_price of tariff {bounded[0].id}: the session switches tariffs "
            f"({', '.join(tariffs)}), for which OCPI does not define how the bound applies"
        )
        return
    tariff = bounded[0]
    for name, bound, outside in (
        ("min_price", tariff.min_price, operator.lt),
        ("max_price", tariff.max_price, operator.gt),
    ):
        if bound is None:
            continue
        if outside(priced.total_excl_vat, bound.excl_vat):
            priced.total_excl_vat, priced.bound = bound.excl_vat, (name, bound.excl_vat)
        # Both apply, excl. and incl. VAT, each on its own (mod_tariffs, notes on min/max_price).
        if bound.incl_vat is not None and outside(priced.total_incl_vat, bound.incl_vat):
            priced.total_incl_vat = bound.incl_vat
            priced.bound = priced.bound or (name, bound.excl_vat)
