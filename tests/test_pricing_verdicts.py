"""The cost check beyond its five rules (issue 14): tariff validity dates, FLAT fees, min/max price,
what the result carries, and the parts of a tariff or CDR the engine cannot price (UNCHECKABLE with
the reason, never silently left out and never an exception)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from roam_emp.domain.pricing import check, estimate_session

from .pricing_cases import (
    BERLIN,
    cdr,
    component,
    local,
    money,
    parsed_tariff,
    period,
    sequence,
    spec_tariff,
    tariff,
)
from .test_pricing_rules import AMSTERDAM, COMPLEX, verdict_of

# Tariff validity: start_date_time / end_date_time (UTC) against each period's start.

ENDS_2019 = spec_tariff("tariff_6_025kwh_start_max_price.json")  # end_date_time 2019-06-30T23:59:59Z


def test_a_period_within_the_tariffs_validity_is_priced() -> None:
    v = verdict_of(cdr(ENDS_2019, [period("2019-06-30T20:00:00Z", ENERGY=30)], 8.00))
    assert v.verdict == "OK" and not v.notes


def test_a_tariff_that_ended_before_the_session_is_uncheckable_naming_its_validity() -> None:
    # The same CDR a day later: whatever it bills, the tariff it names no longer applied, and the
    # one that did is not in the CDR.
    for billed in (8.00, 9.00):
        v = verdict_of(cdr(ENDS_2019, [period("2019-07-01T20:00:00Z", ENERGY=30)], billed))
        assert v.verdict == "UNCHECKABLE" and v.computed_excl_vat is None
        assert "tariff T1 was not valid (until 2019-06-30T23:59:59+00:00)" in v.detail


def test_a_tariff_that_ends_during_the_session_prices_it_to_the_end_with_a_note() -> None:
    # "a driver accepts the tariff which is valid when they start their charging session"
    periods = [period("2019-06-30T23:00:00Z", ENERGY=10), period("2019-07-01T00:00:00Z", ENERGY=20)]
    v = verdict_of(cdr(ENDS_2019, periods, 8.00))
    assert v.verdict == "OK" and v.computed_excl_vat == Decimal("8.0000")
    assert any("period 2: tariff T1" in note and "had ended" in note for note in v.notes)
    assert verdict_of(cdr(ENDS_2019, periods, 5.50)).verdict == "DISCREPANCY"


def test_a_tariff_not_yet_valid_is_uncheckable_but_a_switch_to_it_mid_session_is_priced() -> None:
    old = tariff([{"price_components": [component("ENERGY", 0.25)]}], end_date_time="2026-03-02T11:00:00Z")
    new = tariff(
        [{"price_components": [component("ENERGY", 0.30)]}], id="T2", start_date_time="2026-03-02T11:00:00Z"
    )
    switched = [period("2026-03-02T10:00:00Z", ENERGY=10), period("2026-03-02T11:00:00Z", "T2", ENERGY=10)]
    assert verdict_of(cdr([old, new], switched, 5.50)).verdict == "OK"  # 2.50 + 3.00
    early = [period("2026-03-02T10:00:00Z", "T2", ENERGY=20)]
    v = verdict_of(cdr([old, new], early, 6.00))
    assert v.verdict == "UNCHECKABLE"
    assert "tariff T2 was not valid (from 2026-03-02T11:00:00+00:00)" in v.detail


# FLAT: "a fixed amount that has to be paid for any Charging Session" (Tariff.min_price), once.


def test_a_flat_fee_billed_once_is_ok_and_once_per_period_a_discrepancy() -> None:
    t = tariff([{"price_components": [component("FLAT", 1.00), component("TIME", 2.00)]}])
    periods = sequence(
        local("2026-03-02 10:00"), (30, {"TIME": True}), (30, {"TIME": True}), (30, {"TIME": True})
    )
    assert verdict_of(cdr(t, periods, 4.00, total_fixed_cost=money(1.00))).verdict == "OK"
    v = verdict_of(cdr(t, periods, 6.00, total_fixed_cost=money(3.00)))
    assert v.verdict == "DISCREPANCY" and v.differing_dimensions == ("flat",)


# min_price / max_price


def test_min_price_applied_is_ok_and_ignored_is_a_discrepancy() -> None:
    t = spec_tariff("tariff_12_025kwh_min_price.json")
    periods = [period("2026-03-02T10:00:00Z", ENERGY=1.5)]
    v = verdict_of(cdr(t, periods, 0.50, total_energy_cost=money(0.375)))
    assert v.verdict == "OK" and v.price_bound == ("min_price", Decimal("0.5"))
    assert v.dimensions["energy"]["status"] == "NOT_COMPARED"  # the bound is on the total
    ignored = verdict_of(cdr(t, periods, 0.375))
    assert (
        ignored.verdict == "DISCREPANCY" and "the CDR's cost breakdown does not show where" in ignored.detail
    )


def test_max_price_ignored_is_a_discrepancy() -> None:
    t = spec_tariff("tariff_6_025kwh_start_max_price.json")
    v = verdict_of(cdr(t, [period("2019-06-01T10:00:00Z", ENERGY=50)], 13.00))
    assert v.verdict == "DISCREPANCY" and v.computed_excl_vat == Decimal("10.0000")


def test_a_bound_across_a_tariff_switch_is_uncheckable() -> None:
    bounded = spec_tariff("tariff_6_025kwh_start_max_price.json")
    other = spec_tariff("tariff_8_simple_025kwh.json", tariff_id="T2")
    periods = [period("2019-06-01T10:00:00Z", ENERGY=30), period("2019-06-01T11:00:00Z", "T2", ENERGY=30)]
    v = verdict_of(cdr([bounded, other], periods, 10.00))
    assert v.verdict == "UNCHECKABLE" and "switches tariffs" in v.detail


# The result: per dimension, the breakdown compared, the old keys kept, never an exception.


def test_a_matching_total_with_a_wrong_breakdown_is_a_discrepancy_naming_the_dimensions() -> None:
    # parking billed as charging time: the total is right, the breakdown is not
    periods = sequence(
        local("2026-03-02 09:30"), (165, {"TIME": True, "MAX_CURRENT": 16}), (42, {"PARKING_TIME": True})
    )
    v = verdict_of(
        cdr(
            COMPLEX,
            periods,
            9.00,
            total_time_cost=money(6.50),
            total_parking_cost=money(0),
            total_fixed_cost=money(2.50),
        ),
        BERLIN,
    )
    assert v.verdict == "DISCREPANCY" and v.differing_dimensions == ("time", "parking")
    assert v.detail.startswith(
        "recomputed total 9.0000 EUR excl. VAT matches, but the breakdown differs in time"
    )
    assert v.dimensions["flat"]["status"] == "OK" and v.dimensions["energy"]["status"] == "NOT_REPORTED"


def test_the_result_carries_the_table_and_keeps_its_old_keys() -> None:
    periods = sequence(
        local("2026-03-02 09:30"), (165, {"TIME": True, "MAX_CURRENT": 16}), (42, {"PARKING_TIME": True})
    )
    data = verdict_of(cdr(COMPLEX, periods, 9.00, total_parking_cost=money(3.75)), BERLIN).as_dict()
    json.dumps(data)  # serialisable as it is
    assert {"status", "detail", "computed_excl_vat", "reported_excl_vat", "difference"} <= set(data)
    assert data["verdict"] == data["status"] == "OK" and data["time_zone"] == BERLIN
    parking = data["dimensions"]["parking"]
    assert parking["billed_volume"] == 0.75 and parking["cost_excl_vat"] == 3.75
    assert parking["components"] == [
        {"tariff_id": "T1", "element": 4, "price": 5.0, "step_size": 300, "vat": 10.0}
    ]
    assert parking["reported_excl_vat"] == 3.75 and parking["status"] == "OK"
    assert data["periods"][1]["local_start"] == "2026-03-02T12:15:00+01:00"
    assert [line["note"] for line in data["periods"][1]["lines"]] == [
        "",
        "step_size 300: 0.7 h billed as 0.75",
    ]


def test_a_period_without_tariff_id_uses_the_only_tariff_and_says_so() -> None:
    t = tariff([{"price_components": [component("ENERGY", 0.25)]}])
    v = verdict_of(cdr(t, [period("2026-03-02T10:00:00Z", None, ENERGY=20)], 5.00))
    assert v.verdict == "OK" and "only tariff T1 assumed" in v.notes[0]
    two = [t, {**t, "id": "T2"}]
    v = verdict_of(cdr(two, [period("2026-03-02T10:00:00Z", None, ENERGY=20)], 5.00))
    assert v.verdict == "UNCHECKABLE" and "no tariff_id" in v.detail


def test_no_tariffs_is_uncheckable() -> None:
    c = cdr(tariff([]), [period("2026-03-02T10:00:00Z", ENERGY=1)], 1.0).model_copy(update={"tariffs": None})
    assert verdict_of(c).verdict == "UNCHECKABLE"


def test_an_engine_error_is_an_uncheckable_verdict_never_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ArithmeticError("boom")

    monkeypatch.setattr(check, "price_zoned", broken)
    t = tariff([{"price_components": [component("ENERGY", 0.25)]}])
    v = verdict_of(cdr(t, [period("2026-03-02T10:00:00Z", ENERGY=20)], 5.00))
    assert v.verdict == "UNCHECKABLE" and v.computed_excl_vat is None
    assert v.detail.startswith("engine error: ArithmeticError: boom (at test_pricing_verdicts.py:")
    assert v.as_dict()["reasons"] == [v.detail]


def test_a_malformed_restriction_is_uncheckable_not_an_error() -> None:
    t = tariff(
        [
            {"price_components": [component("ENERGY", 0.40)], "restrictions": {"start_time": "25:99"}},
            {"price_components": [component("ENERGY", 0.30)]},
        ]
    )
    v = verdict_of(cdr(t, [period("2026-01-14T16:30:00Z", ENERGY=10)], 3.00), AMSTERDAM)
    assert v.verdict == "UNCHECKABLE" and "malformed time restriction" in v.detail


# Parts of a tariff or CDR the engine cannot price are reasons, never silently left out.


def test_a_price_component_of_a_type_ocpi_does_not_define_is_uncheckable() -> None:
    # TariffDimensionType is ENERGY, FLAT, PARKING_TIME or TIME; the lenient parser keeps others,
    # and a total priced without them would judge a CDR that bills them a DISCREPANCY (or, billing
    # without them, OK).
    t = tariff([{"price_components": [component("ENERGY", 0.25), component("IDLE_TIME", 1.00)]}])
    periods = [period("2026-03-02T10:00:00Z", ENERGY=20, TIME=1)]
    for billed in (5.00, 6.00):
        v = verdict_of(cdr(t, periods, billed))
        assert v.verdict == "UNCHECKABLE" and "price component type 'IDLE_TIME'" in v.detail
    (estimate,) = estimate_session(
        [parsed_tariff(t)],
        kwh=Decimal(20),
        minutes=Decimal(60),
        start=local("2026-03-02 10:00"),
        time_zone=BERLIN,
    )
    assert estimate.status == "UNCHECKABLE" and "IDLE_TIME" in estimate.reasons[0]


def test_duration_restrictions_with_periods_outside_the_cdrs_start_and_end_are_uncheckable() -> None:
    # The spec's max_duration example, its periods an hour before the CDR's start_date_time: the
    # duration "the Charging Session MUST last" counts from the session's start, contradicted here.
    t = spec_tariff("tariffrestriction_example_max_duration.json")
    periods = sequence(local("2026-03-02 10:00"), (30, {"ENERGY": 5}), (10, {"ENERGY": 1.2}))
    assert verdict_of(cdr(t, periods, 0.30)).verdict == "OK"
    shifted = cdr(t, periods, 0.30).model_copy(update={"start_date_time": local("2026-03-02 11:00")})
    v = verdict_of(shifted)
    assert (
        v.verdict == "UNCHECKABLE"
        and "period 1 starts" in v.detail
        and "min_duration/max_duration" in v.detail
    )
    # without a duration restriction the same shift changes nothing
    flat = tariff([{"price_components": [component("ENERGY", 0.25)]}])
    assert (
        verdict_of(
            cdr(flat, periods, 1.55).model_copy(update={"start_date_time": local("2026-03-02 11:00")})
        ).verdict
        == "OK"
    )
