"""When a Tariff Element is active (mod_tariffs.asciidoc, *TariffRestrictions class*).

Evaluated at the start of a charging period: the CPO SHALL start a new period whenever another price
component becomes active (mod_cdrs.asciidoc, *ChargingPeriod*), so within one period a restriction
is either met or not. The answer is three-valued: True, False, or None (cannot be known from what
the CDR carries), with the reason, so that the verdict can say UNCHECKABLE and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from ...ocpi.tariffs import Tariff, TariffRestrictions

_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
# Restrictions read in the Location's local time (its `time_zone`), not in UTC.
LOCAL_TIME_FIELDS = ("start_time", "end_time", "start_date", "end_date", "day_of_week")


@dataclass(frozen=True)
class Situation:
    """What the restrictions of one charging period are evaluated against."""

    local: datetime  # the period's start in the time zone being priced (see engine.py)
    energy_so_far: Decimal  # kWh before this period
    elapsed_s: Decimal  # seconds since the charging session started
    # Known values of the period: MIN_/MAX_POWER (and POWER, session-only but kept when sent).
    power: tuple[Decimal, ...]
    current: tuple[Decimal, ...]


@dataclass(frozen=True)
class Evaluation:
    holds: bool | None  # None: cannot be known
    reasons: tuple[str, ...] = ()


def uses_local_time(r: TariffRestrictions | None) -> bool:
    return r is not None and any(getattr(r, name) for name in LOCAL_TIME_FIELDS)


def describe(r: TariffRestrictions | None) -> str:
    """The restriction as set, e.g. "start_time 09:00, end_time 18:00, day_of_week MONDAY..FRIDAY"."""
    if r is None:
        return "no restrictions"
    parts = []
    for name, value in r.model_dump(exclude_none=True).items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        parts.append(f"{name} {value}")
    return ", ".join(parts) or "no restrictions"


def parse_clock(value: str) -> int:
    """Seconds into the day of "HH:MM" (ValueError when malformed)."""
    hours, minutes = value.split(":")
    seconds = int(hours) * 3600 + int(minutes) * 60
    if len(value) != 5 or not 0 <= int(hours) <= 23 or not 0 <= int(minutes) <= 59:
        raise ValueError(value)
    return seconds


def _clock_holds(r: TariffRestrictions, local: datetime) -> bool:
    clock = local.hour * 3600 + local.minute * 60 + local.second
    start = parse_clock(r.start_time) if r.start_time else None
    end = parse_clock(r.end_time) if r.end_time else None
    if end == 0:
        end = 86400  # "To stop at end of the day use: 00:00"
    if start is not None and end is not None and end < start:  # wraps around midnight
        return clock >= start or clock < end
    return (start is None or clock >= start) and (end is None or clock < end)


def _local_holds(r: TariffRestrictions, local: datetime) -> bool:
    if (r.start_time or r.end_time) and not _clock_holds(r, local):
        return False
    day = local.date()
    if r.start_date and day < date.fromisoformat(r.start_date):  # inclusive
        return False
    if r.end_date and day >= date.fromisoformat(r.end_date):  # exclusive
        return False
    return not (r.day_of_week and _DAYS[local.weekday()] not in r.day_of_week)


def _level(
    kind: str, low: Decimal | None, high: Decimal | None, values: Sequence[Decimal], where: str
) -> Evaluation:
    """min_X (active at or above) / max_X (active below), X = power or current."""
    if low is None and high is None:
        return Evaluation(True)
    bounds = ", ".join(f"{n}_{kind} {v}" for n, v in (("min", low), ("max", high)) if v is not None)
    unit = "POWER" if kind == "power" else "CURRENT"
    if not values:
        return Evaluation(None, (f"{where} ({bounds}) needs the period's MIN_{unit}/MAX_{unit}, absent",))
    met = [(low is None or v >= low) and (high is None or v < high) for v in values]
    if all(met):
        return Evaluation(True)
    if not any(met):
        return Evaluation(False)
    shown = "..".join(str(v) for v in (min(values), max(values)))
    return Evaluation(None, (f"{where} ({bounds}): the period's {unit} {shown} is on both sides",))


def evaluate(r: TariffRestrictions | None, s: Situation, where: str) -> Evaluation:
    """Whether element restrictions `r` hold in situation `s` (a logical AND of all that are set).
    `where` names the element in reasons ("tariff 14 element #2")."""
    if r is None:
        return Evaluation(True)
    try:
        if not _local_holds(r, s.local):
            return Evaluation(False)
    except ValueError:
        return Evaluation(None, (f"{where}: malformed time restriction ({describe(r)})",))
    if r.min_kwh is not None and s.energy_so_far < r.min_kwh:  # inclusive
        return Evaluation(False)
    if r.max_kwh is not None and s.energy_so_far >= r.max_kwh:  # exclusive
        return Evaluation(False)
    if r.min_duration is not None and s.elapsed_s < r.min_duration:  # inclusive
        return Evaluation(False)
    if r.max_duration is not None and s.elapsed_s >= r.max_duration:  # exclusive
        return Evaluation(False)
    levels = (
        _level("power", r.min_power, r.max_power, s.power, where),
        _level("current", r.min_current, r.max_current, s.current, where),
    )
    if any(e.holds is False for e in levels):
        return Evaluation(False)
    reasons = tuple(reason for e in levels for reason in e.reasons)
    return Evaluation(None, reasons) if reasons else Evaluation(True)


def _valid_at(tariff: Tariff, moment: datetime) -> bool:
    starts, ends = tariff.start_date_time, tariff.end_date_time
    return (starts is None or moment >= starts) and (ends is None or moment < ends)


def _validity(tariff: Tariff) -> str:
    starts, ends = tariff.start_date_time, tariff.end_date_time
    parts = [f"from {starts.isoformat()}" if starts else "", f"until {ends.isoformat()}" if ends else ""]
    return " ".join(p for p in parts if p)


def tariff_validity(
    tariff: Tariff, period_start: datetime, session_start: datetime, where: str
) -> tuple[str | None, str | None]:
    """Whether `tariff` may price a period starting at `period_start` (its `start_date_time` /
    `end_date_time`, UTC): (reason it cannot be known, note), both None when it was valid then.

    mod_tariffs, note on start_date_time/end_date_time: a driver accepts the tariff valid when
    the session starts, and keeping it until the session ends is common, though switching is
    allowed too. So a tariff that ended during the session still prices its later periods (a
    note). A tariff valid neither then nor at the session's start is not the one that applied, and
    the one that did is not in what we were given: the price cannot be known (not a DISCREPANCY,
    which would need the right price to compare with)."""
    if _valid_at(tariff, period_start):
        return None, None
    span = _validity(tariff)
    if _valid_at(tariff, session_start):
        return None, (
            f"{where}: tariff {tariff.id} ({span}) had ended; priced with it as it was valid when "
            "the session started"
        )
    nor = "" if period_start == session_start else ", nor when the session started"
    return (
        f"{where} starts {period_start.isoformat()}, when tariff {tariff.id} was not valid ({span}){nor}: "
        "the tariff that applies then is not known"
    ), None
