"""Session ordering and PATCH merging at the edges, against moto in-process: updates within one
second (``…:00Z`` vs ``…:00.500Z``), resent PATCHes, malformed PATCH bodies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from roam_emp import config
from roam_emp.domain.sessions import SessionService
from roam_emp.ocpi.status import OcpiError, StatusCode
from roam_emp.store.stamps import epoch_us, sortable

from .helpers import example

CC, PID = "BE", "BEC"


@pytest.fixture
def sessions(aws_mock: dict[str, str]) -> SessionService:
    return SessionService.from_settings(config.settings())


def _session(session_id: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(example("session_example_1_simple_start.json"))
    body.update(id=session_id, country_code=CC, party_id=PID, **changes)
    return body


def test_stamps_order_by_time_not_by_string() -> None:
    whole, half = "2026-06-01T12:00:00Z", "2026-06-01T12:00:00.500Z"
    assert whole > half  # the trap: '.' < 'Z'
    assert epoch_us(whole) < epoch_us(half)
    assert sortable(whole) < sortable(half)
    assert epoch_us("2026-06-01T14:00:00+02:00") == epoch_us(whole)
    assert len(sortable(whole)) == len(sortable(half)) == len(sortable("2026-06-01T12:00:00.123456789Z"))


@pytest.mark.parametrize("first,second", [("00Z", "00.500Z"), ("00.500Z", "00Z")])
def test_two_updates_in_the_same_second_in_both_orders(
    sessions: SessionService, first: str, second: str
) -> None:
    stamps = {s: f"2026-06-01T12:00:{s}" for s in (first, second)}
    kwh = {"00Z": 1, "00.500Z": 2}  # the later update carries more energy
    sid = f"SAME{kwh[first]}"
    sessions.put(CC, PID, sid, _session(sid, kwh=kwh[first], last_updated=stamps[first]), None)
    result = sessions.put(CC, PID, sid, _session(sid, kwh=kwh[second], last_updated=stamps[second]), None)
    assert result.applied is (second == "00.500Z")
    assert sessions.get(CC, PID, sid)["kwh"] == 2
    patch = sessions.patch(CC, PID, sid, {"kwh": 0.5, "last_updated": "2026-06-01T12:00:00.250Z"}, None)
    assert not patch.applied and sessions.get(CC, PID, sid)["kwh"] == 2


def test_recent_sessions_of_a_token_newest_first_within_one_second(sessions: SessionService) -> None:
    token = _session("x")["cdr_token"]
    sessions.put(CC, PID, "EARLY", _session("EARLY", last_updated="2026-06-01T12:00:00Z"), None)
    sessions.put(CC, PID, "LATE", _session("LATE", last_updated="2026-06-01T12:00:00.500Z"), None)
    recent = sessions.store.for_token(token["type"], token["uid"])
    assert [s["session_id"] for s in recent] == ["LATE", "EARLY"]
    assert recent[0]["last_updated"] == "2026-06-01T12:00:00.500Z"  # shown in OCPI form


def _period(start: str, kwh: float) -> dict[str, Any]:
    return {"start_date_time": start, "dimensions": [{"type": "ENERGY", "volume": kwh}]}


def test_a_resent_patch_does_not_duplicate_charging_periods(sessions: SessionService) -> None:
    sessions.put(CC, PID, "RESENT", _session("RESENT", last_updated="2026-06-01T12:00:00Z"), None)
    patch = {
        "kwh": 3,
        "charging_periods": [_period("2026-06-01T12:00:00Z", 1.5), _period("2026-06-01T12:05:00Z", 1.5)],
        "last_updated": "2026-06-01T12:10:00Z",
    }
    sessions.patch(CC, PID, "RESENT", copy.deepcopy(patch), None)
    once = sessions.get(CC, PID, "RESENT")
    again = sessions.patch(CC, PID, "RESENT", copy.deepcopy(patch), None)
    assert again.applied
    assert sessions.get(CC, PID, "RESENT") == once
    assert len(once["charging_periods"]) == 2


def test_charging_periods_from_patches_in_either_order_give_one_session(sessions: SessionService) -> None:
    early = {"charging_periods": [_period("2026-06-01T12:00:00Z", 1)], "last_updated": "2026-06-01T12:10:00Z"}
    # the same start in another notation: one period, not two
    late = {
        "charging_periods": [_period("2026-06-01T14:00:00+02:00", 1), _period("2026-06-01T12:05:00.5Z", 2)],
        "last_updated": "2026-06-01T12:10:00Z",
    }
    results = []
    for sid, patches in (("ORDER1", (early, late)), ("ORDER2", (late, early))):
        sessions.put(CC, PID, sid, _session(sid, last_updated="2026-06-01T12:00:00Z"), None)
        for patch in patches:
            sessions.patch(CC, PID, sid, copy.deepcopy(patch), None)
        results.append([p["start_date_time"][11:] for p in sessions.get(CC, PID, sid)["charging_periods"]])
    assert len(results[0]) == 2 and results[0][1] == "12:05:00.5Z"
    assert [len(r) for r in results] == [2, 2] and results[0][1] == results[1][1]


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "last_updated"),
        ({"charging_periods": 5, "last_updated": "2026-06-01T12:10:00Z"}, "charging_periods"),
        ({"charging_periods": [5], "last_updated": "2026-06-01T12:10:00Z"}, "charging_periods"),
        (
            {"charging_periods": [{"dimensions": []}], "last_updated": "2026-06-01T12:10:00Z"},
            "start_date_time",
        ),
        (
            {
                "charging_periods": [{"start_date_time": "soon", "dimensions": []}],
                "last_updated": "2026-06-01T12:10:00Z",
            },
            "start_date_time",
        ),
    ],
)
def test_malformed_patch_is_2001_and_changes_nothing(
    sessions: SessionService, body: dict[str, Any], field: str
) -> None:
    sessions.put(CC, PID, "BAD", _session("BAD", last_updated="2026-06-01T12:00:00Z"), None)
    before = sessions.get(CC, PID, "BAD")
    with pytest.raises(OcpiError) as raised:
        sessions.patch(CC, PID, "BAD", body, None)
    assert (raised.value.status, raised.value.http_status) == (StatusCode.INVALID_OR_MISSING_PARAMETERS, 400)
    assert field in raised.value.message
    assert sessions.get(CC, PID, "BAD") == before


def test_the_simulators_date_range_compares_times_not_strings() -> None:
    from roam_emp.simulator.network import Network

    network = Network(size=2)
    first, second = sorted(network.locations)
    for location_id, stamp in ((first, "2026-06-01T12:00:00Z"), (second, "2026-06-01T12:00:00.500Z")):
        location = network.locations[location_id]
        location["last_updated"] = stamp
        for evse in location.get("evses", []):
            for connector in evse.get("connectors", []):
                for tariff in connector.get("tariffs", []):
                    tariff["last_updated"] = "2026-01-01T00:00:00Z"

    def ids(date_from: str | None, date_to: str | None) -> list[str]:
        items, _, _ = network.page(after=None, date_from=date_from, date_to=date_to, limit=10)
        return [i["id"] for i in items]

    assert ids("2026-06-01T12:00:00.250Z", None) == [second]
    assert ids(None, "2026-06-01T12:00:00.250Z") == [first]
