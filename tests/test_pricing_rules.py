"""The cost check's rules (issue 14), each three ways: a correctly billed CDR is OK, the same CDR
with the rule's typical mispricing is a DISCREPANCY naming the dimension, and a CDR without what the
rule needs is UNCHECKABLE saying why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from roam_emp.domain.tariff_engine import CostVerdict, recompute
from roam_emp.ocpi.cdrs import Cdr

from .pricing_cases import (
    BERLIN,
    TOLERANCE,
    cdr,
    component,
    local,
    money,
    period,
    sequence,
    spec_tariff,
    tariff,
)

AMSTERDAM = "Europe/Amsterdam"


def verdict_of(c: Cdr, time_zone: str | None = None) -> CostVerdict:
    return recompute(c, TOLERANCE, time_zone=time_zone)


# Rule 1: step_size applies once, to the parking, when charging time is followed by parking.

STEPS = tariff([{"price_components": [component("TIME", 1.00, 600), component("PARKING_TIME", 2.00, 600)]}])
CHARGE_THEN_PARK = sequence(local("2026-03-02 10:00"), (21, {"TIME": True}), (16, {"PARKING_TIME": True}))


def test_step_size_with_parking_right_total_is_ok() -> None:
    v = verdict_of(
        cdr(STEPS, CHARGE_THEN_PARK, 1.0167, total_time_cost=money(0.35), total_parking_cost=money(0.6667))
    )
    assert v.verdict == "OK" and v.computed_excl_vat == Decimal("1.0167")


def test_step_size_with_parking_charging_time_rounded_up_too_is_a_discrepancy() -> None:
    # 21 min charging billed as 30 (0.50) as well as 16 min parking as 20: 1.1667, judged OK before.
    v = verdict_of(
        cdr(STEPS, CHARGE_THEN_PARK, 1.1667, total_time_cost=money(0.50), total_parking_cost=money(0.6667))
    )
    assert v.verdict == "DISCREPANCY" and v.differing_dimensions == ("time",)
    assert v.computed_excl_vat == Decimal("1.0167") and v.difference == Decimal("-0.15")


def test_step_size_without_the_tariff_of_a_period_is_uncheckable() -> None:
    periods = [CHARGE_THEN_PARK[0], {**CHARGE_THEN_PARK[1], "tariff_id": "T9"}]
    v = verdict_of(cdr(STEPS, periods, 1.0167))
    assert v.verdict == "UNCHECKABLE" and "unknown tariff_id 'T9'" in v.detail and v.computed_excl_vat is None


def test_hour_volumes_rendered_to_four_decimals_are_not_billed_an_extra_step() -> None:
    # 16 minutes written as 0.2667 h (960.12 s) are 16 minutes, not 17, at step_size 60.
    t = tariff([{"price_components": [component("PARKING_TIME", 2.00, 60)]}])
    v = verdict_of(cdr(t, [period("2026-03-02T10:00:00Z", PARKING_TIME=0.2667)], 0.5333))
    assert v.verdict == "OK" and v.dimensions["parking"]["billed_volume"] == pytest.approx(16 / 60)


# Rule 2: power and current restrictions from the CDR's MIN_/MAX_ dimensions.

MAX_POWER = spec_tariff("tariffrestriction_example_max_power.json")
PROFILE = [(10, 1, 6), (50, 40, 48), (8, 0.5, 4)]  # minutes, kWh, kW: the spec's example


def _power_periods(**which: bool) -> list[dict[str, Any]]:
    steps = []
    for minutes, kwh, kw in PROFILE:
        volumes: dict[str, float] = {"ENERGY": kwh}
        if which.get("max", True):
            volumes["MAX_POWER"] = kw
        if which.get("min", True):
            volumes["MIN_POWER"] = kw * 0.9
        steps.append((minutes, volumes))
    return sequence(local("2026-03-02 10:00"), *steps)


def test_max_power_right_total_is_ok() -> None:
    assert verdict_of(cdr(MAX_POWER, _power_periods(), 20.30)).verdict == "OK"
    # one of MIN_POWER/MAX_POWER is enough to decide
    assert verdict_of(cdr(MAX_POWER, _power_periods(min=False), 20.30)).verdict == "OK"
    assert verdict_of(cdr(MAX_POWER, _power_periods(max=False), 20.30)).verdict == "OK"


def test_max_power_first_element_for_all_energy_is_a_discrepancy() -> None:
    # 41.5 kWh all at the < 16 kW price: 8.30, what "missing counts as met" computed before.
    v = verdict_of(cdr(MAX_POWER, _power_periods(), 8.30, total_energy_cost=money(8.30)))
    assert v.verdict == "DISCREPANCY" and v.differing_dimensions == ("energy",)
    assert v.computed_excl_vat == Decimal("20.3000")


def test_max_power_without_power_dimensions_is_uncheckable() -> None:
    v = verdict_of(cdr(MAX_POWER, _power_periods(min=False, max=False), 20.30))
    assert v.verdict == "UNCHECKABLE" and v.computed_excl_vat is None
    assert "max_power 16.0" in v.detail and "MIN_POWER/MAX_POWER" in v.detail


def test_power_crossing_a_restriction_within_one_period_is_uncheckable() -> None:
    periods = [period("2026-03-02T10:00:00Z", ENERGY=10, MIN_POWER=6, MAX_POWER=48)]
    v = verdict_of(cdr(MAX_POWER, periods, 2.00))
    assert v.verdict == "UNCHECKABLE" and "on both sides" in v.detail


def test_the_session_only_power_dimension_is_still_read_when_sent() -> None:
    periods = [period("2026-03-02T10:00:00Z", ENERGY=10, POWER=11)]
    assert verdict_of(cdr(MAX_POWER, periods, 2.00)).verdict == "OK"


@pytest.mark.parametrize(
    ("power", "billed", "verdict"),
    [
        ({"MIN_POWER": 40, "MAX_POWER": 48}, 5.00, "OK"),  # at or above min_power 32: 0.50
        ({"MIN_POWER": 40, "MAX_POWER": 48}, 3.00, "DISCREPANCY"),  # billed at the slow price
        ({"MIN_POWER": 11, "MAX_POWER": 22}, 3.00, "OK"),
        ({"MIN_POWER": 20, "MAX_POWER": 40}, 3.00, "UNCHECKABLE"),  # on both sides of 32 kW
        ({}, 5.00, "UNCHECKABLE"),
    ],
)
def test_min_power_the_three_ways(power: dict[str, float], billed: float, verdict: str) -> None:
    fast = tariff(
        [
            {"price_components": [component("ENERGY", 0.50)], "restrictions": {"min_power": 32}},
            {"price_components": [component("ENERGY", 0.30)]},
        ]
    )
    v = verdict_of(cdr(fast, [period("2026-03-02T10:00:00Z", ENERGY=10, **power)], billed))
    assert v.verdict == verdict, v.detail


COMPLEX = spec_tariff("tariff_4_complex.json")


def _complex(**current: float) -> list[dict[str, Any]]:
    return sequence(local("2026-03-02 09:30"), (165, {"TIME": True, **current}), (42, {"PARKING_TIME": True}))


def test_current_restrictions_right_total_is_ok() -> None:
    assert verdict_of(cdr(COMPLEX, _complex(MAX_CURRENT=16), 9.00), BERLIN).verdict == "OK"
    # at 43 A on a Monday the weekday > 32 A element applies: 2.50 + 2.75 h x 2.00 + 3.75
    assert verdict_of(cdr(COMPLEX, _complex(MIN_CURRENT=43), 11.75), BERLIN).verdict == "OK"


def test_current_restrictions_wrong_element_is_a_discrepancy() -> None:
    # billed at the > 32 A weekday price though the current never exceeded 16 A
    v = verdict_of(cdr(COMPLEX, _complex(MAX_CURRENT=16), 11.75, total_time_cost=money(5.50)), BERLIN)
    assert v.verdict == "DISCREPANCY" and v.differing_dimensions == ("time",)


def test_current_restrictions_without_current_dimensions_are_uncheckable() -> None:
    v = verdict_of(cdr(COMPLEX, _complex(), 9.00), BERLIN)
    assert (
        v.verdict == "UNCHECKABLE"
        and "max_current 32.0" in v.detail
        and "MIN_CURRENT/MAX_CURRENT" in v.detail
    )


# Rule 3: time restrictions are in the location's local time.

PEAK = 0.40  # the restricted element's price; the fallback is 0.30


@pytest.mark.parametrize(
    ("restriction", "start", "local_applies"),
    [
        # 16:30 UTC in January is 17:30 in Amsterdam: peak locally, not in UTC
        ({"start_time": "17:00", "end_time": "21:00"}, "2026-01-14T16:30:00Z", True),
        # 06:30 UTC is 07:30 locally: the night rate until 07:00 is over
        ({"end_time": "07:00"}, "2026-01-14T06:30:00Z", False),
        # 22:30 UTC on 31 March is 00:30 on 1 April in Amsterdam (CEST)
        ({"start_date": "2026-04-01"}, "2026-03-31T22:30:00Z", True),
        ({"end_date": "2026-04-01"}, "2026-03-31T22:30:00Z", False),
        # Friday 23:30 UTC is Saturday 00:30 locally
        ({"day_of_week": ["SATURDAY", "SUNDAY"]}, "2026-01-16T23:30:00Z", True),
    ],
    ids=["start_time/end_time", "end_time", "start_date", "end_date", "day_of_week"],
)
def test_time_restrictions_in_local_time(
    restriction: dict[str, Any], start: str, local_applies: bool
) -> None:
    t = tariff(
        [
            {"price_components": [component("ENERGY", PEAK)], "restrictions": restriction},
            {"price_components": [component("ENERGY", 0.30)]},
        ]
    )
    local_price, utc_price = (PEAK, 0.30) if local_applies else (0.30, PEAK)
    periods = [period(start, ENERGY=10)]
    right = verdict_of(cdr(t, periods, 10 * local_price), AMSTERDAM)
    assert right.verdict == "OK" and right.time_zone == AMSTERDAM
    read_in_utc = verdict_of(
        cdr(t, periods, 10 * utc_price, total_energy_cost=money(10 * utc_price)), AMSTERDAM
    )
    assert read_in_utc.verdict == "DISCREPANCY" and read_in_utc.differing_dimensions == ("energy",)
    unknown = verdict_of(cdr(t, periods, 10 * local_price))
    assert unknown.verdict == "UNCHECKABLE" and unknown.computed_excl_vat is None
    assert "no time zone" in unknown.detail and "element #0" in unknown.detail
    assert next(iter(restriction)) in unknown.detail  # says which restriction


def test_without_a_time_zone_time_restrictions_that_cannot_change_the_price_do_not_matter() -> None:
    # Wednesday noon UTC is a weekday in every time zone of the world.
    t = tariff(
        [
            {
                "price_components": [component("ENERGY", 0.40)],
                "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]},
            },
            {"price_components": [component("ENERGY", 0.30)]},
        ]
    )
    v = verdict_of(cdr(t, [period("2026-01-14T12:00:00Z", ENERGY=10)], 3.00))
    assert v.verdict == "OK" and v.time_zone is None
    assert any("same price in every UTC offset" in note for note in v.notes)


def test_an_unknown_time_zone_name_counts_as_none() -> None:
    t = tariff(
        [
            {"price_components": [component("ENERGY", 0.40)], "restrictions": {"start_time": "17:00"}},
            {"price_components": [component("ENERGY", 0.30)]},
        ]
    )
    v = verdict_of(cdr(t, [period("2026-01-14T16:30:00Z", ENERGY=10)], 4.00), "Europe/Atlantis")
    assert v.verdict == "UNCHECKABLE" and any("Europe/Atlantis" in note for note in v.notes)


def test_local_time_follows_daylight_saving_time() -> None:
    # 16:30 UTC is 17:30 in Amsterdam in winter, 18:30 in summer: peak 18:00-21:00 only in summer.
    t = tariff(
        [
            {
                "price_components": [component("ENERGY", 0.40)],
                "restrictions": {"start_time": "18:00", "end_time": "21:00"},
            },
            {"price_components": [component("ENERGY", 0.30)]},
        ]
    )
    assert verdict_of(cdr(t, [period("2026-01-14T16:30:00Z", ENERGY=10)], 3.00), AMSTERDAM).verdict == "OK"
    assert verdict_of(cdr(t, [period("2026-07-15T16:30:00Z", ENERGY=10)], 4.00), AMSTERDAM).verdict == "OK"


# Rule 4: reservations are priced (the spec's reservation examples), never ignored.

RESERVED = spec_tariff("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json")
RESERVED_13_MIN = sequence(
    local("2026-03-02 10:00"), (13, {"RESERVATION_TIME": True}), (60, {"ENERGY": 20, "TIME": True})
)


def test_reservation_right_total_and_breakdown_is_ok() -> None:
    v = verdict_of(
        cdr(RESERVED, RESERVED_13_MIN, 8.75, total_reservation_cost=money(3.25), total_fixed_cost=money(0.50))
    )
    assert v.verdict == "OK"
    assert v.dimensions["reservation"]["cost_excl_vat"] == 3.25  # 2.00 fee + 15 min at 5.00/h
    assert v.dimensions["reservation"]["billed_volume"] == 0.25


@pytest.mark.parametrize(
    ("total", "reservation_cost"),
    [(8.5833, 3.0833), (5.50, 0.0)],
    ids=["reservation time not rounded to its step", "reservation not billed"],
)
def test_reservation_mispriced_is_a_discrepancy(total: float, reservation_cost: float) -> None:
    v = verdict_of(cdr(RESERVED, RESERVED_13_MIN, total, total_reservation_cost=money(reservation_cost)))
    assert v.verdict == "DISCREPANCY" and v.differing_dimensions == ("reservation",)


def test_reservation_cost_without_reservation_time_is_uncheckable() -> None:
    periods = [period("2026-03-02T10:00:00Z", ENERGY=20, TIME=1)]
    v = verdict_of(cdr(RESERVED, periods, 8.75, total_reservation_cost=money(3.25)))
    assert v.verdict == "UNCHECKABLE" and "RESERVATION_TIME" in v.detail


def test_an_expired_reservation_with_two_fees_is_uncheckable() -> None:
    # Both a RESERVATION and a RESERVATION_EXPIRES FLAT fee: OCPI does not say if both are billed.
    t = spec_tariff("tariff_17_reservation_with_expire_fee.json")
    t["elements"][1]["price_components"].append(component("FLAT", 1.00))
    expired = sequence(local("2026-03-02 10:00"), (60, {"RESERVATION_TIME": True}))
    v = verdict_of(cdr(t, expired, 6.00))
    assert v.verdict == "UNCHECKABLE" and "RESERVATION_EXPIRES" in v.detail


# Rule 5: the tariff's currency is the CDR's.


def test_currency_same_is_ok_and_wrong_total_a_discrepancy() -> None:
    t = tariff([{"price_components": [component("ENERGY", 0.25)]}])
    assert verdict_of(cdr(t, [period("2026-03-02T10:00:00Z", ENERGY=20)], 5.00)).verdict == "OK"
    assert verdict_of(cdr(t, [period("2026-03-02T10:00:00Z", ENERGY=20)], 5.50)).verdict == "DISCREPANCY"


def test_currency_mismatch_is_uncheckable() -> None:
    t = tariff([{"price_components": [component("ENERGY", 0.25)]}], currency="CHF")
    v = verdict_of(cdr(t, [period("2026-03-02T10:00:00Z", ENERGY=20)], 5.00))
    assert v.verdict == "UNCHECKABLE" and "CHF" in v.detail and "EUR" in v.detail
