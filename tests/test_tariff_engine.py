"""CDR cost recomputation (mod_tariffs.asciidoc): the spec's CDR example and hand-made cases for
step sizes, restrictions, FLAT, min/max price."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from roam_emp.domain.tariff_engine import recompute
from roam_emp.ocpi.cdrs import Cdr
from roam_emp.ocpi.leniency import parse_inbound

from .helpers import example

TOLERANCE = Decimal("0.01")


def cdr_with(
    tariff: dict[str, Any],
    periods: list[dict[str, Any]],
    total: float,
    start: str = "2026-03-02T09:00:00Z",
    end: str = "2026-03-02T23:00:00Z",
) -> Cdr:
    raw = copy.deepcopy(example("cdr_example.json"))
    raw.update(
        start_date_time=start,
        end_date_time=end,
        tariffs=[tariff],
        charging_periods=periods,
        total_cost={"excl_vat": total},
    )
    return parse_inbound(Cdr, raw)[0]


def tariff(elements: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "8PS",
        "id": "T1",
        "currency": "EUR",
        "elements": elements,
        "last_updated": "2026-01-01T00:00:00Z",
        **extra,
    }


def period(start: str, **dimensions: float) -> dict[str, Any]:
    return {
        "start_date_time": start,
        "tariff_id": "T1",
        "dimensions": [{"type": k, "volume": v} for k, v in dimensions.items()],
    }


def test_the_spec_cdr_example_matches_with_its_step_size() -> None:
    cdr = parse_inbound(Cdr, example("cdr_example.json"))[0]
    verdict = recompute(cdr, TOLERANCE)
    # 1.973 h at 2.00 EUR/h with 300 s steps: billed as 2 h = 4.00 EUR, as reported.
    assert verdict.status == "OK" and verdict.computed_excl_vat == Decimal("4.0000")


def test_a_wrong_total_is_a_discrepancy() -> None:
    raw = example("cdr_example.json")
    raw["total_cost"] = {"excl_vat": 4.5, "incl_vat": 4.95}
    verdict = recompute(parse_inbound(Cdr, raw)[0], TOLERANCE)
    assert verdict.status == "DISCREPANCY" and verdict.difference == Decimal("-0.5")


def test_energy_step_size_in_wh() -> None:
    t = tariff([{"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1000}]}])
    # 10.2 kWh billed in whole kWh: 11 x 0.30 = 3.30
    assert (
        recompute(cdr_with(t, [period("2026-03-02T10:00:00Z", ENERGY=10.2)], 3.30), TOLERANCE).status == "OK"
    )


def test_time_of_day_restrictions_pick_the_element() -> None:
    t = tariff(
        [
            {
                "price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}],
                "restrictions": {"start_time": "08:00", "end_time": "20:00"},
            },
            {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}]},
        ]
    )
    periods = [period("2026-03-02T10:00:00Z", ENERGY=5), period("2026-03-02T21:00:00Z", ENERGY=5)]
    verdict = recompute(cdr_with(t, periods, 2.50), TOLERANCE)
    assert verdict.status == "OK", verdict


def test_duration_restrictions_and_flat_once() -> None:
    t = tariff(
        [
            {"price_components": [{"type": "FLAT", "price": 1.00, "step_size": 1}]},
            {
                "price_components": [{"type": "TIME", "price": 0.0, "step_size": 1}],
                "restrictions": {"max_duration": 1800},
            },
            {"price_components": [{"type": "TIME", "price": 2.00, "step_size": 1}]},
        ]
    )
    periods = [period("2026-03-02T09:00:00Z", TIME=0.5), period("2026-03-02T09:30:00Z", TIME=1.0)]
    # FLAT 1.00 once + first half hour free + one hour at 2.00
    assert recompute(cdr_with(t, periods, 3.00), TOLERANCE).status == "OK"


def test_min_and_max_price_bound_the_total() -> None:
    energy = [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}]
    cheap = tariff(energy, min_price={"excl_vat": 0.50})
    assert (
        recompute(cdr_with(cheap, [period("2026-03-02T10:00:00Z", ENERGY=1)], 0.50), TOLERANCE).status == "OK"
    )
    capped = tariff(energy, max_price={"excl_vat": 10.00})
    assert (
        recompute(cdr_with(capped, [period("2026-03-02T10:00:00Z", ENERGY=100)], 10.00), TOLERANCE).status
        == "OK"
    )


def test_what_cannot_be_checked_says_so() -> None:
    raw = example("cdr_example.json")
    raw.pop("tariffs")
    assert recompute(parse_inbound(Cdr, raw)[0], TOLERANCE).status == "UNCHECKABLE"
    t1, t2 = tariff([]), {**tariff([]), "id": "T2"}
    cdr = cdr_with(t1, [{**period("2026-03-02T10:00:00Z", ENERGY=1), "tariff_id": "T9"}], 1.0)
    cdr = cdr.model_copy(
        update={
            "tariffs": [
                cdr.tariffs[0],
                Cdr.model_validate({**example("cdr_example.json"), "tariffs": [t2]}).tariffs[0],
            ]
        }
    )  # type: ignore[index]
    verdict = recompute(cdr, TOLERANCE)
    assert verdict.status == "UNCHECKABLE" and "T9" in verdict.detail
