"""Price charging periods with their tariffs (mod_tariffs.asciidoc, mod_cdrs.asciidoc *step_size*).
Pure computation, no I/O; used by the CDR cost check (check.py) and the estimate (estimate.py).

- Per period and dimension, the first Tariff Element with a Price Component of that dimension
  whose restrictions hold at the period's start is used (mod_tariffs, *Tariff object*); none: free.
  RESERVATION_TIME is priced by the TIME component of the elements with a `reservation`
  restriction (RESERVATION_EXPIRES first for an expired reservation: note under
  *ReservationRestrictionType*); other dimensions only by elements without one.
- FLAT: once for the charging session (the first period where one is active) and once for the
  reservation, which is how the spec's reservation examples add up (tariffs 16 and 17).
- step_size and min_price / max_price: billing.py, once the periods are priced.
- Local time: restrictions on time of day, dates and weekday are read in the Location's time
  zone. Without one, the periods are priced in every UTC offset a location can have: if the price
  is the same in all of them the time zone does not matter; otherwise nobody can tell.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...ocpi.enums import TariffDimensionType
from ...ocpi.tariffs import PriceComponent, Tariff, TariffElement
from .billing import apply_bounds, apply_step_sizes
from .restrictions import Situation, describe, evaluate, tariff_validity, uses_local_time
from .result import ENERGY, FLAT, PARKING, RESERVATION, TIME, ZERO, Line, Period, Priced, with_vat

# CDR dimension -> (result dimension, TariffDimensionType of the component pricing it)
_PRICED = (
    ("ENERGY", ENERGY, "ENERGY"),
    ("TIME", TIME, "TIME"),
    ("PARKING_TIME", PARKING, "PARKING_TIME"),
    ("RESERVATION_TIME", RESERVATION, "TIME"),
)
_DEFINED = frozenset(TariffDimensionType)
# Every UTC offset in use, in quarter hours (UTC-12:00 .. UTC+14:00).
_OFFSETS = tuple(timezone(timedelta(minutes=15 * q)) for q in range(-48, 57))


def engine_error(error: Exception) -> str:
    """An engine exception as a reason a reader can report: type, message and where."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return f"engine error: {type(error).__name__}: {error} (at {Path(frame.filename).name}:{frame.lineno})"


def undefined_components(tariff: Tariff) -> list[str]:
    """Price components of a type OCPI 2.2.1 does not define (TariffDimensionType), which the
    lenient parser keeps: what they bill is unknown, so a price without them is no verdict."""
    return [
        f"tariff {tariff.id} element #{index}: price component type {c.type!r} is not an OCPI 2.2.1 "
        "TariffDimensionType; what it bills cannot be priced"
        for index, element in enumerate(tariff.elements)
        for c in element.price_components
        if c.type not in _DEFINED
    ]


def _reservation_kinds(period: Period, expired: bool) -> tuple[str | None, ...]:
    if not period.volumes.get("RESERVATION_TIME"):
        return (None,)
    return ("RESERVATION_EXPIRES", "RESERVATION") if expired else ("RESERVATION",)


def _select(
    tariff: Tariff, kind: str, s: Situation, reservations: tuple[str | None, ...]
) -> tuple[tuple[int, PriceComponent] | None, list[str], bool]:
    """The (element index, component) for dimension `kind`, or None (free); the reasons and False
    when it cannot be known (a restriction that cannot be evaluated would change the price)."""
    outcomes: list[tuple[int, PriceComponent] | None] = []
    reasons: list[str] = []
    decided = False
    for reservation in reservations:
        element: TariffElement
        for index, element in enumerate(tariff.elements):
            if (element.restrictions.reservation if element.restrictions else None) != reservation:
                continue
            component = next((c for c in element.price_components if c.type == kind), None)
            if component is None:
                continue
            result = evaluate(element.restrictions, s, f"tariff {tariff.id} element #{index}")
            if result.holds is False:
                continue
            outcomes.append((index, component))
            reasons.extend(result.reasons)
            if result.holds:
                decided = True
                break
        if decided:
            break
    if not decided:
        outcomes.append(None)
    prices = {None if o is None else (o[1].price, o[1].step_size, o[1].vat) for o in outcomes}
    if len(prices) > 1:
        return None, reasons, False
    return outcomes[0], [], True


def _situation(period: Period, zone: tzinfo, energy: Decimal, session_start: datetime) -> Situation:
    v = period.volumes
    return Situation(
        local=period.start.astimezone(zone),
        energy_so_far=energy,
        elapsed_s=Decimal(str((period.start - session_start).total_seconds())),
        power=tuple(v[k] for k in ("MIN_POWER", "MAX_POWER", "POWER") if k in v),
        current=tuple(v[k] for k in ("MIN_CURRENT", "MAX_CURRENT", "CURRENT") if k in v),
    )


def _flat(priced: Priced, period: Period, s: Situation, reservations: tuple[str | None, ...]) -> bool:
    """Charge the FLAT fee active in `period`; True once charged (or undecidable)."""
    tariff = period.tariff
    assert tariff is not None
    if reservations[0] == "RESERVATION_EXPIRES":
        fees = [
            e
            for e in tariff.elements
            if e.restrictions
            and e.restrictions.reservation
            and any(c.type == "FLAT" for c in e.price_components)
        ]
        if len({e.restrictions.reservation for e in fees if e.restrictions}) > 1:
            priced.unknowns.append(
                f"tariff {tariff.id}: an expired reservation with both a RESERVATION and a "
                "RESERVATION_EXPIRES fee; OCPI does not say whether both are billed"
            )
            return True
    choice, reasons, known = _select(tariff, "FLAT", s, reservations)
    if not known:
        priced.unknowns.extend(reasons or [f"period {period.index}: FLAT fee undetermined"])
        return True
    if choice is None:
        return False
    index, component = choice
    dimension = FLAT if reservations == (None,) else RESERVATION
    line = Line(
        period.index, dimension, Decimal(1), tariff.id, index, component, component.price,
        with_vat(component.price, component), "FLAT",
    )  # fmt: skip
    priced.lines.append(line)
    priced.choices[(period.index, dimension + " FLAT")] = (tariff.id, index)
    return True


def price_in(periods: Sequence[Period], zone: tzinfo, session_start: datetime, expired: bool) -> Priced:
    """Price `periods` (in time order) reading local-time restrictions in `zone`."""
    priced = Priced(zone, list(periods))
    energy = ZERO
    flat_done = {None: False, "RESERVATION": False}
    for period in periods:
        if period.problem:
            priced.unknowns.append(period.problem)
        for volume_kind, dimension, _ in _PRICED:
            priced.dimensions[dimension].volume += period.volumes.get(volume_kind, ZERO)
        if period.tariff is None:
            energy += period.volumes.get("ENERGY", ZERO)
            continue
        problem, note = tariff_validity(period.tariff, period.start, session_start, f"period {period.index}")
        priced.unknowns.extend([problem] if problem else [])
        priced.notes.extend([note] if note else [])
        priced.unknowns.extend(undefined_components(period.tariff))
        s = _situation(period, zone, energy, session_start)
        reservations = _reservation_kinds(period, expired)
        flat_key = None if reservations == (None,) else "RESERVATION"
        if not flat_done[flat_key]:
            flat_done[flat_key] = _flat(priced, period, s, reservations)
        for volume_kind, dimension, kind in _PRICED:
            volume = period.volumes.get(volume_kind)
            if not volume:
                continue
            kinds = reservations if volume_kind == "RESERVATION_TIME" else (None,)
            choice, reasons, known = _select(period.tariff, kind, s, kinds)
            if not known:
                priced.unknowns.extend(reasons)
                priced.lines.append(
                    Line(
                        period.index,
                        dimension,
                        volume,
                        period.tariff.id,
                        None,
                        None,
                        ZERO,
                        ZERO,
                        "undetermined",
                    )
                )
                continue
            if choice is None:
                priced.lines.append(
                    Line(period.index, dimension, volume, period.tariff.id, None, None, ZERO, ZERO, "free")
                )
                priced.choices[(period.index, dimension)] = (period.tariff.id, None)
                continue
            index, component = choice
            cost = volume * component.price
            priced.lines.append(
                Line(
                    period.index, dimension, volume, period.tariff.id, index, component, cost,
                    with_vat(cost, component),
                )
            )  # fmt: skip
            priced.choices[(period.index, dimension)] = (period.tariff.id, index)
        energy += period.volumes.get("ENERGY", ZERO)
    apply_step_sizes(priced)
    for line in priced.lines:
        priced.dimensions[line.dimension].add(line)
    priced.total_excl_vat = sum((d.cost_excl_vat for d in priced.dimensions.values()), ZERO)
    priced.total_incl_vat = sum((d.cost_incl_vat for d in priced.dimensions.values()), ZERO)
    apply_bounds(priced)
    priced.unknowns = list(dict.fromkeys(priced.unknowns))
    priced.notes = list(dict.fromkeys(priced.notes))
    return priced


@dataclass(frozen=True)
class Zoned:
    """A pricing in the location's time zone, or across every offset when it is not known."""

    priced: Priced  # in the time zone, or in UTC when none is known
    time_zone: str | None  # the IANA name used, None when unknown
    notes: list[str]
    unknowns: list[str]  # including "depends on local time" reasons


def resolve_zone(time_zone: str | None) -> tuple[ZoneInfo | None, list[str]]:
    if not time_zone:
        return None, []
    try:
        return ZoneInfo(time_zone), []
    except (ZoneInfoNotFoundError, ValueError):
        return None, [f"time zone {time_zone!r} is unknown: priced as if none were given"]


def tariffs_use_local_time(tariffs: Sequence[Tariff]) -> bool:
    return any(uses_local_time(e.restrictions) for t in tariffs for e in t.elements)


def price_zoned(
    build: Callable[[tzinfo], tuple[Sequence[Period], datetime, bool]],
    tariffs: Sequence[Tariff],
    time_zone: str | None,
    currency: str,
) -> Zoned:
    """Price the periods `build(zone)` returns (periods, session start, expired reservation) in
    the location's time zone or, without one, in every UTC offset (see the module docstring)."""

    def run(zone: tzinfo) -> Priced:
        periods, session_start, expired = build(zone)
        return price_in(periods, zone, session_start, expired)

    zone, notes = resolve_zone(time_zone)
    if zone is not None:
        priced = run(zone)
        return Zoned(priced, time_zone, notes + priced.notes, list(priced.unknowns))
    utc = run(UTC)
    notes += utc.notes
    if not tariffs_use_local_time(tariffs):
        return Zoned(utc, None, notes, list(utc.unknowns))
    others = [run(offset) for offset in _OFFSETS]
    differing = [p for p in others if p.key() != utc.key()]
    if not differing:
        notes.append("no time zone, but the time restrictions give the same price in every UTC offset")
        return Zoned(utc, None, notes, list(utc.unknowns))
    totals = sorted({p.total_excl_vat for p in [utc, *others]})
    reason = (
        f"no time zone for the location, and the price depends on its local time: "
        f"{_which(tariffs, utc, differing)}; totals from {totals[0].normalize()} to "
        f"{totals[-1].normalize()} {currency} excl. VAT across UTC offsets "
        f"({utc.total_excl_vat.normalize()} if local time were UTC)"
    )
    return Zoned(utc, None, notes, [reason, *utc.unknowns])


def _which(tariffs: Sequence[Tariff], utc: Priced, differing: Sequence[Priced]) -> str:
    """The elements whose local-time restrictions were chosen differently across offsets."""
    by_id = {t.id: t for t in tariffs}
    named: dict[tuple[str | None, int], str] = {}
    for other in differing:
        for where in sorted({*other.choices, *utc.choices}):
            pair = (utc.choices.get(where), other.choices.get(where))
            if pair[0] == pair[1]:
                continue
            for tariff_id, element in (c for c in pair if c is not None):
                tariff = by_id.get(tariff_id or "")
                if tariff is None or element is None:
                    continue
                restrictions = tariff.elements[element].restrictions
                if uses_local_time(restrictions):
                    named[(tariff_id, element)] = (
                        f"tariff {tariff_id} element #{element} ({describe(restrictions)})"
                    )
    return "; ".join(named.values()) or "the local-time restrictions of " + ", ".join(
        f"tariff {t.id}" for t in tariffs if tariffs_use_local_time([t])
    )
