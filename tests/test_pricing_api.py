"""The pricing engine through the admin API over real HTTP in local mode: the estimate of a planned
session at a cached location (GET /admin/locations/{id}/estimate, `roam-emp locations estimate`)
and the cost check of any CDR JSON (POST /admin/cdrs/check), both in the location's local time.
The spec's worked examples (mod_tariffs.asciidoc, step_size and kWh tariffs) are the plans."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from roam_emp import cli, topology
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.locations import Location
from roam_emp.simulator import RoamSimulator
from roam_emp.store.locations import IncomingLocation, LocationCache

from .helpers import example
from .pricing_cases import sequence, spec_tariff

Local = tuple[LocalRuntime, RoamSimulator]
STEP, KWH, COMPLEX = "STEP", "KWH", "COMPLEX"


def _location(location_id: str, time_zone: str | None) -> dict[str, Any]:
    """The spec's location example, its connectors priced by the spec's example tariffs."""
    raw = copy.deepcopy(example("location_example.json"))
    raw["id"] = location_id
    if time_zone is None:
        raw.pop("time_zone", None)
    else:
        raw["time_zone"] = time_zone
    step = spec_tariff("tariff_14_step_size.json", STEP)
    by_connector = {
        ("3256", "1"): [step],
        ("3256", "2"): [spec_tariff("tariff_8_simple_025kwh.json", KWH)],
        ("3257", "1"): [spec_tariff("tariff_4_complex.json", COMPLEX), step],
    }
    for evse in raw["evses"]:
        for connector in evse["connectors"]:
            connector["tariffs"] = by_connector[(evse["uid"], connector["id"])]
    return raw


@pytest.fixture(scope="module")
def priced(local: Local) -> LocalRuntime:
    rt, _ = local
    raws = [_location("LOCBERLIN", "Europe/Berlin"), _location("LOCNOZONE", "Not/AZone")]
    LocationCache(rt.env[topology.LOCATIONS_TABLE.env_var]).upsert(
        [IncomingLocation(Location.model_validate(raw), raw) for raw in raws]
    )
    return rt


def estimate(rt: LocalRuntime, location_id: str, **query: str) -> tuple[int, dict[str, Any]]:
    answer = rt.admin("GET", f"/admin/locations/{location_id}/estimate?{urlencode(query)}")
    return answer.status_code, answer.json()


@pytest.mark.parametrize(
    ("start", "minutes", "parking", "total"),
    # Berlin is UTC+01:00 on 2 March: read in UTC, 19:40 would fall in the 17:00-20:00 element.
    [("16:55", "10", "2", 0.55), ("16:35", "35", "0", 1.30), ("19:40", "12", "20", 0.73)],
    ids=["switching element #1", "switching element #2", "free after 20:00"],
)
def test_the_step_size_examples_are_estimated_in_the_locations_local_time(
    priced: LocalRuntime, start: str, minutes: str, parking: str, total: float
) -> None:
    status, body = estimate(
        priced,
        "LOCBERLIN",
        evse_uid="3256",
        connector_id="1",
        kwh="5",
        minutes=minutes,
        parking_minutes=parking,
        start=f"2026-03-02T{start}:00+01:00",
    )
    assert status == 200 and body["status_code"] == 1000, body
    data = body["data"]
    assert data["status"] == "OK" and data["time_zone"] == "Europe/Berlin"
    (one,) = data["estimates"]
    assert one["tariff_id"] == STEP and one["tariff_last_updated"].startswith("2026-01-01T00:00:00")
    assert one["total_excl_vat"] == pytest.approx(total, abs=1e-9)
    assert one["connectors"] == [{"evse_uid": "3256", "connector_id": "1"}]
    lines = one["dimensions"]
    assert set(lines) >= {"energy", "time", "parking", "flat"}
    assert sum(line["cost_excl_vat"] for line in lines.values()) == pytest.approx(total, abs=1e-9)


def test_the_kwh_example_and_every_connector_when_none_is_named(priced: LocalRuntime) -> None:
    status, body = estimate(
        priced, "LOCBERLIN", evse_uid="3256", kwh="20", minutes="60", start="2026-03-02T10:00:00Z"
    )
    assert status == 200, body
    by_tariff = {e["tariff_id"]: e for e in body["data"]["estimates"]}
    assert set(by_tariff) == {STEP, KWH}
    assert by_tariff[KWH]["total_excl_vat"] == pytest.approx(5.00)
    assert by_tariff[KWH]["dimensions"]["energy"]["cost_excl_vat"] == pytest.approx(5.00)
    everywhere = estimate(priced, "LOCBERLIN", kwh="20", minutes="60", start="2026-03-02T10:00:00Z")[1]
    step = next(e for e in everywhere["data"]["estimates"] if e["tariff_id"] == STEP)
    assert step["connectors"] == [
        {"evse_uid": "3256", "connector_id": "1"},
        {"evse_uid": "3257", "connector_id": "1"},
    ]


def test_what_cannot_be_priced_from_the_plan_is_unpriced_with_reasons(priced: LocalRuntime) -> None:
    # The complex example restricts by current: a plan of kWh and minutes cannot decide it.
    status, body = estimate(
        priced, "LOCBERLIN", evse_uid="3257", kwh="10", minutes="60", start="2026-03-02T08:30:00Z"
    )
    assert status == 200, body
    data = body["data"]
    assert data["status"] == "UNCHECKABLE"
    complex_ = next(e for e in data["estimates"] if e["tariff_id"] == COMPLEX)
    assert complex_["status"] == "UNCHECKABLE" and complex_["total_excl_vat"] is None
    assert any("CURRENT" in reason for reason in complex_["reasons"])
    # With a time zone we cannot read, a time-of-day tariff has no price (never a UTC guess).
    nozone = estimate(
        priced,
        "LOCNOZONE",
        evse_uid="3256",
        connector_id="1",
        kwh="5",
        minutes="10",
        start="2026-03-02T18:40:00Z",
    )[1]["data"]
    assert nozone["status"] == "UNCHECKABLE" and nozone["estimates"][0]["time_zone"] is None
    assert "local time" in nozone["estimates"][0]["reasons"][0]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"minutes": "60"}, "kwh"),
        ({"kwh": "ten", "minutes": "60"}, "kwh"),
        ({"kwh": "-1", "minutes": "60"}, "kwh"),
        ({"kwh": "10"}, "minutes"),
        ({"kwh": "10", "minutes": "0"}, "minutes"),
        ({"kwh": "10", "minutes": "NaN"}, "minutes"),
        ({"kwh": "10", "minutes": "60", "parking_minutes": "x"}, "parking_minutes"),
        ({"kwh": "10", "minutes": "60", "start": "tomorrow"}, "start"),
    ],
)
def test_bad_plans_are_400_naming_the_parameter(
    priced: LocalRuntime, query: dict[str, str], parameter: str
) -> None:
    status, body = estimate(priced, "LOCBERLIN", **query)
    assert (status, body["status_code"]) == (400, 2001)
    assert body["status_message"].startswith(f"{parameter}:")


def test_unknown_location_evse_or_connector_is_404(priced: LocalRuntime) -> None:
    plan = {"kwh": "10", "minutes": "60"}
    for location_id, where in (
        ("NOWHERE", {}),
        ("LOCBERLIN", {"evse_uid": "9999"}),
        ("LOCBERLIN", {"evse_uid": "3257", "connector_id": "2"}),
    ):
        status, body = estimate(priced, location_id, **plan, **where)
        assert (status, body["status_code"]) == (404, 2003), (location_id, where, body)


def test_the_cli_prints_the_estimate(priced: LocalRuntime, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        [
            "locations",
            "estimate",
            "--api",
            priced.url,
            "--location-id",
            "LOCBERLIN",
            "--evse-uid",
            "3256",
            "--connector-id",
            "2",
            "--kwh",
            "20",
            "--minutes",
            "60",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["estimates"][0]["total_excl_vat"] == pytest.approx(5.00)
    assert cli.main(["locations", "estimate", "--api", priced.url, "--location-id", "NOWHERE",
                     "--kwh", "1", "--minutes", "1"]) == 1  # fmt: skip


def _cdr_json(location_id: str, total: float) -> dict[str, Any]:
    """The spec's "switching to Free-of-Charge Tariff Element" step_size example as a CDR at
    `location_id`: 19:40 Berlin, 12 min charging, 20 min parking (8 before 20:00) -> 0.73."""
    from .pricing_cases import local

    raw = copy.deepcopy(example("cdr_example.json"))
    for name in ("total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost"):
        raw.pop(name, None)
    periods = sequence(
        local("2026-03-02 19:40"),
        (12, {"TIME": True}),
        (8, {"PARKING_TIME": True}),
        (12, {"PARKING_TIME": True}),
    )
    raw.update(
        start_date_time=periods[0]["start_date_time"],
        end_date_time="2026-03-02T19:12:00Z",
        tariffs=[spec_tariff("tariff_14_step_size.json")],
        charging_periods=periods,
        total_cost={"excl_vat": total},
        total_time=32 / 60,
        total_parking_time=20 / 60,
    )
    raw["cdr_location"]["id"] = location_id
    return raw


def check(rt: LocalRuntime, body: Any) -> tuple[int, dict[str, Any]]:
    answer = rt.admin("POST", "/admin/cdrs/check", body)
    return answer.status_code, answer.json()


def test_the_cdr_check_uses_the_cached_locations_time_zone(priced: LocalRuntime) -> None:
    status, body = check(priced, {"cdr": _cdr_json("LOCBERLIN", 0.73)})
    assert status == 200, body
    result = body["data"]
    assert (result["verdict"], result["time_zone"]) == ("OK", "Europe/Berlin")
    assert result["computed_excl_vat"] == pytest.approx(0.73)
    assert {"energy", "time", "parking"} <= set(result["dimensions"]) and result["periods"]
    # The typical mispricing (restrictions read in UTC: 18:40 is in the 2.40/h element) differs.
    wrong = check(priced, {"cdr": _cdr_json("LOCBERLIN", 1.21)})[1]["data"]
    assert wrong["verdict"] == "DISCREPANCY"


def test_the_cdr_check_without_a_known_time_zone(priced: LocalRuntime) -> None:
    unknown = check(priced, {"cdr": _cdr_json("NOT-CACHED", 0.73)})[1]["data"]
    assert unknown["verdict"] == "UNCHECKABLE" and unknown["computed_excl_vat"] is None
    assert check(priced, {"cdr": _cdr_json("LOCNOZONE", 0.73)})[1]["data"]["verdict"] == "UNCHECKABLE"
    given = check(priced, {"cdr": _cdr_json("NOT-CACHED", 0.73), "time_zone": "Europe/Berlin"})[1]["data"]
    assert (given["verdict"], given["time_zone"]) == ("OK", "Europe/Berlin")


def test_a_cdr_that_is_not_a_cdr_is_400(priced: LocalRuntime) -> None:
    broken = _cdr_json("LOCBERLIN", 0.73)
    del broken["charging_periods"]
    status, body = check(priced, {"cdr": broken})
    assert (status, body["status_code"]) == (400, 2001) and "charging_periods" in body["status_message"]
    status, body = check(priced, {"cdr": _cdr_json("LOCBERLIN", 0.73), "tolerance": "lots"})
    assert (status, body["status_code"]) == (400, 2001) and "tolerance" in body["status_message"]


def test_the_check_command_takes_the_cached_time_zone_from_a_stack(
    priced: LocalRuntime, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cdr.json"
    path.write_text(json.dumps(_cdr_json("LOCBERLIN", 0.73)))
    assert cli.main(["cdrs", "check", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "UNCHECKABLE"  # offline, no zone
    assert cli.main(["cdrs", "check", str(path), "--json", "--api", priced.url]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["verdict"], result["time_zone"]) == ("OK", "Europe/Berlin")
