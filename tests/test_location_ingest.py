"""Location ingest change detection (issue 11): an unchanged location is neither validated nor
written; a status-only change is one UpdateItem that touches no attribute of a secondary index;
any other change rewrites the item. moto in-process, DynamoDB calls seen through botocore's events."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.config import settings
from roam_emp.domain import location_pull
from roam_emp.domain.location_pull import LocationPuller
from roam_emp.ocpi.leniency import DeviationLog
from roam_emp.store import aws

from .helpers import example

WRITES = {"BatchWriteItem", "PutItem", "UpdateItem", "TransactWriteItems", "DeleteItem"}
# Every attribute an index of the locations table keys on or projects.
INDEXED = {
    attribute
    for index in topology.LOCATIONS_TABLE.indexes
    for attribute in (index.partition_key, index.sort_key, *index.include)
    if attribute
}


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._lock:  # status updates run on a few threads
            self.seen.append((model.name, copy.deepcopy(params)))

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, params) for name, params in self.seen if name in WRITES]


@pytest.fixture
def ingest(
    aws_mock: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[LocationPuller, Calls, list[str]]:
    puller = LocationPuller.from_settings(settings())
    calls = Calls()
    aws.dynamodb().meta.events.register("provide-client-params.dynamodb.*", calls)
    validated: list[str] = []
    real = location_pull.parse_inbound

    def counting(model: Any, data: Any) -> Any:
        validated.append(model.__name__)
        return real(model, data)

    monkeypatch.setattr(location_pull, "parse_inbound", counting)
    return puller, calls, validated


def _page() -> list[dict[str, Any]]:
    base = example("location_example.json")
    return [{**copy.deepcopy(base), "id": f"LOC{i}"} for i in range(3)]


def _statuses_changed(location: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(location)
    changed["evses"][0]["status"] = "CHARGING"
    changed["evses"][0]["last_updated"] = "2030-01-01T10:00:00Z"
    changed["last_updated"] = "2030-01-01T10:00:00Z"
    return changed


def test_an_unchanged_page_is_neither_validated_nor_written(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, calls, validated = ingest
    first = puller._process(_page(), DeviationLog())
    assert len(first.upsert.created) == 3 and validated == ["Location"] * 3
    calls.seen.clear()
    validated.clear()
    again = puller._process(_page(), DeviationLog())
    assert again.upsert.unchanged == 3 and again.ids == ["LOC0", "LOC1", "LOC2"]
    assert validated == []
    assert calls.writes() == []
    assert [name for name, _ in calls.seen] == ["BatchGetItem"]  # the stored hashes, once


def test_a_status_only_change_is_one_update_touching_no_index_attribute(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, calls, validated = ingest
    page = _page()
    puller._process(page, DeviationLog())
    calls.seen.clear()
    validated.clear()
    page[1] = _statuses_changed(page[1])
    result = puller._process(page, DeviationLog())
    assert (len(result.upsert.updated), result.upsert.status_only, result.upsert.unchanged) == (1, 1, 2)
    assert validated == ["_StatusChange"]  # the statuses and stamps, not the whole location
    writes = calls.writes()
    assert [name for name, _ in writes] == ["UpdateItem"]
    update = writes[0][1]
    touched = set(update["ExpressionAttributeNames"].values()) | {
        word.split(" ")[0].strip() for word in update["UpdateExpression"].removeprefix("SET ").split(",")
    }
    assert touched.isdisjoint(INDEXED), touched & INDEXED
    assert update["Key"]["pk"]["S"] == "LOC#LOC1"
    # what is stored and what the admin API lists show the new status
    stored = puller.cache.get("LOC1")
    assert stored is not None and stored["evses"][0]["status"] == "CHARGING"
    summaries, _ = puller.cache.query(country="BEL")
    listed = {s["id"]: s for s in summaries}
    assert listed["LOC1"]["evses"] == {"CHARGING": 1, "RESERVED": 1}
    assert listed["LOC1"]["last_updated"] == "2030-01-01T10:00:00Z"
    assert listed["LOC0"]["evses"] == {"AVAILABLE": 1, "RESERVED": 1}


def test_any_other_change_validates_and_rewrites_the_item(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, calls, validated = ingest
    page = _page()
    puller._process(page, DeviationLog())
    calls.seen.clear()
    validated.clear()
    page[2] = {**_statuses_changed(page[2]), "name": "Renamed"}
    result = puller._process(page, DeviationLog())
    assert (len(result.upsert.updated), result.upsert.status_only) == (1, 0)
    assert validated == ["Location"]
    writes = calls.writes()
    assert [name for name, _ in writes] == ["BatchWriteItem"]
    (put,) = writes[0][1]["RequestItems"][topology_table(puller)]
    item = put["PutRequest"]["Item"]
    assert set(item) >= INDEXED  # keys and projected summary written again
    summaries, _ = puller.cache.query(country="BEL")
    assert {s["id"]: s["name"] for s in summaries}["LOC2"] == "Renamed"


def test_a_status_change_that_does_not_validate_takes_the_full_path(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    """Whatever the whole Location's leniency makes of it (here: the EVSE with an unreadable
    stamp left out as a malformed optional part), not a half-checked status update."""
    puller, calls, validated = ingest
    page = _page()
    puller._process(page, DeviationLog())
    calls.seen.clear()
    validated.clear()
    broken = _statuses_changed(page[0])
    broken["evses"][0]["last_updated"] = "yesterday"
    deviations = DeviationLog()
    result = puller._process([broken], deviations)
    assert validated == ["_StatusChange", "Location"]
    assert (len(result.upsert.updated), result.upsert.status_only) == (1, 0)
    assert [name for name, _ in calls.writes()] == ["BatchWriteItem"]
    assert "malformed_optional" in deviations.by_kind()


def test_an_unknown_status_is_kept_and_reported_on_the_status_path(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, _, _ = ingest
    page = _page()
    puller._process(page, DeviationLog())
    changed = _statuses_changed(page[0])
    changed["evses"][0]["status"] = "ON_FIRE"
    deviations = DeviationLog()
    result = puller._process([changed], deviations)
    assert result.upsert.status_only == 1
    assert deviations.by_kind() == {"unknown_enum": 1}
    stored = puller.cache.get("LOC0")
    assert stored is not None and stored["evses"][0]["status"] == "ON_FIRE"


def topology_table(puller: LocationPuller) -> str:
    return puller.cache.table
