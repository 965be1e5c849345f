"""AWS calls per operation (issue 11): what the cost model (roam_emp/cost_model.py) multiplies by
a month's workload. Every operation runs for real in local mode (moto server, local gateway, the
bundled simulator as Plugsurfing), its calls counted with ``aws_calls.counting``:

- ``request``: the calls of the operation itself (the Lambda behind the route, or the queue
  consumer for a token push; the location pull for a page);
- ``relay``: the calls the OutboxRelay makes for the stream records the operation produced
  (``stream_records`` of them): the events, and a CDR's enrichment.

DynamoDB capacity units are estimated from the requests themselves: a written item's size by
DynamoDB's sizing rules (attribute names + values), rounded up to 1 KB per write unit, doubled in a
transaction, plus one unit per secondary index the write touches (every index here projects keys
and a few small attributes); an update is charged as the size of the item it left (read back after
the operation, uncounted), a delete as one unit; a read is one 4 KB unit (half when eventually
consistent). Secrets are cached for the whole count
(``SECRET_CACHE_S``): the model adds the cache refreshes per container on its own.

The cost model keeps a copy of this table (``cost_model.CALLS_PER_OPERATION``);
tests/test_cost_model.py recounts and compares, so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .aws_calls import counting
from .harness import as_hub, register_with

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "ocpi-2.2.1-examples"
# The same number of repeats as the cost model's copy (cost_model.CALLS_REPEAT): the simulator's
# seeded mutations then pick the same locations, and the averages compare exactly.
REPEAT = int(os.environ.get("BENCH_CALLS_REPEAT", "3"))
NETWORK = 500  # two pages of 250 (Plugsurfing's page size)
DELTA_CHANGES = 20
DYNAMO_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def item_bytes(value: Any) -> int:
    """Size of a DynamoDB item (its attribute map) by DynamoDB's rules, approximately: names and
    string/binary values by their UTF-8 length, numbers ~1 byte per 2 digits + 1, 3 bytes of
    overhead per map or list and 1 per element."""
    return sum(len(name.encode()) + _value_bytes(v) for name, v in value.items())


def _value_bytes(value: dict[str, Any]) -> int:
    kind, inner = next(iter(value.items()))
    if kind in ("S", "B"):
        return len(str(inner).encode())
    if kind == "N":
        return math.ceil(len(str(inner).lstrip("-").replace(".", "")) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_bytes(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_bytes(v) + 1 for v in inner)
    return sum(len(str(v).encode()) for v in inner)  # SS, NS, BS


@dataclass
class Capacity:
    """DynamoDB work of one measured phase, per table key."""

    index_keys: dict[str, tuple[str, ...]]  # table key -> each index's partition key attribute
    table_keys: dict[str, str]  # physical table name -> table key
    sized_units: float = 0.0  # from items whose size the request shows
    updated: list[tuple[str, str, int]] = field(default_factory=list)  # (table, key JSON, factor)
    deletes: float = 0.0
    updated_units: float = 0.0  # the updates, once sized (``size_updates``)
    index_units: float = 0.0
    read_units: float = 0.0
    events: int = 0  # EventBridge entries' 64 KB chunks (billed so, not per PutEvents call)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, name: str, request: Any) -> None:
        service, operation = name.split(":", 1)
        if service not in ("dynamodb", "events"):
            return
        body = json.loads(request.get("body") or b"{}")
        with self.lock:
            if service == "events":
                # EventBridge bills each 64 KB chunk of an entry as one event.
                self.events += sum(
                    max(1, math.ceil(_entry_bytes(e) / 65536)) for e in body.get("Entries", [])
                )
                return
            if operation in DYNAMO_WRITES:
                self._write(operation, body)
            else:
                self._read(operation, body)

    def _write(self, operation: str, body: dict[str, Any]) -> None:
        if operation == "TransactWriteItems":
            for entry in body["TransactItems"]:
                kind, part = next(iter(entry.items()))
                if kind != "ConditionCheck":
                    self._one(kind, part, factor=2)
        elif operation == "BatchWriteItem":
            for table, requests in body["RequestItems"].items():
                for entry in requests:
                    kind, part = next(iter(entry.items()))
                    self._one("Put" if kind == "PutRequest" else "Delete", {"TableName": table, **part}, 1)
        else:
            self._one(operation.removesuffix("Item"), body, factor=1)

    def _one(self, kind: str, part: dict[str, Any], factor: int) -> None:
        table = self.table_keys.get(part["TableName"], part["TableName"])
        indexes = self.index_keys.get(table, ())
        if kind == "Put":
            size = item_bytes(part["Item"])
            self.sized_units += factor * max(1, math.ceil(size / 1024))
            self.index_units += factor * sum(1 for key in indexes if key in part["Item"])
            return
        if kind == "Update":
            self.updated.append((part["TableName"], json.dumps(part["Key"], sort_keys=True), factor))
            text = part.get("UpdateExpression", "") + json.dumps(part.get("ExpressionAttributeNames", {}))
            self.index_units += factor * sum(1 for key in indexes if key in text)
        elif kind == "Delete":
            self.deletes += factor
            self.index_units += factor * len(indexes)

    def _read(self, operation: str, body: dict[str, Any]) -> None:
        unit = 1.0 if body.get("ConsistentRead") else 0.5
        if operation == "BatchGetItem":
            self.read_units += sum(
                len(r["Keys"]) * (1.0 if r.get("ConsistentRead") else 0.5)
                for r in body["RequestItems"].values()
            )
        elif operation == "TransactGetItems":
            self.read_units += 2 * len(body["TransactItems"])
        elif operation in ("GetItem", "Query", "Scan"):
            self.read_units += unit


def _entry_bytes(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge counts it (store/bus.entry_bytes)."""
    return sum(len(str(entry.get(part, "")).encode()) for part in ("Source", "DetailType", "Detail"))


def size_updates(capacity: Capacity) -> None:
    """Each updated item's size as the operation left it (read after the counting ended)."""
    from roam_emp.store import aws

    dynamodb = aws.client("dynamodb")
    sizes: dict[tuple[str, str], int] = {}
    for table, key, factor in capacity.updated:
        if (table, key) not in sizes:
            item = dynamodb.get_item(TableName=table, Key=json.loads(key)).get("Item", {})
            sizes[(table, key)] = item_bytes(item)
        capacity.updated_units += factor * max(1, math.ceil(sizes[(table, key)] / 1024))


def _units(capacity: Capacity, per: float) -> dict[str, float]:
    writes = capacity.sized_units + capacity.updated_units + capacity.deletes + capacity.index_units
    return {
        "dynamodb_write_units": round(writes / per, 2),
        "dynamodb_read_units": round(capacity.read_units / per, 2),
        "events_entries": round(capacity.events / per, 2),
    }


class Recorder:
    """Counts one operation's calls: on the request path (every thread but the stream consumer's)
    and in the OutboxRelay (the stream consumer's threads), and the stream records delivered."""

    def __init__(self, table_keys: dict[str, str]) -> None:
        from roam_emp import topology

        index_keys = {t.key: tuple(i.partition_key for i in t.indexes) for t in topology.TABLES}
        self.new = lambda: Capacity(index_keys, table_keys)
        self.records = 0
        self.busy = 0  # batches the stream consumer is handing to the relay right now
        self._lock = threading.Lock()
        self.results: dict[str, dict[str, Any]] = {}
        self._capacities: dict[str, tuple[Capacity, Capacity, float]] = {}

    def delivering(self, change: int) -> None:
        with self._lock:
            self.busy += change

    def delivered(self, count: int) -> None:
        with self._lock:
            self.records += count
            self.busy -= 1

    @contextmanager
    def operation(self, name: str, per: float) -> Iterator[None]:
        request_capacity, all_capacity = self.new(), self.new()
        records_before = self.records
        with (
            counting(observe=all_capacity.observe) as everything,
            counting(skip_threads=("stream-",), observe=request_capacity.observe) as request,
        ):
            yield
            self._settle()
        relay = everything - request
        size_updates(request_capacity)
        size_updates(all_capacity)
        relay_capacity = _difference(all_capacity, request_capacity)
        self.results[name] = {
            "per": per,
            "request": {k: round(v / per, 2) for k, v in sorted(request.items())},
            "relay": {k: round(v / per, 2) for k, v in sorted(relay.items())},
            "stream_records": round((self.records - records_before) / per, 2),
        }
        self._capacities[name] = (request_capacity, relay_capacity, per)

    def _settle(self, quiet_s: float = 2.0, bound_s: float = 300.0) -> None:
        """The stream consumer has delivered every record: no batch in the relay and no new one
        for ``quiet_s`` (it polls every 0.2 s), within a generous bound."""
        deadline = time.monotonic() + bound_s
        seen, since = self.records, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if self.records != seen or self.busy:
                seen, since = self.records, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
        raise TimeoutError("the stream consumer kept delivering records")

    def table(self) -> dict[str, dict[str, Any]]:
        """Per operation: calls, stream records and DynamoDB units."""
        out: dict[str, dict[str, Any]] = {}
        for name, result in self.results.items():
            request_capacity, relay_capacity, per = self._capacities[name]
            out[name] = {
                "request": result["request"] | _units(request_capacity, per),
                "relay": result["relay"] | _units(relay_capacity, per),
                "stream_records": result["stream_records"],
            }
        return out


def _difference(everything: Capacity, request: Capacity) -> Capacity:
    relay = Capacity(everything.index_keys, everything.table_keys)
    relay.sized_units = everything.sized_units - request.sized_units
    relay.index_units = everything.index_units - request.index_units
    relay.read_units = everything.read_units - request.read_units
    relay.events = everything.events - request.events
    relay.updated_units = everything.updated_units - request.updated_units
    relay.deletes = everything.deletes - request.deletes
    return relay


@contextmanager
def _counting_deliveries(recorder: Recorder) -> Iterator[None]:
    from roam_emp.local.streams import StreamPoller

    original = StreamPoller._deliver

    def deliver(self: StreamPoller, records: list[dict[str, Any]], arn: str) -> str | None:
        recorder.delivering(1)
        try:
            return original(self, records, arn)
        finally:
            recorder.delivered(len(records))  # a retried batch is delivered (and counted) again

    StreamPoller._deliver = deliver  # type: ignore[method-assign]
    try:
        yield
    finally:
        StreamPoller._deliver = original  # type: ignore[method-assign]


def count_operations(repeat: int = REPEAT) -> dict[str, dict[str, Any]]:
    """Run every operation ``repeat`` times (after one unmeasured warm-up) and count."""
    import dataclasses

    from roam_emp import topology
    from roam_emp.config import settings
    from roam_emp.domain.location_pull import LocationPuller
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.ocpi.timestamps import parse_timestamp
    from roam_emp.polling import wait_for
    from roam_emp.simulator import RoamSimulator
    from roam_emp.store.pull_state import PullMode

    saved = dict(os.environ)
    events_file = Path(tempfile.mkdtemp()) / "events.jsonl"
    try:
        with (
            LocalRuntime(
                log_level="ERROR",
                schedules=False,
                ship_logs=False,
                events_out=str(events_file),
                extra_env={
                    "LOCATION_PULL_MIN_INTERVAL_S": "0",
                    "SECRET_CACHE_S": "86400",
                    "CONTRACT_ID_PREFIXES": "NLEMP",
                },
            ) as runtime,
            RoamSimulator(network_size=NETWORK) as simulator,
        ):
            tables = {runtime.env[t.env_var]: t.key for t in topology.TABLES}
            recorder = Recorder(tables)
            httpx.post(
                f"{simulator.url}/_sim/locations/reset", json={"size": NETWORK, "pull_min_interval_s": 0}
            ).raise_for_status()
            register_with(runtime, simulator)
            http = as_hub(runtime, simulator)
            events = _Events(events_file, wait_for)
            puller = LocationPuller.from_settings(
                dataclasses.replace(settings(), location_pull_min_interval_s=0)
            )

            def pull(mode: PullMode) -> int:
                outcome = puller.run(mode, time_left_s=lambda: 900.0)
                assert outcome.status == "completed", outcome.summary()
                assert outcome.run is not None
                return int(outcome.run.pages)

            with _counting_deliveries(recorder):
                with recorder.operation("location_full_pull_page_new", per=NETWORK / 250):
                    pages = pull(PullMode.FULL)
                    assert pages == NETWORK / 250, pages
                # Steady state: the pull state keeps the last 10 runs (location_pull.py), so a
                # pull's checkpoint writes grow until then.
                for _ in range(10):
                    pull(PullMode.DELTA)
                with recorder.operation("location_full_pull_page_unchanged", per=NETWORK / 250):
                    pull(PullMode.FULL)
                with recorder.operation("location_delta_pull_no_change", per=repeat):
                    for _ in range(repeat):
                        pull(PullMode.DELTA)
                with recorder.operation("location_delta_pull_changed_location", per=repeat * DELTA_CHANGES):
                    for _ in range(repeat):
                        httpx.post(
                            f"{simulator.url}/_sim/locations/mutate", json={"status_changes": DELTA_CHANGES}
                        ).raise_for_status()
                        pull(PullMode.DELTA)
                # A delta pull with changes = no-change pull + changes x per changed location.
                recorder.results["location_delta_pull_changed_location"]["minus"] = (
                    "location_delta_pull_no_change",
                    1 / DELTA_CHANGES,
                )

                known = httpx.get(f"{simulator.url}/_sim/locations/ids").json()
                location_id = sorted(known["ids"] if isinstance(known, dict) else known)[0]
                uids = [f"COST{i:04d}" for i in range(repeat + 1)]

                def push(uid: str) -> None:
                    answer = runtime.admin(
                        "POST",
                        "/admin/tokens",
                        {"uid": uid, "type": "RFID", "contract_id": f"NLEMPC{uid[4:]}0001"},
                    )
                    assert answer.status_code == 202, answer.text
                    events.wait(
                        "TokenPushStateChanged", "token_uid", uid, lambda d: d.get("push_state") == "PUSHED"
                    )

                def authorize(uid: str) -> None:
                    answer = http.post(
                        f"/ocpi/2.2.1/tokens/{uid}/authorize?type=RFID", json={"location_id": location_id}
                    )
                    assert answer.status_code == 200, answer.text
                    events.wait("AuthorizationDecided", "token_uid", uid)

                session = json.loads((EXAMPLES / "session_example_1_simple_start.json").read_text())
                patch = json.loads((EXAMPLES / "session_patch_example_charging_period.json").read_text())

                def put_session(n: int) -> None:
                    body = copy.deepcopy(session) | {"id": f"COST{n:04d}"}
                    answer = http.put(f"/ocpi/2.2.1/sessions/NL/STK/COST{n:04d}", json=body)
                    assert answer.status_code == 200, answer.text
                    events.wait("SessionUpdated", "session_id", f"COST{n:04d}")

                def patch_session(n: int) -> None:
                    body = patch | {"last_updated": f"2020-03-09T11:{n:02d}:00Z"}
                    answer = http.patch("/ocpi/2.2.1/sessions/NL/STK/COST0000", json=body)
                    assert answer.status_code == 200, answer.text
                    at = parse_timestamp(body["last_updated"])
                    events.wait(
                        "SessionUpdated",
                        "session_id",
                        "COST0000",
                        lambda d: parse_timestamp(d["last_updated"]) == at,
                    )

                cdr = json.loads((EXAMPLES / "cdr_example.json").read_text())

                def post_cdr(n: int) -> None:
                    body = copy.deepcopy(cdr) | {"id": f"COST{n:04d}"}
                    answer = http.post("/ocpi/2.2.1/cdrs", json=body)
                    assert answer.status_code in (200, 201), answer.text
                    events.wait("CdrReceived", "cdr_id", f"COST{n:04d}")

                _measure(recorder, "token_push", repeat, lambda i: push(uids[i]))
                _measure(recorder, "authorize", repeat, lambda i: authorize(uids[i]))
                _measure(recorder, "session_put", repeat, put_session)
                _measure(recorder, "session_patch", repeat, patch_session, warm=False)
                _measure(recorder, "cdr_acknowledgement", repeat, post_cdr)
            table = recorder.table()
            return _subtract_fixed(table, recorder.results)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _measure(
    recorder: Recorder, name: str, repeat: int, action: Callable[[int], None], warm: bool = True
) -> None:
    if warm:
        action(repeat)  # the last index: warms the function, its clients and its caches
    with recorder.operation(name, per=repeat):
        for i in range(repeat):
            action(i)


def _subtract_fixed(
    table: dict[str, dict[str, Any]], results: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """An operation measured together with a fixed part (a delta pull's own calls) keeps only its
    own: ``minus`` = (the fixed part's operation, its share per unit)."""
    for name, result in results.items():
        if "minus" not in result:
            continue
        fixed, share = result["minus"]
        for part in ("request", "relay"):
            mine, theirs = table[name][part], table[fixed][part]
            table[name][part] = {
                k: round(mine.get(k, 0) - theirs.get(k, 0) * share, 2)
                for k in sorted(set(mine) | set(theirs))
                if round(mine.get(k, 0) - theirs.get(k, 0) * share, 2) != 0
            }
        table[name]["stream_records"] = round(
            table[name]["stream_records"] - table[fixed]["stream_records"] * share, 2
        )
    return table


class _Events:
    """The events on our bus (local mode's events tap): waiting for one is waiting for the relay."""

    def __init__(self, path: Path, wait_for: Callable[..., Any]) -> None:
        self.path, self._wait_for = path, wait_for

    def wait(
        self,
        detail_type: str,
        key: str,
        value: str,
        accept: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> None:
        def seen() -> bool | None:
            lines = self.path.read_text().splitlines() if self.path.exists() else []
            for event in map(json.loads, lines):
                detail = event["detail"]
                if event["detail-type"] == detail_type and detail.get(key) == value and accept(detail):
                    return True
            return None

        self._wait_for(seen, 120, interval=0.1)


def run() -> dict[str, Any]:
    started = time.perf_counter()
    table = count_operations()
    return {
        "repeat": REPEAT,
        "per_operation": table,
        "seconds": round(time.perf_counter() - started, 1),
    }
