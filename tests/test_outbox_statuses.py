"""Status-only location changes on the bus (issue 11): the status items' stream records of one
relay invocation ride in as few ``LocationStatusesChanged`` events as fit under EventBridge's
entry limit, instead of an event per change, without giving up what the outbox promises: a
record counts as relayed only once its change is on the bus, a failure reports the earliest record
that is not, and a later change of a location never reaches the bus before an earlier one."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roam_emp import topology
from roam_emp.domain import outbox
from roam_emp.domain.event_batches import PUT_EVENTS_MAX_BYTES, Outgoing, statuses_event
from roam_emp.domain.outbox import OutboxRelay
from roam_emp.store.bus import entry_bytes

ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/{table}/stream/2026-11-30T00:00:00.000"
SCHEMA = Path(__file__).resolve().parents[1] / "events" / "schemas" / "LocationStatusesChanged.v1.json"
Event = tuple[str, dict[str, Any]]


def _record(
    table: str, seq: int, keys: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any] | None
) -> dict[str, Any]:
    """A DynamoDB Streams record as Lambda hands it over (NEW_AND_OLD_IMAGES)."""
    body: dict[str, Any] = {"Keys": keys, "SequenceNumber": str(seq), "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        body["NewImage"] = {**keys, **new}
    if old is not None:
        body["OldImage"] = {**keys, **old}
    name = "REMOVE" if new is None else "MODIFY" if old is not None else "INSERT"
    return {"eventName": name, "eventSourceARN": ARN.format(table=table), "dynamodb": body}


def status_item(location_id: str, content_hash: str, evses: list[tuple[str, str]]) -> dict[str, Any]:
    """The status item's attributes (store/locations.py writes them on a status-only change)."""
    counts: dict[str, int] = {}
    for _, status in evses:
        if status != "REMOVED":
            counts[status] = counts.get(status, 0) + 1
    return {
        "location_id": {"S": location_id},
        "base_hash": {"S": "b" * 32},
        "shape_hash": {"S": "5" * 32},
        "content_hash": {"S": content_hash},
        "last_updated": {"S": "2026-11-30T06:00:00Z"},
        "last_updated_ms": {"N": "1796018400000"},
        "evse_statuses": {"S": json.dumps(counts)},
        "evses": {
            "S": json.dumps(
                [
                    {"uid": uid, "status": status, "last_updated": "2026-11-30T06:00:00Z"}
                    for uid, status in evses
                ]
            )
        },
    }


def status_record(
    seq: int,
    location_id: str,
    content_hash: str,
    evses: list[tuple[str, str]] | None = None,
    old_hash: str | None = None,
    removed: bool = False,
) -> dict[str, Any]:
    keys = {"pk": {"S": f"LOC#{location_id.upper()}"}, "sk": {"S": "S"}}
    evses = evses if evses is not None else [(f"{location_id}-E1", "AVAILABLE")]
    new = status_item(location_id, content_hash, evses)
    old = status_item(location_id, old_hash, evses) if old_hash else None
    return _record("locs", seq, keys, None if removed else new, new if removed else old)


def location_record(
    seq: int, location_id: str, content_hash: str, old_hash: str | None = None
) -> dict[str, Any]:
    """The location item (sk ``L``): a full change, announced as ``LocationUpserted``."""
    keys = {"pk": {"S": f"LOC#{location_id.upper()}"}, "sk": {"S": "L"}}
    doc = {"id": location_id, "country_code": "DE", "party_id": "ABC", "evses": []}

    def image(h: str) -> dict[str, Any]:
        return {
            "content_hash": {"S": h},
            "last_updated": {"S": "2026-11-30T06:00:00Z"},
            "doc": {"S": json.dumps(doc)},
        }

    return _record("locs", seq, keys, image(content_hash), image(old_hash) if old_hash else None)


class Bus:
    """EventBridge as the relay sees it: every PutEvents call recorded; the calls numbered in
    ``failing`` (from 1) fail, with every in-process attempt of theirs (the relay tries a call
    again at once: the same events); a new invocation (``invoked``) tries them afresh."""

    def __init__(self, failing: set[int] | None = None) -> None:
        self.calls: list[list[Event]] = []  # the calls that went through
        self.failing = failing or set()
        self.refused: list[list[Event]] = []
        self._retrying: list[Event] | None = None

    def invoked(self) -> None:
        self._retrying = None

    def publish_many(self, events: list[Event]) -> None:
        assert len(events) <= 10
        assert sum(entry_bytes(*e) for e in events) <= PUT_EVENTS_MAX_BYTES
        again = events == self._retrying
        number = len(self.calls) + len(self.refused) + (0 if again else 1)
        if number in self.failing:
            if not again:
                self.refused.append(events)
            self._retrying = events
            raise ConnectionError("EventBridge unreachable")
        self._retrying = None
        self.calls.append(events)

    def units(self) -> list[str]:
        """Every announced change on the bus, in put order: each entry of an aggregate, and each
        other event, by idempotency key."""
        return [key for call in self.calls for event in call for key in _units(event)]


def _units(event: Event) -> list[str]:
    detail_type, detail = event
    if detail_type == "LocationStatusesChanged":
        return [entry["idempotency_key"] for entry in detail["changes"]]
    return [detail["idempotency_key"]]


def relay(bus: Bus) -> OutboxRelay:
    return OutboxRelay(
        tables={"locs": "locations"},
        events=bus,  # type: ignore[arg-type]
        cdrs=None,  # type: ignore[arg-type]
        enricher=None,  # type: ignore[arg-type]
        sleep=lambda _s: None,
    )


def aggregates(bus: Bus) -> list[dict[str, Any]]:
    return [d for call in bus.calls for t, d in call if t == "LocationStatusesChanged"]


def test_a_batch_of_status_changes_is_one_event_with_an_entry_per_change() -> None:
    records = [status_record(100 + n, f"LOC{n:04d}", f"{n:032x}", old_hash="e" * 32) for n in range(50)]
    records[3] = status_record(
        103,
        "loc0003",
        "f" * 32,
        [("E1", "AVAILABLE"), ("E2", "REMOVED"), ("E3", "CHARGING")],
        old_hash="0" * 32,
    )
    bus = Bus()
    assert relay(bus).process(records) == {"batchItemFailures": []}
    assert len(bus.calls) == 1
    ((detail_type, detail),) = bus.calls[0]
    assert detail_type == "LocationStatusesChanged"
    assert [c["location_id"] for c in detail["changes"]] == [
        "loc0003" if n == 3 else f"LOC{n:04d}" for n in range(50)
    ]
    assert detail["changes"][3] == {
        "idempotency_key": f"LocationStatusChanged/loc0003/{'f' * 32}",
        "location_id": "loc0003",  # the spelling received, not the item's CiString key
        "last_updated": "2026-11-30T06:00:00Z",
        "evse_statuses": {"E1": "AVAILABLE", "E3": "CHARGING"},  # REMOVED left out, as LocationUpserted
        "removed_evses": ["E2"],
    }
    keys = "\n".join(c["idempotency_key"] for c in detail["changes"])
    assert (
        detail["idempotency_key"]
        == f"LocationStatusesChanged/{hashlib.sha256(keys.encode()).hexdigest()[:32]}"
    )
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(detail)
    # The same batch again (a retry, a replay): the same event, the same key.
    again = Bus()
    relay(again).process(records)
    assert again.calls == bus.calls


def test_what_is_not_news_announces_nothing() -> None:
    """A status item removed (its location's LocationRemoved says it) or written again with the
    content hash it had; and a session's item, whose sk is also ``S``, is no status item."""
    records = [
        status_record(1, "LOC1", "a" * 32, removed=True),
        status_record(2, "LOC2", "a" * 32, old_hash="a" * 32),
    ]
    bus = Bus()
    assert relay(bus).process(records) == {"batchItemFailures": []}
    assert bus.calls == []
    # one at a time (translate), a status item is not news either: only process() batches it
    assert relay(bus).translate(outbox.change_from_record(status_record(4, "LOC4", "b" * 32))) == []
    sessions = OutboxRelay.__new__(OutboxRelay)
    sessions.tables = {"sess": "sessions"}
    session = _record("sess", 3, {"pk": {"S": "LOC#X"}, "sk": {"S": "S"}}, {"doc": {"S": "{}"}}, None)
    assert not sessions._is_status_item(outbox.change_from_record(session))


def test_aggregates_stay_under_the_entry_limit_measured_as_serialized() -> None:
    """Locations with many EVSEs: the batch needs several aggregates, each as full as the limit
    allows (the next entry would not have fitted), each in a PutEvents call of its own."""
    evses = [(f"DE*ABC*E{n:05d}", "AVAILABLE" if n % 3 else "OCCUPIED") for n in range(600)]
    records = [status_record(n, f"LOC{n:04d}", f"{n:032x}", evses) for n in range(100)]
    bus = Bus()
    assert relay(bus).process(records) == {"batchItemFailures": []}
    events = aggregates(bus)
    assert 4 <= len(events) < 100
    assert [len(call) for call in bus.calls] == [1] * len(events)
    for event, following in itertools.pairwise(events):
        assert entry_bytes("LocationStatusesChanged", event) <= PUT_EVENTS_MAX_BYTES
        fuller = {**event, "changes": [*event["changes"], following["changes"][0]]}
        assert entry_bytes("LocationStatusesChanged", fuller) > PUT_EVENTS_MAX_BYTES
    assert [c["location_id"] for e in events for c in e["changes"]] == [f"LOC{n:04d}" for n in range(100)]


def test_a_location_change_between_status_changes_keeps_each_locations_order() -> None:
    """S X, S Y, L X, S X: the aggregate holding X's first status change goes out before X's
    LocationUpserted, the later status change after it; Y's change may ride with X's first."""
    records = [
        status_record(1, "X", "1" * 32, old_hash="0" * 32),
        status_record(2, "Y", "1" * 32, old_hash="0" * 32),
        location_record(3, "X", "2" * 32, old_hash="1" * 32),
        status_record(4, "X", "3" * 32, old_hash="2" * 32),
        status_record(5, "X", "4" * 32, old_hash="3" * 32),  # two of X in one aggregate: in order
    ]
    bus = Bus()
    assert relay(bus).process(records) == {"batchItemFailures": []}
    assert bus.units() == [
        f"LocationStatusChanged/X/{'1' * 32}",
        f"LocationStatusChanged/Y/{'1' * 32}",
        f"LocationUpserted/X/{'2' * 32}",
        f"LocationStatusChanged/X/{'3' * 32}",
        f"LocationStatusChanged/X/{'4' * 32}",
    ]
    # three events: no call carries X twice (a partly failed call could not reorder X)
    assert [[t for t, _ in call] for call in bus.calls] == [
        ["LocationStatusesChanged"],
        ["LocationUpserted"],
        ["LocationStatusesChanged"],
    ]


def test_a_failed_put_reports_the_earliest_record_not_on_the_bus() -> None:
    """Eleven LocationUpserted around three status changes held in the open aggregate: a full
    call of ten goes through, the last call (one LocationUpserted and the aggregate) fails. The
    report is the first status record, though ten later records' events are on the bus (they
    come again on the retry: at least once)."""
    records = [location_record(n, f"L{n:02d}", "1" * 32) for n in range(1, 4)]
    records += [status_record(n, f"S{n:02d}", "1" * 32) for n in range(4, 7)]
    records += [location_record(n, f"L{n:02d}", "1" * 32) for n in range(7, 15)]
    bus = Bus(failing={2})
    assert relay(bus).process(records) == {"batchItemFailures": [{"itemIdentifier": "4"}]}
    assert [len(call) for call in bus.calls] == [10]
    assert [t for t, _ in bus.refused[0]] == ["LocationUpserted", "LocationStatusesChanged"]
    assert relay(Bus()).process(records) == {"batchItemFailures": []}


def test_a_failed_full_call_reports_the_status_records_held_before_it() -> None:
    """Two status changes wait in the open aggregate while ten LocationUpserted fill a call; that
    call fails: the first status record is the earliest not on the bus, not the first of the ten."""
    records = [status_record(1, "A", "1" * 32), status_record(2, "B", "1" * 32)]
    records += [location_record(n, f"L{n:02d}", "1" * 32) for n in range(3, 14)]
    bus = Bus(failing={1})
    assert relay(bus).process(records) == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert bus.calls == [] and len(bus.refused[0]) == 10


def test_the_aggregates_size_is_counted_as_it_is_serialized() -> None:
    """The open aggregate's size, kept entry by entry, is the serialized event's (non-ASCII ids,
    escaped as JSON does, included)."""
    outgoing = Outgoing(lambda _events: None)
    for n in range(30):
        location_id = f"LOC{n}" + "\u00e9\u6771" * (n % 4)
        entry = relay(Bus()).status_change(
            outbox.change_from_record(status_record(n, location_id, f"{n:032x}"))
        )
        assert entry is not None
        outgoing.add_status(n, location_id, entry)
        assert outgoing.entries_size == statuses_event(outgoing.entries).size


def test_a_failed_translation_puts_the_aggregate_before_it_and_reports_itself() -> None:
    broken = location_record(3, "BROKEN", "1" * 32)
    broken["dynamodb"]["NewImage"]["doc"] = {"S": "{not json"}
    records = [status_record(1, "A", "1" * 32), status_record(2, "B", "1" * 32), broken]
    records.append(status_record(4, "C", "1" * 32))
    bus = Bus()
    assert relay(bus).process(records) == {"batchItemFailures": [{"itemIdentifier": "3"}]}
    assert bus.units() == [f"LocationStatusChanged/A/{'1' * 32}", f"LocationStatusChanged/B/{'1' * 32}"]
    # ... and when that put fails too, the earliest status record is the one to retry from.
    failing = Bus(failing={1})
    assert relay(failing).process(records) == {"batchItemFailures": [{"itemIdentifier": "1"}]}


# A batch: each record a change of one of three locations, its location item (L) or status item (S).
_batches = st.lists(st.tuples(st.sampled_from("XYZ"), st.sampled_from("LLSSS")), min_size=1, max_size=40)


def _batch(steps: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    records, expected = [], []
    for n, (location, kind) in enumerate(steps, start=1):
        content_hash = f"{n:032x}"
        if kind == "L":
            records.append(location_record(n, location, content_hash, old_hash="0" * 32))
            expected.append((location, f"LocationUpserted/{location}/{content_hash}"))
        else:
            records.append(status_record(n, location, content_hash, old_hash="0" * 32))
            expected.append((location, f"LocationStatusChanged/{location}/{content_hash}"))
    return records, expected


@settings(max_examples=150, deadline=None)
@given(steps=_batches, failing=st.sets(st.integers(min_value=1, max_value=8), max_size=3))
def test_relayed_means_on_the_bus_and_each_location_stays_in_order(
    steps: list[tuple[str, str]], failing: set[int]
) -> None:
    """Lambda's event source against a bus that fails some calls: after each answer, every record
    before the reported one is on the bus, the reported one is not; retried from there until the
    batch goes through, a consumer skipping keys it has seen gets every change once, and each
    location's changes in stream order."""
    records, expected = _batch(steps)
    bus = Bus(failing=failing)
    start = 0
    for _ in range(len(records) + 10):
        bus.invoked()
        before = len(bus.calls)
        answer = relay(bus).process(records[start:])
        failed = answer["batchItemFailures"]
        done = len(records) if not failed else int(failed[0]["itemIdentifier"]) - 1
        assert all(key in set(bus.units()) for _, key in expected[:done])
        if not failed:
            break
        this_run = {k for call in bus.calls[before:] for e in call for k in _units(e)}
        assert done >= start and expected[done][1] not in this_run
        start = done
    else:
        pytest.fail("the batch never went through")
    seen: list[str] = []
    for key in bus.units():
        if key not in seen:
            seen.append(key)
    assert sorted(seen) == sorted(key for _, key in expected)
    for location in "XYZ":
        mine = [key for loc, key in expected if loc == location]
        assert [k for k in seen if k in mine] == mine, location
    for call in bus.calls:
        touched = [loc for _, d in call for loc in {c["location_id"] for c in d.get("changes", [d])}]
        assert len(touched) == len(set(touched)), "a call carries one location twice"


def test_status_items_written_to_the_table_reach_the_bus_in_one_event(moto_server: dict[str, str]) -> None:
    """moto's server (it has the streams API): status items written to the locations table
    (PutItem: INSERT, MODIFY; one written again unchanged; one deleted), the table's real stream
    records through the OutboxRelay handler, the bus's events read from a queue a rule feeds."""
    from roam_emp.local.invoker import context_for, load_handler
    from roam_emp.store import aws

    table = moto_server[topology.LOCATIONS_TABLE.env_var]
    ddb = aws.platform_client("dynamodb")
    for n, content_hash in [(1, "1"), (2, "1"), (1, "2"), (3, "1"), (3, "1")]:
        item = status_item(f"loc{n}", content_hash * 32, [(f"E{n}", "CHARGING"), ("EX", "REMOVED")])
        ddb.put_item(TableName=table, Item={"pk": {"S": f"LOC#LOC{n}"}, "sk": {"S": "S"}, **item})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "LOC#LOC2"}, "sk": {"S": "S"}})

    sqs, events = aws.platform_client("sqs"), aws.platform_client("events")
    queue = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = moto_server[topology.EVENT_BUS_ENV]
    events.put_rule(
        Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": [topology.EVENT_SOURCE]})
    )
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])

    streams = aws.platform_client("dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "MODIFY", "INSERT", "MODIFY", "REMOVE"]
    function = next(f for f in topology.FUNCTIONS if f.name == "OutboxRelay")
    event = {"Records": [{**r, "eventSourceARN": arn} for r in records]}
    assert load_handler(function.handler)(event, context_for(function)) == {"batchItemFailures": []}

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    [published] = [json.loads(m["Body"]) for m in messages]
    assert published["detail-type"] == "LocationStatusesChanged"
    detail = published["detail"]
    assert [(c["location_id"], c["idempotency_key"][-32:]) for c in detail["changes"]] == [
        ("loc1", "1" * 32),
        ("loc2", "1" * 32),
        ("loc1", "2" * 32),
        ("loc3", "1" * 32),
    ]
    assert detail["changes"][0]["evse_statuses"] == {"E1": "CHARGING"}
    assert detail["changes"][0]["removed_evses"] == ["EX"]
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(detail)


@pytest.mark.parametrize(("id_chars", "evses"), [(10, None), (36, 8)])
def test_the_cost_models_status_event_figure_is_what_aggregation_gives(
    id_chars: int, evses: int | None
) -> None:
    """cost_model's relay figures for a status-only change: at the model's records per relay
    invocation, the EventBridge 64 KB chunks and PutEvents calls per record (docs/cost.md):
    locations shaped like the simulator's (1 to 3 EVSEs), and long ids with 8 EVSEs."""
    from roam_emp import cost_model

    per_invocation = int(cost_model.Assumptions().relay_location_records_per_invocation)
    records = []
    for n in range(per_invocation):
        location_id = f"LOC{n:0{id_chars - 3}d}"
        count = evses or 1 + n % 3
        statuses = [(f"{location_id}-E{e + 1}"[:36], ("AVAILABLE", "CHARGING")[e % 2]) for e in range(count)]
        records.append(status_record(n, location_id, f"{n:032x}", statuses, old_hash="e" * 32))
    bus = Bus()
    assert relay(bus).process(records) == {"batchItemFailures": []}
    chunks = sum(-(-entry_bytes(*event) // 65536) for call in bus.calls for event in call)
    kept = cost_model.CALLS_PER_OPERATION["location_delta_pull_changed_location"]["relay"]
    assert kept["events_entries"] == pytest.approx(chunks / per_invocation)
    assert kept["events:PutEvents"] == pytest.approx(len(bus.calls) / per_invocation)
