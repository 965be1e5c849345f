"""The worked examples of OCPI 2.2.1, as CDRs built from the example text: every priced example of
mod_tariffs.asciidoc (with its official tariff JSON) and the step_size examples of
mod_cdrs.asciidoc. Each CDR bills the spec's printed total and must be judged OK, recomputed to
that total."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from roam_emp.domain.tariff_engine import recompute
from roam_emp.ocpi.cdrs import Cdr
from roam_emp.ocpi.leniency import parse_inbound

from .helpers import example
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


@dataclass
class Worked:
    tariff: dict[str, Any]
    periods: list[dict[str, Any]]
    total: str  # the spec's printed total excl. VAT
    incl_vat: str | None = None  # ... and incl. VAT, when printed
    exact: str | None = None  # our unrounded total when the spec prints it rounded
    time_zone: str | None = None
    billed: dict[str, str] = field(default_factory=dict)  # dimension -> billed volume the text gives


def _20kwh(name: str, **volumes: float) -> list[dict[str, Any]]:
    del name
    return [period("2026-03-02T10:00:00Z", ENERGY=20, **volumes)]


def _reservation(reserved_min: float, kwh: float = 20) -> list[dict[str, Any]]:
    start = local("2026-03-02 10:00")
    return sequence(start, (reserved_min, {"RESERVATION_TIME": True}), (60, {"ENERGY": kwh, "TIME": True}))


def _complex(start: str, charging_min: int, parking_min: int, **current: float) -> list[dict[str, Any]]:
    return sequence(
        local(start), (charging_min, {"TIME": True, **current}), (parking_min, {"PARKING_TIME": True})
    )


MOD_TARIFFS = {
    # "Simple Tariff example € 0.25 per kWh": 20 kWh -> 5.00 / 5.50
    "0.25/kWh": Worked(spec_tariff("tariff_8_simple_025kwh.json"), _20kwh("8"), "5.00", "5.50"),
    # "€ 0.25 per kWh + start fee": 20 kWh -> 5.50 / 6.10
    "0.25/kWh+start": Worked(spec_tariff("tariff_9_025kwh_start.json"), _20kwh("9"), "5.50", "6.10"),
    # "+ minimum price": 20 kWh -> 5.00 / 5.50 ...
    "min_price 20 kWh": Worked(spec_tariff("tariff_12_025kwh_min_price.json"), _20kwh("12"), "5.00", "5.50"),
    # ... "if less than 2 kWh is charged, € 0.50 (excl. VAT) or € 0.55 (incl. VAT)"
    "min_price 1.5 kWh": Worked(
        spec_tariff("tariff_12_025kwh_min_price.json"),
        [period("2026-03-02T10:00:00Z", ENERGY=1.5)],
        "0.50",
        "0.55",
    ),
    # "+ parking fee + start fee": 20 kWh, parked 40 min (billed 45) -> 7.00 / 7.90
    "parking+start": Worked(
        spec_tariff("tariff_10_025kwh_parking_start.json"),
        sequence(local("2026-03-02 10:00"), (60, {"ENERGY": 20, "TIME": True}), (40, {"PARKING_TIME": True})),
        "7.00",
        "7.90",
        billed={"parking": "0.75"},
    ),
    # "+ start fee + max price": 50 kWh -> 10.00 / 11.00 ...
    "max_price 50 kWh": Worked(
        spec_tariff("tariff_6_025kwh_start_max_price.json"),
        [period("2019-06-01T10:00:00Z", ENERGY=50)],
        "10.00",
        "11.00",
    ),
    # ... "If only 30 kWh were charged, the costs would be € 8.00 (excl. VAT) and € 8.85"
    "max_price 30 kWh": Worked(
        spec_tariff("tariff_6_025kwh_start_max_price.json"),
        [period("2019-06-01T10:00:00Z", ENERGY=30)],
        "8.00",
        "8.85",
    ),
    # "Simple Tariff example € 2 per hour": 2.5 h -> 5.00 / 5.50
    "2/h": Worked(
        spec_tariff("tariff_1_simple_2hour.json"), [period("2026-03-02T10:00:00Z", TIME=2.5)], "5.00", "5.50"
    ),
    # "€ 3 per hour, € 5 per hour parking": 150 min + 42 min parking (billed 45) -> 11.25 / 12.75
    "3/h+5/h parking": Worked(
        spec_tariff("tariff_13_simple_3hour_5parking.json"),
        sequence(local("2026-03-02 10:00"), (150, {"TIME": True}), (42, {"PARKING_TIME": True})),
        "11.25",
        "12.75",
        billed={"time": "2.5", "parking": "0.75"},
    ),
    # "Ad-Hoc simple Tariff example with multiple languages": 2.5 h -> 4.75 / 5.00
    "ad-hoc 1.90/h": Worked(
        spec_tariff("tariff_2_alt_text.json"), [period("2026-03-02T10:00:00Z", TIME=2.5)], "4.75", "5.00"
    ),
    # "with alternative URL": start fee + 20.45 kWh billed as 20.5 kWh: 5.63 / 6.24 (printed
    # rounded: 0.50 + 5.125 = 5.625)
    "alt url 20.45 kWh": Worked(
        spec_tariff("tariff_3_alt_url.json"),
        [period("2026-03-02T10:00:00Z", ENERGY=20.45)],
        "5.63",
        "6.24",
        exact="5.625",
        billed={"energy": "20.5"},
    ),
    # "Complex Tariff example", Monday 09:30, 165 min charging at max 16 A, 42 min parking
    # (billed 45) -> 9.00 / 10.30; the charging time is not rounded (followed by parking).
    "complex Monday": Worked(
        spec_tariff("tariff_4_complex.json"),
        _complex("2026-03-02 09:30", 165, 42, MAX_CURRENT=16),
        "9.00",
        "10.30",
        time_zone=BERLIN,
        billed={"time": "2.75", "parking": "0.75"},
    ),
    "free of charge": Worked(
        spec_tariff("tariff_5_free_of_charge.json"),
        [period("2026-03-02T10:00:00Z", ENERGY=12, TIME=1)],
        "0.00",
        "0.00",
    ),
    # "with reservation price": reserved 15 min + 20 kWh -> 6.75 / 7.60
    "reservation 5/h": Worked(
        spec_tariff("tariff_15_reservation_5_euro_per_hour.json"), _reservation(15), "6.75", "7.60"
    ),
    # "with reservation price and fee": reserved 13 min (billed 15) + 20 kWh -> 8.75 / 10.00
    "reservation fee": Worked(
        spec_tariff("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json"),
        _reservation(13),
        "8.75",
        "10.00",
        billed={"reservation": "0.25"},
    ),
    # "with reservation price and expire fee": reserved 22 min (billed 30) + 20 kWh -> 6.50 / 7.30 ...
    "reservation expire fee, used": Worked(
        spec_tariff("tariff_17_reservation_with_expire_fee.json"), _reservation(22), "6.50", "7.30"
    ),
    # ... expired after 1 hour: 4.00 fee + 60 min at 2.00 -> 6.00 / 7.20
    "reservation expire fee, expired": Worked(
        spec_tariff("tariff_17_reservation_with_expire_fee.json"),
        sequence(local("2026-03-02 10:00"), (60, {"RESERVATION_TIME": True})),
        "6.00",
        "7.20",
    ),
    # "with reservation time and expire time": reserved 22 min (billed 30) at 3.00 + 20 kWh -> 7.00 / 7.90 ...
    "reservation expire time, used": Worked(
        spec_tariff("tariff_18_reservation_with_expire_time.json"), _reservation(22), "7.00", "7.90"
    ),
    # ... expired after 1.5 hours, at the RESERVATION_EXPIRES price 6.00/h -> 9.00 / 10.80
    "reservation expire time, expired": Worked(
        spec_tariff("tariff_18_reservation_with_expire_time.json"),
        sequence(local("2026-03-02 10:00"), (90, {"RESERVATION_TIME": True})),
        "9.00",
        "10.80",
    ),
    # step_size example tariff, "switching to different Tariff Element #1": 16:55, 10 min charging
    # (5 before 17:00, 5 after), 2 min parking billed as 15 -> 0.55
    "step_size #1": Worked(
        spec_tariff("tariff_14_step_size.json"),
        sequence(
            local("2026-03-02 16:55"), (5, {"TIME": True}), (5, {"TIME": True}), (2, {"PARKING_TIME": True})
        ),
        "0.55",
        time_zone=BERLIN,
        billed={"parking": "0.25"},
    ),
    # "#2": 16:35, 35 min charging, no parking: 35 min rounded up to 45 by the last step
    # (15 min): 25 min at 1.20 + 20 min at 2.40 -> 1.30
    "step_size #2": Worked(
        spec_tariff("tariff_14_step_size.json"),
        sequence(local("2026-03-02 16:35"), (25, {"TIME": True}), (10, {"TIME": True})),
        "1.30",
        time_zone=BERLIN,
        billed={"time": "0.75"},
    ),
    # "switching to Free-of-Charge Tariff Element": 19:40, 12 min charging, 20 min parking of
    # which 8 before 20:00 are billable, rounded to 15 -> 0.48 + 0.25 = 0.73
    "step_size free after 20:00": Worked(
        spec_tariff("tariff_14_step_size.json"),
        sequence(
            local("2026-03-02 19:40"),
            (12, {"TIME": True}),
            (8, {"PARKING_TIME": True}),
            (12, {"PARKING_TIME": True}),
        ),
        "0.73",
        time_zone=BERLIN,
        billed={"parking": "0.25"},
    ),
    # "Tariff with max_power": 1 kWh at 6 kW, 40 kWh at 48 kW, 0.5 kWh at 4 kW -> 20.30
    "max_power": Worked(
        spec_tariff("tariffrestriction_example_max_power.json"),
        sequence(
            local("2026-03-02 10:00"),
            (10, {"ENERGY": 1, "MIN_POWER": 5.5, "MAX_POWER": 6}),
            (50, {"ENERGY": 40, "MIN_POWER": 47, "MAX_POWER": 48}),
            (8, {"ENERGY": 0.5, "MIN_POWER": 3.8, "MAX_POWER": 4}),
        ),
        "20.30",
    ),
    # "Tariff with max_duration": 40 min, 5 kWh in the first 30 (free), 1.2 kWh after -> 0.30
    "max_duration": Worked(
        spec_tariff("tariffrestriction_example_max_duration.json"),
        sequence(local("2026-03-02 10:00"), (30, {"ENERGY": 5}), (10, {"ENERGY": 1.2})),
        "0.30",
    ),
}

_ENERGY_AT = [component("ENERGY", 0.20, 500)]
MOD_CDRS_STEP_SIZE = {
    # "After 21 minutes of charging, the EV is full but remains connected for 7 more minutes.
    # The cost of charging will be calculated based on 21 minutes (not 25). The cost of parking
    # will be calculated based on 10 minutes" (prices ours: 1.00/h and 2.00/h)
    "21 min + 7 min parking, steps 5 min": Worked(
        tariff([{"price_components": [component("TIME", 1.00, 300), component("PARKING_TIME", 2.00, 300)]}]),
        sequence(local("2026-03-02 10:00"), (21, {"TIME": True}), (7, {"PARKING_TIME": True})),
        "0.6833",
        billed={"time": "0.35", "parking": str(Decimal(10) / 60)},
    ),
    # "4.3 kWh before 17:00 and 1.1 kWh after 17:00 ... rounds this up to 5.5 kWh total"
    # (0.20 and 0.27 per kWh, steps of 500 Wh): 4.3 x 0.20 + 1.2 x 0.27
    "energy 4.3 + 1.1 kWh, step 500 Wh": Worked(
        tariff(
            [
                {"price_components": [component("ENERGY", 0.20, 500)], "restrictions": {"end_time": "17:00"}},
                {"price_components": [component("ENERGY", 0.27, 500)]},
            ]
        ),
        sequence(local("2026-03-02 16:00"), (60, {"ENERGY": 4.3}), (30, {"ENERGY": 1.1})),
        "1.184",
        time_zone=BERLIN,
        billed={"energy": "5.5"},
    ),
    # "6 minutes before 17:00 and 22 minutes after 17:00 ... rounds this up to 30 minutes total,
    # so 24 minutes after 17:00 will be billed" (5.00 and 7.00 per hour, steps of 10 min)
    "time 6 + 22 min, step 10 min": Worked(
        tariff(
            [
                {"price_components": [component("TIME", 5.00, 600)], "restrictions": {"end_time": "17:00"}},
                {"price_components": [component("TIME", 7.00, 600)]},
            ]
        ),
        sequence(local("2026-03-02 16:54"), (6, {"TIME": True}), (22, {"TIME": True})),
        "3.30",
        time_zone=BERLIN,
        billed={"time": "0.5"},
    ),
    # "charges 21 minutes, and keeps his EV connected while it is full for another 16 minutes,
    # then the step_size rounds the parking duration up to 20 minutes" (1.00/h, 2.00/h, 10 min)
    "21 min + 16 min parking, steps 10 min": Worked(
        tariff([{"price_components": [component("TIME", 1.00, 600), component("PARKING_TIME", 2.00, 600)]}]),
        sequence(local("2026-03-02 10:00"), (21, {"TIME": True}), (16, {"PARKING_TIME": True})),
        "1.0167",
        billed={"time": "0.35", "parking": str(Decimal(20) / 60)},
    ),
}


@pytest.mark.parametrize(
    "case", [*MOD_TARIFFS.values(), *MOD_CDRS_STEP_SIZE.values()], ids=[*MOD_TARIFFS, *MOD_CDRS_STEP_SIZE]
)
def test_the_spec_worked_examples_recompute_to_the_printed_totals(case: Worked) -> None:
    printed = Decimal(case.total)
    verdict = recompute(
        cdr(
            case.tariff,
            case.periods,
            float(printed),
            incl_vat=None if case.incl_vat is None else float(case.incl_vat),
        ),
        TOLERANCE,
        time_zone=case.time_zone,
    )
    assert verdict.verdict == "OK", verdict.detail
    assert verdict.computed_excl_vat is not None
    assert abs(verdict.computed_excl_vat - Decimal(case.exact or case.total)) < Decimal("0.0001")
    if case.incl_vat is not None:
        assert verdict.computed_incl_vat is not None
        assert abs(verdict.computed_incl_vat - Decimal(case.incl_vat)) <= TOLERANCE
    for dimension, volume in case.billed.items():
        billed = Decimal(str(verdict.dimensions[dimension]["billed_volume"]))
        assert abs(billed - Decimal(volume)) < Decimal("0.000001"), (dimension, billed)


def test_the_complex_saturday_example_is_priced_by_its_tariff_not_by_its_printed_sum() -> None:
    """Saturday 13:30, 114 min at >= 43 A, 71 min parking (billed 75 at 6.00/h = 7.50). The spec
    prints the charging time as 2.28, but 114 min at the weekend price 1.25/h is 2.375 (2.28 is
    1.14 x 2.00): a CDR billing the printed 12.28 undercharges the time dimension, and says so."""
    t = spec_tariff("tariff_4_complex.json")
    periods = _complex("2026-03-07 13:30", 114, 71, MIN_CURRENT=43)
    right = recompute(cdr(t, periods, 12.375), TOLERANCE, time_zone=BERLIN)
    assert right.verdict == "OK" and right.computed_excl_vat == Decimal("12.3750")
    assert right.dimensions["parking"]["cost_excl_vat"] == 7.5
    printed = recompute(
        cdr(t, periods, 12.28, total_time_cost=money(2.28), total_parking_cost=money(7.50)),
        TOLERANCE,
        time_zone=BERLIN,
    )
    assert printed.verdict == "DISCREPANCY" and printed.differing_dimensions == ("time",)
    assert "time (computed 2.3750, total_time_cost 2.28)" in printed.detail


def test_the_spec_cdr_example_matches_with_its_step_size_and_breakdown() -> None:
    verdict = recompute(parse_inbound(Cdr, example("cdr_example.json"))[0], TOLERANCE)
    # 1.973 h at 2.00 EUR/h in 300 s steps: billed as 2 h = 4.00 EUR, as total_cost and total_time_cost say.
    assert verdict.status == "OK" and verdict.computed_excl_vat == Decimal("4.0000")
    assert verdict.dimensions["time"]["billed_volume"] == 2.0
    assert verdict.dimensions["time"]["status"] == "OK"


@pytest.mark.parametrize(
    ("step_size", "cost"),
    [(1, "0.029"), (25, "0.03125"), (500, "0.125")],
)
def test_the_step_size_note_115_2_wh(step_size: int, cost: str) -> None:
    """mod_tariffs, note on step_size: 115.2 Wh at 0.25/kWh is billed as 116 Wh (0.029), 125 Wh
    with step 25 (printed 0.031) and 500 Wh with step 500 (0.125)."""
    t = tariff([{"price_components": [component("ENERGY", 0.25, step_size)]}])
    verdict = recompute(cdr(t, [period("2026-03-02T10:00:00Z", ENERGY=0.1152)], float(cost)), TOLERANCE)
    assert verdict.verdict == "OK"
    assert verdict.computed_excl_vat == Decimal(cost).quantize(Decimal("0.0001"))


def test_the_step_size_notes_on_time_and_parking() -> None:
    """PriceComponent: TIME step 300, 6 minutes consumed -> 10 billed; the step_size note:
    PARKING_TIME step 300, parked 8 minutes -> billed for 10."""
    t = tariff([{"price_components": [component("TIME", 6.00, 300), component("PARKING_TIME", 6.00, 300)]}])
    charging = recompute(cdr(t, [period("2026-03-02T10:00:00Z", TIME=0.1)], 1.00), TOLERANCE)
    assert charging.verdict == "OK" and charging.dimensions["time"]["billed_volume"] == pytest.approx(1 / 6)
    parked = recompute(cdr(t, [period("2026-03-02T10:00:00Z", PARKING_TIME=8 / 60)], 1.00), TOLERANCE)
    assert parked.verdict == "OK" and parked.dimensions["parking"]["billed_volume"] == pytest.approx(1 / 6)


def test_the_alt_url_examples_real_time_price_is_a_discrepancy_pointing_at_the_url() -> None:
    """ "Simple Tariff example with alternative URL": 5.63 if the announced prices were billed; at a
    real-time 0.22/kWh shown only on the tariff_alt_url page, 5.01. The elements say 0.25, so the
    CDR differs from its tariff; the verdict says where the CPO may explain it."""
    t = spec_tariff("tariff_3_alt_url.json")
    periods = [period("2026-03-02T10:00:00Z", ENERGY=20.45)]
    assert recompute(cdr(t, periods, 5.63), TOLERANCE).verdict == "OK"
    real_time = recompute(cdr(t, periods, 5.01, total_energy_cost=money(4.51)), TOLERANCE)
    assert real_time.verdict == "DISCREPANCY" and real_time.differing_dimensions == ("energy",)
    assert any("tariff_alt_url (https://company.com/tariffs/13)" in note for note in real_time.notes)


def test_the_ad_hoc_example_not_possible_with_ocpi_flags_the_debit_card_discount() -> None:
    """ "Ad-Hoc Tariff example not possible with OCPI": the 0.50 (incl. VAT) start fee of tariff 11
    with a 0.25 debit card discount given "in the final CDR". The spec prints no total; an hour at
    1.90 plus the 0.40 fee is 2.30 excl. VAT. The discounted CDR differs from its tariff (in the
    driver's favour) and the check says so, with the dimension."""
    t = spec_tariff("tariff_11_not_possible_alt_text.json")
    periods = [period("2026-03-02T10:00:00Z", TIME=1)]
    assert recompute(cdr(t, periods, 2.30), TOLERANCE).verdict == "OK"
    debit = recompute(cdr(t, periods, 2.10, total_fixed_cost=money(0.20)), TOLERANCE)
    assert debit.verdict == "DISCREPANCY" and debit.differing_dimensions == ("flat",)
    assert debit.difference == Decimal("0.2")
