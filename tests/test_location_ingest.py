"""Location ingest change detection (issue 11): an unchanged location is neither validated nor
written; a status-only change is one PutItem of the location's small status item (the location
item and the indexes untouched); any other change rewrites the location item. moto in-process,
DynamoDB calls seen through botocore's events."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.calls import item_bytes
from roam_emp import topology
from roam_emp.config import settings
from roam_emp.domain import location_pull
from roam_emp.domain.location_pull import LocationPuller
from roam_emp.ocpi.leniency import DeviationLog
from roam_emp.simulator.network import Network
from roam_emp.store import aws
from roam_emp.store.locations import STATUS_SK, canonical_hash, finite_numbers, location_key, status_key

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

    def counting(real: Any) -> Any:
        def check(model: Any, data: Any) -> Any:
            validated.append(model.__name__)
            return real(model, data)

        return check

    # a status-only change's statuses (parse_inbound), a whole location (check_inbound)
    for name in ("parse_inbound", "check_inbound"):
        monkeypatch.setattr(location_pull, name, counting(getattr(location_pull, name)))
    return puller, calls, validated


def _page() -> list[dict[str, Any]]:
    base = example("location_example.json")
    return [{**copy.deepcopy(base), "id": f"LOC{i}"} for i in range(3)]


def _statuses_changed(location: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(location)
    changed["evses"][0]["status"] = "CHARGING"
    changed["evses"][0]["last_updated"] = "2025-01-01T10:00:00Z"
    changed["last_updated"] = "2025-01-01T10:00:00Z"
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


def _item(puller: LocationPuller, key: dict[str, Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = aws.dynamodb().get_item(TableName=puller.cache.table, Key=key).get("Item")
    return found


def _statuses(puller: LocationPuller, location_id: str) -> list[tuple[str, str]]:
    stored = puller.cache.get(location_id)
    assert stored is not None
    return [(e["status"], e["last_updated"]) for e in stored["evses"]]


def test_a_status_only_change_writes_one_small_status_item_and_not_the_location_item(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, calls, validated = ingest
    page = _page()
    puller._process(page, DeviationLog())
    location_item = _item(puller, location_key("LOC1"))
    calls.seen.clear()
    validated.clear()
    page[1] = _statuses_changed(page[1])
    result = puller._process(page, DeviationLog())
    assert (len(result.upsert.updated), result.upsert.status_only, result.upsert.unchanged) == (1, 1, 2)
    assert validated == ["_StatusChange"]  # the statuses and stamps, not the whole location
    writes = calls.writes()
    assert [name for name, _ in writes] == ["PutItem"]
    put = writes[0][1]
    assert put["Item"]["pk"] == {"S": "LOC#LOC1"} and put["Item"]["sk"] == {"S": STATUS_SK}
    # no index keys on it (DynamoDB writes no index entry), and one write unit
    assert not {i.partition_key for i in topology.LOCATIONS_TABLE.indexes} & set(put["Item"])
    assert item_bytes(put["Item"]) < 1024
    assert _item(puller, location_key("LOC1")) == location_item  # the location item untouched
    status = _item(puller, status_key("LOC1"))
    assert status is not None
    assert status["base_hash"] == location_item["content_hash"]  # type: ignore[index]
    assert status["content_hash"]["S"] == canonical_hash(page[1])
    assert json.loads(status["evses"]["S"]) == [
        {"uid": e["uid"], "status": e["status"], "last_updated": e["last_updated"]} for e in page[1]["evses"]
    ]
    assert json.loads(status["evse_statuses"]["S"]) == {"CHARGING": 1, "RESERVED": 1}
    # what is stored and what the admin API lists show the new status
    assert puller.cache.get("LOC1") == page[1]
    summaries, _ = puller.cache.query(country="BEL")
    listed = {s["id"]: s for s in summaries}
    assert listed["LOC1"]["evses"] == {"CHARGING": 1, "RESERVED": 1}
    assert listed["LOC1"]["last_updated"] == "2025-01-01T10:00:00Z"
    assert listed["LOC0"]["evses"] == {"AVAILABLE": 1, "RESERVED": 1}
    # and the next pull of the same page finds nothing changed
    calls.seen.clear()
    again = puller._process(page, DeviationLog())
    assert again.upsert.unchanged == 3 and calls.writes() == []


def test_a_later_full_change_voids_the_status_item_without_writing_it(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, calls, _ = ingest
    page = _page()
    puller._process(page, DeviationLog())
    puller._process([_statuses_changed(page[0])], DeviationLog())
    renamed = {**copy.deepcopy(page[0]), "name": "Renamed", "last_updated": "2030-02-01T00:00:00Z"}
    calls.seen.clear()
    result = puller._process([renamed], DeviationLog())
    assert (len(result.upsert.updated), result.upsert.status_only) == (1, 0)
    assert [name for name, _ in calls.writes()] == ["BatchWriteItem"]  # the location item only
    assert _item(puller, status_key("LOC0")) is not None  # still there, and void:
    assert puller.cache.get("LOC0") == renamed
    listed = {s["id"]: s for s in puller.cache.query(country="BEL")[0]}
    assert listed["LOC0"]["evses"] == {"AVAILABLE": 1, "RESERVED": 1}
    assert listed["LOC0"]["last_updated"] == "2030-02-01T00:00:00Z"
    stored = puller.cache.stored_hashes(["LOC0"])["LOC0"]
    assert stored.content_hash == stored.base_hash == canonical_hash(renamed)


def test_shape_a_status_change_shape_b_then_a_again_reads_right_each_time(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    """A -> A with new statuses -> B -> A exactly as first stored: the location item's content hash
    is the one the status item was written on again, so that status item must not apply."""
    puller, calls, _ = ingest
    shape_a = _page()[0]
    statuses = _statuses_changed(shape_a)
    shape_b = {**copy.deepcopy(shape_a), "name": "Shape B", "last_updated": "2030-02-01T00:00:00Z"}
    for step, doc in enumerate([shape_a, statuses, shape_b, shape_a]):
        calls.seen.clear()
        puller._process([copy.deepcopy(doc)], DeviationLog())
        assert puller.cache.get("LOC0") == doc, step
        listed = {s["id"]: s for s in puller.cache.query(country="BEL")[0]}
        assert listed["LOC0"]["last_updated"] == doc["last_updated"], step
        assert puller.cache.stored_hashes(["LOC0"])["LOC0"].content_hash == canonical_hash(doc), step
    # the last step deleted the status item in the location item's own batch
    assert [name for name, _ in calls.writes()] == ["BatchWriteItem"]
    assert _item(puller, status_key("LOC0")) is None


def _at(location: dict[str, Any], stamp: str, status: str) -> dict[str, Any]:
    changed = copy.deepcopy(location)
    changed["evses"][0]["status"] = status
    changed["evses"][0]["last_updated"] = changed["last_updated"] = stamp
    return changed


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("2025-01-01T10:00:00.200Z", "2025-01-01T10:00:00.700Z"),
        # as strings the later one sorts first ('.' < 'Z'): compared as times
        ("2025-01-01T10:00:00Z", "2025-01-01T10:00:00.500Z"),
        ("2025-01-01T11:00:00+01:00", "2025-01-01T10:00:00.001Z"),
    ],
)
def test_two_status_changes_in_one_second_out_of_order_the_later_stays(
    ingest: tuple[LocationPuller, Calls, list[str]], earlier: str, later: str
) -> None:
    puller, _, _ = ingest
    location = _page()[0]
    puller._process([location], DeviationLog())
    first = puller._process([_at(location, later, "CHARGING")], DeviationLog())
    assert (first.upsert.status_only, first.upsert.status_superseded) == (1, 0)
    second = puller._process([_at(location, earlier, "BLOCKED")], DeviationLog())  # no failure
    assert (second.upsert.status_only, second.upsert.status_superseded) == (1, 1)
    assert _statuses(puller, "LOC0")[0] == ("CHARGING", later)
    # in order, both are written and the later one stays
    other = _page()[1]
    puller._process([other], DeviationLog())
    for stamp, status in ((earlier, "BLOCKED"), (later, "CHARGING")):
        result = puller._process([_at(other, stamp, status)], DeviationLog())
        assert (result.upsert.status_only, result.upsert.status_superseded) == (1, 0)
    assert _statuses(puller, "LOC1")[0] == ("CHARGING", later)


def test_a_status_item_on_another_location_item_is_ignored_by_every_reader(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, _, _ = ingest
    page = _page()
    puller._process(page, DeviationLog())
    changed = _statuses_changed(page[2])
    stale = {
        **status_key("LOC2"),
        "location_id": {"S": "LOC2"},
        "base_hash": {"S": "0" * 32},  # not the location item's content hash
        "shape_hash": {"S": "1" * 32},
        "content_hash": {"S": canonical_hash(changed)},
        "last_updated": {"S": "2025-01-01T10:00:00Z"},
        "last_updated_ms": {"N": "1893492000000"},
        "evse_statuses": {"S": '{"CHARGING":2}'},
        "evses": {"S": json.dumps([{"uid": e["uid"], "status": "CHARGING"} for e in page[2]["evses"]])},
    }
    aws.dynamodb().put_item(TableName=puller.cache.table, Item=stale)
    assert puller.cache.get("LOC2") == page[2]
    assert puller.cache.get("LOC2", with_tariffs=False)["last_updated"] == page[2]["last_updated"]  # type: ignore[index]
    listed = {s["id"]: s for s in puller.cache.query(country="BEL")[0]}
    assert listed["LOC2"]["evses"] == {"AVAILABLE": 1, "RESERVED": 1}
    assert puller.cache.stored_hashes(["LOC2"])["LOC2"].content_hash == canonical_hash(page[2])
    # so the same change, pulled, is a change again, and written on the current location item
    result = puller._process([changed], DeviationLog())
    assert (result.upsert.status_only, result.upsert.status_superseded) == (1, 0)
    assert puller.cache.get("LOC2") == changed


def test_remove_deletes_the_location_item_and_its_status_item(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, _, _ = ingest
    page = _page()
    puller._process(page, DeviationLog())
    puller._process([_statuses_changed(page[0])], DeviationLog())
    puller.cache.remove(["loc0", "LOC1"])  # any spelling (CiString)
    for key in (location_key("LOC0"), status_key("LOC0"), location_key("LOC1")):
        assert _item(puller, key) is None, key
    assert puller.cache.get("LOC0") is None and puller.cache.all_ids() == {"LOC2"}


def test_the_status_item_is_under_one_write_unit_for_the_simulators_locations(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    puller, calls, _ = ingest
    network = Network(size=60)
    puller._process(list(network.locations.values()), DeviationLog())
    network.mutate(status_changes=60)
    calls.seen.clear()
    result = puller._process(list(network.locations.values()), DeviationLog())
    assert result.upsert.status_only == 60
    sizes = [item_bytes(params["Item"]) for name, params in calls.writes() if name == "PutItem"]
    assert len(sizes) == 60 and max(sizes) < 1024, max(sizes)
    for location_id, location in list(network.locations.items())[:5]:
        assert puller.cache.get(location_id) == location


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


def test_nan_where_null_was_is_a_change_when_the_page_held_nan(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    """orjson writes NaN as null: on a page the hub client flagged (HubResponse.non_finite_numbers)
    the change hashes tell them apart; on the others a null is a null, made by orjson alone."""
    puller, _, _ = ingest
    page = _page()
    page[0]["x_rating"] = None  # an extra field (kept, reported): any JSON value may come there
    with finite_numbers():
        puller._process(page, DeviationLog())
        assert puller._process(page, DeviationLog()).upsert.unchanged == 3
    page[0]["x_rating"] = float("nan")
    with finite_numbers(False):
        result = puller._process(page, DeviationLog())
    assert result.upsert.unchanged == 2 and [i.id for i in result.upsert.updated] == ["LOC0"]


def test_a_status_stamped_in_the_future_does_not_freeze_the_location(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    """A CPO's clock bug (a year ahead) must not make every later, true change look older."""
    puller, _, _ = ingest
    page = _page()
    puller._process(page, DeviationLog())
    now = datetime.now(UTC).replace(microsecond=0)
    future, true_stamp = now + timedelta(days=365), now - timedelta(minutes=1)
    page[0] = _at(page[0], future.isoformat().replace("+00:00", "Z"), "CHARGING")
    assert puller._process(page, DeviationLog()).upsert.status_only == 1
    page[0] = _at(page[0], true_stamp.isoformat().replace("+00:00", "Z"), "AVAILABLE")
    result = puller._process(page, DeviationLog())
    assert (result.upsert.status_only, result.upsert.status_superseded) == (1, 0)
    assert _statuses(puller, "LOC0")[0][0] == "AVAILABLE"
    # Sane stamps are still ordered: an older change arriving second is refused.
    older = (true_stamp - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    page[0] = _at(page[0], older, "CHARGING")
    assert puller._process(page, DeviationLog()).upsert.status_superseded == 1
    assert _statuses(puller, "LOC0")[0][0] == "AVAILABLE"


def test_a_location_with_a_null_evse_is_read_back(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    """Kept as received (a malformed optional part): the readers pass over what is no object."""
    puller, _, _ = ingest
    page = _page()
    page[0]["evses"].append(None)
    page[0]["evses"][0]["connectors"].append(None)
    puller._process(page, DeviationLog())
    stored = puller.cache.get("LOC0")
    assert stored is not None and stored["evses"][-1] is None
    assert puller.cache.get("LOC0", with_tariffs=False) is not None


def test_malformed_inlined_tariffs_stop_neither_the_page_nor_the_readers(
    ingest: tuple[LocationPuller, Calls, list[str]],
) -> None:
    """``tariffs`` that is no list, a tariff without an id or with a number for one: left out of
    the validated location (deviations), and no tariff item is taken from them; the page goes on
    and the location reads back (the tariff split used to fail on them, failing the whole page)."""
    puller, _, _ = ingest
    page = _page()
    page[0]["evses"][0]["connectors"][0]["tariffs"] = 5
    page[1]["evses"][0]["connectors"][0]["tariffs"] = [{"currency": "EUR"}, {"id": 7}]
    deviations = DeviationLog()
    result = puller._process(page, deviations)
    assert result.rejected == 0 and len(result.upsert.created) == 3
    assert result.upsert.new_tariffs == [] and deviations.by_kind()["malformed_optional"] == 2
    assert puller.cache.get("LOC0") == page[0]
    stored = puller.cache.get("LOC1")
    assert stored is not None and stored["evses"][0]["connectors"][0]["tariffs"] == []
