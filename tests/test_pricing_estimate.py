"""The price of a planned session before charging (estimate_session): the spec's worked examples
turned into plans (kWh, minutes, start, parking), priced from the tariffs alone."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest

from roam_emp.domain.pricing import SessionEstimate, estimate_session

from .pricing_cases import BERLIN, component, local, parsed_tariff, spec_tariff, tariff

D = Decimal


def one(
    raw: dict[str, object], start: datetime | None = None, time_zone: str | None = BERLIN, **plan: D
) -> SessionEstimate:
    (estimate,) = estimate_session(
        [parsed_tariff(raw)],
        start=start or local("2026-03-02 10:00"),
        time_zone=time_zone,
        **{"kwh": D(0), "minutes": D(60), **plan},
    )
    return estimate


@pytest.mark.parametrize(
    ("name", "plan", "total"),
    [
        ("tariff_8_simple_025kwh.json", {"kwh": D(20)}, "5.00"),
        ("tariff_9_025kwh_start.json", {"kwh": D(20)}, "5.50"),
        ("tariff_12_025kwh_min_price.json", {"kwh": D("1.5")}, "0.50"),
        ("tariff_10_025kwh_parking_start.json", {"kwh": D(20), "parking_minutes": D(40)}, "7.00"),
        ("tariff_6_025kwh_start_max_price.json", {"kwh": D(50)}, "10.00"),
        ("tariff_6_025kwh_start_max_price.json", {"kwh": D(30)}, "8.00"),
        ("tariff_1_simple_2hour.json", {"minutes": D(150)}, "5.00"),
        ("tariff_13_simple_3hour_5parking.json", {"minutes": D(150), "parking_minutes": D(42)}, "11.25"),
        ("tariff_2_alt_text.json", {"minutes": D(150)}, "4.75"),
        ("tariff_3_alt_url.json", {"kwh": D("20.45")}, "5.625"),
        ("tariff_5_free_of_charge.json", {"kwh": D(20)}, "0"),
    ],
)
def test_the_spec_examples_as_estimates(name: str, plan: dict[str, D], total: str) -> None:
    raw = spec_tariff(name)
    # tariff 6 ends on 30 June 2019: planned while it is valid
    estimate = one(raw, start=local("2019-06-01 10:00") if "end_date_time" in raw else None, **plan)
    assert estimate.status == "OK" and estimate.total_excl_vat == D(total)


def test_the_complex_example_as_an_estimate_needs_the_current_and_the_time_zone() -> None:
    t = spec_tariff("tariff_4_complex.json")
    plan = {"minutes": D(165), "parking_minutes": D(42), "start": local("2026-03-02 09:30")}
    monday = one(t, current_a=D(16), **plan)  # type: ignore[arg-type]
    assert monday.status == "OK" and monday.total_excl_vat == D("9.00")
    assert monday.total_incl_vat is not None and abs(monday.total_incl_vat - D("10.30")) <= D("0.01")
    no_current = one(t, **plan)  # type: ignore[arg-type]
    assert no_current.status == "UNCHECKABLE" and no_current.total_excl_vat is None
    assert any("MIN_CURRENT/MAX_CURRENT" in reason for reason in no_current.reasons)
    no_zone = one(t, current_a=D(16), time_zone=None, **plan)  # type: ignore[arg-type]
    assert no_zone.status == "UNCHECKABLE" and "local time" in no_zone.reasons[0]


@pytest.mark.parametrize(
    ("start", "minutes", "parking", "total"),
    [("16:55", 10, 2, "0.55"), ("16:35", 35, 0, "1.30"), ("19:40", 12, 20, "0.73")],
    ids=["switching element #1", "switching element #2", "free after 20:00"],
)
def test_the_step_size_examples_as_estimates_split_at_the_local_clock(
    start: str, minutes: int, parking: int, total: str
) -> None:
    estimate = one(
        spec_tariff("tariff_14_step_size.json"),
        start=local(f"2026-03-02 {start}"),
        minutes=D(minutes),
        parking_minutes=D(parking),
    )
    assert estimate.status == "OK" and estimate.total_excl_vat == D(total)


def test_power_restrictions_are_priced_at_the_plan_s_constant_rate() -> None:
    t = spec_tariff("tariffrestriction_example_max_power.json")
    slow = one(t, kwh=D(10), minutes=D(60))  # 10 kW: under 16 kW
    assert slow.total_excl_vat == D("2.00") and "10.00 kW" in slow.notes[0]
    fast = one(t, kwh=D(40), minutes=D(60))  # 40 kW: the fallback
    assert fast.total_excl_vat == D("20.00")
    assert one(t, kwh=D(40), minutes=D(60), power_kw=D(20)).total_excl_vat == D("14.00")


def test_duration_and_energy_thresholds_split_the_plan_exactly() -> None:
    # max_duration example, at a constant rate: 6.2 kWh over 40 min, the first 30 min (4.65 kWh)
    # free, the remaining 1.55 kWh at 0.25
    free_first = one(spec_tariff("tariffrestriction_example_max_duration.json"), kwh=D("6.2"), minutes=D(40))
    assert free_first.total_excl_vat == D("0.3875")
    tiers = tariff(
        [
            {"price_components": [component("ENERGY", 0.20)], "restrictions": {"max_kwh": 10}},
            {"price_components": [component("ENERGY", 0.30)]},
        ]
    )
    assert one(tiers, kwh=D(15), minutes=D(45)).total_excl_vat == D("3.50")  # 10 x 0.20 + 5 x 0.30


def test_the_estimate_names_its_tariff_and_serialises() -> None:
    raw = spec_tariff("tariff_10_025kwh_parking_start.json")
    data = one(raw, kwh=D(20), parking_minutes=D(40)).as_dict()
    json.dumps(data)
    assert data["tariff_id"] == "T1" and data["tariff_last_updated"] == "2026-01-01T00:00:00+00:00"
    assert data["dimensions"]["parking"]["billed_volume"] == 0.75
    assert data["dimensions"]["flat"]["cost_excl_vat"] == 0.5


def test_one_estimate_per_tariff_and_an_expired_tariff_is_not_a_price() -> None:
    # The same validity rule as the CDR check: a tariff that ended before the start is not priced.
    tariffs = [
        parsed_tariff(spec_tariff("tariff_8_simple_025kwh.json")),
        parsed_tariff(spec_tariff("tariff_6_025kwh_start_max_price.json", tariff_id="T2")),
    ]
    estimates = estimate_session(
        tariffs, kwh=D(20), minutes=D(60), start=local("2026-03-02 10:00"), time_zone=BERLIN
    )
    assert [(e.tariff_id, e.status, e.total_excl_vat) for e in estimates] == [
        ("T1", "OK", D("5.00")),
        ("T2", "UNCHECKABLE", None),
    ]
    assert "tariff T2 was not valid (until 2019-06-30T23:59:59+00:00)" in estimates[1].reasons[0]


@pytest.mark.parametrize(
    "plan",
    [
        {"kwh": D(-1), "minutes": D(60), "start": local("2026-03-02 10:00")},
        {"kwh": D(1), "minutes": D(0), "start": local("2026-03-02 10:00")},
        {"kwh": D(1), "minutes": D(60), "start": datetime(2026, 3, 2, 10)},  # naive
    ],
)
def test_a_plan_that_is_not_a_session_is_refused(plan: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        estimate_session(
            [parsed_tariff(spec_tariff("tariff_8_simple_025kwh.json"))], time_zone=BERLIN, **plan
        )  # type: ignore[arg-type]


def test_plain_numbers_from_a_query_are_priced_exactly() -> None:
    raw = parsed_tariff(spec_tariff("tariff_8_simple_025kwh.json"))
    (estimate,) = estimate_session(
        [raw],
        kwh=20.1,
        minutes=60,
        start=local("2026-03-02 10:00"),
        time_zone=BERLIN,  # type: ignore[arg-type]
    )
    assert estimate.total_excl_vat == D("5.025")
