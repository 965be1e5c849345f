"""Delivery guarantees under failing AWS calls (issue: events come from the store).

A seeded 20 % of our functions' S3, DynamoDB, EventBridge and SQS calls fail, half before the call
reaches AWS and half after it took effect (local/faults.py). Plugsurfing's side retries every
answer that is not HTTP 200 + 1000, as it does (FAQ "What is the retry behavior of CDRs?"). Then:
nothing acknowledged is missing from the store or the archive, every stored change reached the
bus as an event (at least once, one idempotency key per change), and nothing is stored twice.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from roam_emp import topology
from roam_emp.local.faults import AwsFaults
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.polling import wait_for
from roam_emp.simulator import RoamSimulator
from roam_emp.store import aws
from roam_emp.store.cdrs import CdrStore
from roam_emp.store.commands import CommandStore
from roam_emp.store.sessions import SessionStore

from .helpers import events_in, example

FAULT_RATE = 0.2
CDRS = 500
SESSIONS = 40
MAX_ATTEMPTS = 40  # per request; Plugsurfing resends CDRs for 7 days, so "eventually"


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalRuntime, httpx.Client, AwsFaults]]:
    import os

    from roam_emp import config

    saved = dict(os.environ)
    runtime = LocalRuntime(
        log_level="CRITICAL",
        schedules=False,
        ship_logs=False,
        events_out=str(tmp_path_factory.mktemp("delivery") / "events.jsonl"),
    ).start()
    simulator = RoamSimulator().start()
    try:
        runtime.admin(
            "POST",
            "/admin/registration",
            {"versions_url": simulator.versions_url, "token_a": simulator.state.token_a},
        ).raise_for_status()
        faults = AwsFaults(FAULT_RATE, seed=20261130).install()
        runtime.faults = faults
        client = httpx.Client(
            headers={"Authorization": encode_token(simulator.state.our_token_for_emp or "")}, timeout=30
        )
        yield runtime, client, faults
        client.close()
    finally:
        simulator.stop()
        runtime.stop()
        os.environ.clear()
        os.environ.update(saved)
        aws.reset()
        config.reset()


def until_acknowledged(send: Any) -> int:
    """Send until HTTP 200 + 1000, as Plugsurfing would; the number of attempts it took."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        answer = send()
        if answer.status_code == 200 and answer.json().get("status_code") == 1000:
            return attempt
        assert answer.status_code >= 500, answer.text  # only "retry" answers under AWS faults
    raise AssertionError(f"not acknowledged after {MAX_ATTEMPTS} attempts")


def test_every_acknowledged_cdr_is_stored_archived_and_announced(
    faulty: tuple[LocalRuntime, httpx.Client, AwsFaults],
) -> None:
    rt, client, faults = faulty
    url = f"{rt.url}/ocpi/2.2.1/cdrs"
    bodies: dict[str, dict[str, Any]] = {}
    changed: set[str] = set()
    attempts = Counter[int]()
    for n in range(CDRS):
        cdr = copy.deepcopy(example("cdr_example.json"))
        cdr["id"] = f"FAULT{n:04d}"
        cdr["cdr_token"]["uid"] = f"NOBODY{n:04d}"
        bodies[cdr["id"]] = cdr
        attempts[until_acknowledged(lambda c=cdr: client.post(url, json=c))] += 1
        if n % 2 == 0:  # half of them resent: a duplicate
            until_acknowledged(lambda c=cdr: client.post(url, json=c))
        if n % 25 == 0:  # some resent with a different body: a conflict, kept for review
            different = {**cdr, "total_energy": cdr["total_energy"] + 1}
            until_acknowledged(lambda d=different: client.post(url, json=d))
            until_acknowledged(lambda d=different: client.post(url, json=d))  # and again
            changed.add(cdr["id"])
    assert sum(faults.injected.values()) > 100, faults.injected  # the faults really happened
    assert attempts[1] < CDRS  # and some CDRs needed a resend

    def announced() -> set[str]:
        return {e["cdr_id"] for e in events_in(rt.events_out, "CdrReceived") if e["outcome"] == "stored"}

    wait_for(lambda: announced() >= set(bodies), seconds=300, interval=1)
    faults.uninstall()  # read back what is stored without faults

    store = CdrStore(rt.env[topology.CDRS_TABLE.env_var], rt.env[topology.CDR_ARCHIVE.env_var])
    missing, unarchived, wrong_conflicts = [], [], []
    for cdr_id, body in bodies.items():
        stored = store.get(cdr_id)
        if stored is None or stored["cdr"] != body:
            missing.append(cdr_id)
            continue
        if store.read_archive(stored["archive_key"]) is None:
            unarchived.append(cdr_id)
        if len(store.conflicts(cdr_id)) != (1 if cdr_id in changed else 0):
            wrong_conflicts.append(cdr_id)
    assert missing == [] and unarchived == [] and wrong_conflicts == []
    events = events_in(rt.events_out, "CdrReceived")
    conflict_events = {e["cdr_id"] for e in events if e["outcome"] == "conflict"}
    assert conflict_events == changed  # each conflict announced too
    # Duplicated deliveries carry one idempotency key per stored change.
    keys = {e["idempotency_key"] for e in events}
    assert len(keys) == CDRS + len(changed)
    # A resend of an identical body adds no archive version.
    versions = aws.platform_client("s3").list_object_versions(
        Bucket=rt.env[topology.CDR_ARCHIVE.env_var], Prefix="cdrs/"
    )
    per_key = Counter(v["Key"] for v in versions.get("Versions", []))
    assert per_key and max(per_key.values()) == 1


def test_sessions_out_of_order_with_retries_end_in_their_newest_state(
    faulty: tuple[LocalRuntime, httpx.Client, AwsFaults],
) -> None:
    rt, client, faults = faulty
    faults.install()
    rng = random.Random(11)
    base = example("session_example_1_simple_start.json")
    updates: list[tuple[str, str, dict[str, Any]]] = []
    final: dict[str, dict[str, Any]] = {}
    for n in range(SESSIONS):
        session_id = f"FS{n:04d}"
        url = f"{rt.url}/ocpi/2.2.1/sessions/{base['country_code']}/{base['party_id']}/{session_id}"
        start = {**copy.deepcopy(base), "id": session_id, "last_updated": "2026-11-30T10:00:00Z"}
        until_acknowledged(lambda u=url, s=start: client.put(u, json=s))
        stop = {**start, "status": "COMPLETED", "kwh": 12.5, "last_updated": "2026-11-30T10:03:00Z"}
        final[session_id] = stop
        updates += [
            ("PATCH", url, {"kwh": 5.0, "last_updated": "2026-11-30T10:01:00Z"}),
            ("PATCH", url, {"kwh": 9.0, "last_updated": "2026-11-30T10:02:00Z"}),
            ("PUT", url, stop),
        ]
    rng.shuffle(updates)  # out of order across and within sessions
    for method, url, body in updates:
        until_acknowledged(lambda m=method, u=url, b=body: client.request(m, u, json=b))
    wait_for(
        lambda: (
            {
                e["session_id"]
                for e in events_in(rt.events_out, "SessionUpdated")
                if e["status"] == "COMPLETED"
            }
            >= set(final)
        ),
        seconds=180,
        interval=1,
    )
    faults.uninstall()
    sessions = SessionStore(rt.env[topology.SESSIONS_TABLE.env_var])
    for session_id, stop in final.items():
        stored = sessions.get(stop["country_code"], stop["party_id"], session_id)
        assert stored is not None and stored["status"] == "COMPLETED" and stored["kwh"] == 12.5, session_id
    # The newest state was announced for every session, and no older state after it.
    last_seen: dict[str, dict[str, Any]] = {}
    for event in events_in(rt.events_out, "SessionUpdated"):
        if event["session_id"] in final:
            last_seen[event["session_id"]] = event
    assert {s: e["status"] for s, e in last_seen.items()} == dict.fromkeys(final, "COMPLETED")


def test_command_results_racing_the_senders_write_under_faults(
    faulty: tuple[LocalRuntime, httpx.Client, AwsFaults],
) -> None:
    """The sender stores the CommandResponse while the CPO's CommandResult arrives, both retried
    through failing calls; neither undoes the other, and the timer never overrides a result."""
    rt, _, faults = faulty
    faults.install()
    store = CommandStore(rt.env[topology.COMMANDS_TABLE.env_var])

    def retried(action: Any) -> Any:
        for _ in range(MAX_ATTEMPTS):
            try:
                return action()
            except Exception:  # noqa: S112 - an injected fault: retried, as our callers do
                continue
        raise AssertionError("never succeeded")

    ids = [f"race{n:03d}" for n in range(40)]
    for command_id in ids:
        retried(lambda c=command_id: _create(store, c))

    def sender(command_id: str) -> None:
        retried(
            lambda: store.save_response(
                command_id, "ACCEPTED", response={"result": "ACCEPTED", "timeout": 0}, due_epoch_ms=0
            )
        )

    def cpo(command_id: str) -> None:
        retried(lambda: store.save_result(command_id, "START_SESSION", {"result": "ACCEPTED"}))

    threads = [threading.Thread(target=f, args=(c,)) for c in ids for f in (sender, cpo)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for command_id in ids:  # the timer, long past every due time
        retried(lambda c=command_id: store.time_out(c, 10**13))
    faults.uninstall()
    for command_id in ids:
        record = store.get(command_id)
        assert record is not None
        assert record["response"] == {"result": "ACCEPTED", "timeout": 0}, record
        assert record["result"] == {"result": "ACCEPTED"} and record["result_source"] == "cpo", record
    announced = wait_for(
        lambda: {e["command_id"] for e in events_in(rt.events_out, "CommandResultReceived")} >= set(ids),
        seconds=120,
        interval=1,
    )
    assert announced
    assert not [e for e in events_in(rt.events_out, "CommandResultReceived") if e["result"] == "TIMEOUT"]


def _create(store: CommandStore, command_id: str) -> None:
    from botocore.exceptions import ClientError

    try:
        store.create({"command_id": command_id, "command": "START_SESSION"}, "SENDING")
    except ClientError as error:  # created by an attempt whose answer was lost
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def test_events_file_holds_json_lines(faulty: tuple[LocalRuntime, httpx.Client, AwsFaults]) -> None:
    rt, _, _ = faulty
    assert rt.events_out
    with open(rt.events_out, encoding="utf-8") as lines:  # noqa: PTH123
        events = [json.loads(line) for line in lines]
    assert events and all(e["source"] == topology.EVENT_SOURCE for e in events)
    # every event announcing a stored fact carries its idempotency key (HubRegistered announces
    # an action, published by the request)
    assert all("idempotency_key" in e["detail"] for e in events if e["detail-type"] != "HubRegistered")
