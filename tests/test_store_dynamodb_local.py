"""The store layer against real DynamoDB semantics (issue 13): every test runs on moto and on
DynamoDB Local (tests/store_backends.py), so conditional writes, transactions and size/key limits
behave as in AWS, not as moto approximates them. Races run on DynamoDB Local only (moto's
conditional writes are not atomic across threads). Every test uses its own ids."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from roam_emp import topology
from roam_emp.store import aws
from roam_emp.store.cdrs import cdr_key

from .store_backends import Backend, backend, code, error_of, put, race, unique

__all__ = ["backend"]  # the fixture, imported for this module's tests


# --- conditional writes under races: the loser gets ConditionalCheckFailed -------------------


def test_two_writers_of_one_new_item_one_wins(backend: Backend) -> None:
    for _ in range(5):
        pk = unique("RACE#")

        def write(holder: str, pk: str = pk) -> Any:
            return put(
                backend,
                {"pk": {"S": pk}, "sk": {"S": "S"}, "holder": {"S": holder}},
                ConditionExpression="attribute_not_exists(pk)",
            )

        results = race(backend, lambda: write("a"), lambda: write("b"))
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(losers) == 1, results
        assert isinstance(losers[0], ClientError) and code(losers[0]) == "ConditionalCheckFailedException"


def test_two_cdr_bodies_for_one_id_at_once_one_stored_one_conflict(backend: Backend) -> None:
    from roam_emp.store.cdrs import CdrStore, StoreOutcome

    store = CdrStore(backend.table(topology.CDRS_TABLE), backend.env[topology.CDR_ARCHIVE.env_var])
    for _ in range(3):
        cdr_id = unique("RACECDR")
        items = [
            store.item_for({"id": cdr_id, "n": n}, f"digest{n}", f"cdrs/{cdr_id}/{n}", None) for n in (1, 2)
        ]
        outcomes = race(backend, *(lambda i=item, c=cdr_id: store.put_new(c, i) for item in items))
        assert sorted(outcomes) == sorted([StoreOutcome.STORED, StoreOutcome.CONFLICT]), outcomes
        winner = outcomes.index(StoreOutcome.STORED)
        assert store.get(cdr_id)["digest"] == f"digest{winner + 1}"  # type: ignore[index]
        assert store.conflicts(cdr_id) == [f"digest{2 - winner}"]


def test_two_pullers_take_the_lease_at_once_one_gets_it(backend: Backend) -> None:
    from roam_emp.store.pull_state import PullStateStore

    # the lease is one item per table: each test that takes it releases it at its end
    store = PullStateStore(backend.table(topology.STATE_TABLE))
    results = race(backend, lambda: store.acquire("a", 60), lambda: store.acquire("b", 60))
    assert sorted(results) == [False, True], results
    holder = "a" if results[0] else "b"
    assert store.acquire(holder, 60) is True  # the holder renews
    store.release(holder)


def test_a_cpo_result_and_our_timer_at_once_the_cpo_result_stays(backend: Backend) -> None:
    from roam_emp.store.commands import CommandStore

    store = CommandStore(backend.table(topology.COMMANDS_TABLE))
    for _ in range(3):
        command_id = unique("RACECMD")
        store.create({"command_id": command_id, "command": "STOP_SESSION"}, "SENDING")
        store.save_response(command_id, "ACCEPTED", response={"result": "ACCEPTED"}, due_epoch_ms=1)
        saved, timed_out = race(
            backend,
            lambda command_id=command_id: store.save_result(
                command_id, "STOP_SESSION", {"result": "ACCEPTED"}
            ),
            lambda command_id=command_id: store.time_out(command_id, 10**12),
        )
        assert saved is True, (saved, timed_out)  # stored first, or replacing the timer's TIMEOUT
        stored = store.get(command_id)
        assert stored is not None and stored["state"] == "ACCEPTED" and stored["result_source"] == "cpo"
        assert command_id not in store.overdue(10**13)


# --- transactions ----------------------------------------------------------------------------


def test_a_checkpoint_by_a_holder_whose_lease_was_taken_writes_nothing(backend: Backend) -> None:
    from roam_emp.store.pull_state import PullMode, PullRun, PullStateStore

    store = PullStateStore(backend.table(topology.STATE_TABLE))
    assert store.acquire("first", 0.001, now=1.0)
    assert store.acquire("second", 60)  # the first stalled: its lease expired, taken over
    run = PullRun(run_id=unique("RUN"), mode=PullMode.FULL, started_at="2026-01-01T00:00:00Z", pages=1)  # type: ignore[arg-type]
    before = store.run()
    error = error_of(lambda: store.save_run(run, "first", 60, seen=["LOC1"]))
    assert code(error) == "TransactionCanceledException"
    reasons = [r["Code"] for r in error.response["CancellationReasons"]]  # type: ignore[typeddict-item]
    assert reasons == ["None", "None", "ConditionalCheckFailed"], reasons
    assert store.run() == before and store.seen(run.run_id) == set()  # nothing of it written
    store.save_run(run, "second", 60, seen=["LOC1", "LOC2"])
    assert store.run() == run and store.seen(run.run_id) == {"LOC1", "LOC2"}
    store.release("second")


# --- the CDR store with real-size inputs ------------------------------------------------------


def _cdr_store(backend: Backend) -> Any:
    from roam_emp.store.cdrs import CdrStore

    return CdrStore(backend.table(topology.CDRS_TABLE), backend.env[topology.CDR_ARCHIVE.env_var])


def _receive(store: Any, cdr: dict[str, Any]) -> Any:
    """What the CDR receiver does before its 200: archive the body, then the conditional put."""
    import hashlib

    from roam_emp.ocpi.jsondoc import canonical_bytes

    body = canonical_bytes(cdr)
    digest = hashlib.sha256(body).hexdigest()
    key = store.archive_key(cdr, digest)
    store.archive(key, body)
    return store.put_new(cdr["id"], store.item_for(cdr, digest, key, "OCPI-2.1.1"))


def _noise(size: int, seed: int) -> str:
    """Text that zlib cannot shrink much (a CDR's own strings never are, but sizes must be real)."""
    import random

    return random.Random(seed).randbytes((size + 1) // 2).hex()[:size]


def _cdr_with_packed_size(cdr: dict[str, Any], target: int) -> dict[str, Any]:
    """``cdr`` with a note that makes its stored (compressed) document just below ``target``:
    hex noise compresses to about half, so a few proportional steps find it."""
    from roam_emp.store.doc_codec import pack as _pack

    noise = _noise(target * 3, 1)
    size = target * 2
    for _ in range(20):
        packed = len(_pack({**cdr, "note": noise[:size]}))
        if target - 100 < packed <= target:
            break
        size = size * (target - 50) // packed
    return {**cdr, "note": noise[:size]}


LONG_IDS = {
    "2,100 bytes": "C" * 2100,
    "5,000 characters of 2 bytes": "ä" * 5000,
    "exactly the key bound": "K" * 1000,
    "one byte over it": "K" * 1001,
    "CR/LF and slashes": "CDR\r\nWITH/LINES/../x",
}


@pytest.mark.parametrize("name", sorted(LONG_IDS))
def test_a_cdr_id_that_is_no_key_as_is_is_stored_found_and_deduplicated(backend: Backend, name: str) -> None:
    from roam_emp.store.cdrs import StoreOutcome

    store = _cdr_store(backend)
    cdr_id = LONG_IDS[name] + unique("#")
    cdr = {"country_code": "NL", "party_id": "STK", "id": cdr_id, "session_id": cdr_id, "kwh": 1}
    assert _receive(store, cdr) is StoreOutcome.STORED
    assert _receive(store, cdr) is StoreOutcome.DUPLICATE
    assert _receive(store, {**cdr, "kwh": 2}) is StoreOutcome.CONFLICT
    assert _receive(store, {**cdr, "kwh": 2}) is StoreOutcome.CONFLICT
    stored = store.get(cdr_id)
    assert stored["cdr"] == cdr and len(store.conflicts(cdr_id)) == 1
    assert store.for_session(cdr_id)["cdr"] == cdr  # the by_session_id index, same key rule


def test_s3_keys_of_real_size_cdr_ids_stay_within_1024_bytes() -> None:
    """S3 refuses keys over 1,024 bytes (moto does not check): every part of an archive key that
    is not plain becomes a digest. Real-size ids, CPO codes with slashes and control characters."""
    from roam_emp.store.cdrs import CdrStore

    store = CdrStore("t", "b")
    digest = "d" * 64
    for cdr_id in [*LONG_IDS.values(), "12345", "x" * 200]:
        for country, party in (("NL", "STK"), ("N/L", "S\r\nTK"), ("Ü" * 600, "P" * 1100)):
            key = store.archive_key({"country_code": country, "party_id": party, "id": cdr_id}, digest)
            assert len(key.encode()) <= 1024, (cdr_id[:20], len(key.encode()))
            assert "\r" not in key and "\n" not in key and key.count("/") == 4, key
    plain = store.archive_key({"country_code": "NL", "party_id": "STK", "id": "12345"}, digest)
    assert plain == f"cdrs/NL/STK/12345/{digest}.json"  # a plain id stays readable


@pytest.mark.parametrize("name", sorted(LONG_IDS))
def test_a_long_id_cdr_is_archived_under_a_valid_s3_key_and_read_back(backend: Backend, name: str) -> None:
    store = _cdr_store(backend)
    cdr = {"country_code": "NL", "party_id": "STK", "id": LONG_IDS[name] + unique("#S3")}
    naive = f"cdrs/NL/STK/{cdr['id']}/{'d' * 64}.json"
    assert _receive(store, cdr).value == "stored"
    key = store.get(cdr["id"])["archive_key"]
    assert len(key.encode()) <= 1024 and (len(naive.encode()) > 1024 or "/" in cdr["id"] or "\n" in cdr["id"])
    body, _ = store.read_archive(key)
    assert json.loads(body) == cdr


def test_a_cdr_of_4_5_mb_is_kept_in_the_archive_with_a_pointer(backend: Backend) -> None:
    store = _cdr_store(backend)
    cdr = {"country_code": "NL", "party_id": "STK", "id": unique("BIGCDR"), "note": _noise(4_500_000, 2)}
    assert _receive(store, cdr).value == "stored"
    item = aws.dynamodb().get_item(TableName=store.table, Key=cdr_key(cdr["id"]))["Item"]
    assert "doc" not in item  # the pointer only
    assert store.get(cdr["id"])["cdr"] == cdr
    assert _receive(store, cdr).value == "duplicate"


def test_a_cdr_just_inside_the_inline_bound_is_stored_in_the_item(backend: Backend) -> None:
    """INLINE_DOC_MAX (300,000 compressed bytes) plus the item's other attributes stays under
    both AWS's 409,600 and moto's 405,000 bytes."""
    from roam_emp.store.cdrs import INLINE_DOC_MAX
    from roam_emp.store.doc_codec import pack as _pack

    store = _cdr_store(backend)
    seed = {
        "country_code": "NL",
        "party_id": "STK",
        "id": unique("INLINE") + "x" * 900,
        "session_id": "s" * 950,
    }
    cdr = _cdr_with_packed_size(seed, INLINE_DOC_MAX)
    assert INLINE_DOC_MAX - 100 < len(_pack(cdr)) <= INLINE_DOC_MAX
    assert _receive(store, cdr).value == "stored"
    item = aws.dynamodb().get_item(TableName=store.table, Key=cdr_key(cdr["id"]))["Item"]
    assert "doc" in item and store.get(cdr["id"])["cdr"] == cdr


# --- sessions, commands, tokens, authorizations: every store call as AWS validates it ----------


def test_sessions_order_by_numeric_stamps_not_strings(backend: Backend) -> None:
    """updated_us of 1999 has 15 digits, of 2026 16: as strings "9…" > "1…", as numbers not."""
    from roam_emp.ocpi.timestamps import parse_timestamp
    from roam_emp.store.sessions import SessionStore

    store = SessionStore(backend.table(topology.SESSIONS_TABLE))
    session = {"country_code": "NL", "party_id": "STK", "id": unique("SES"), "status": "ACTIVE"}
    session["cdr_token"] = {"uid": unique("UID"), "type": "RFID"}

    def save(stamp: str, kwh: int) -> bool:
        return store.save({**session, "kwh": kwh, "last_updated": stamp}, parse_timestamp(stamp), None)

    assert save("2026-01-01T00:00:00Z", 1)
    assert not save("1999-12-31T23:59:59Z", 2)  # older: ignored
    assert save("2026-01-01T00:00:00Z", 3)  # the same stamp again: lands (a resend)
    assert not save("2025-12-31T23:59:59.999999Z", 4)
    assert save("2026-01-01T00:00:00.5Z", 5)
    assert store.get("NL", "STK", session["id"])["kwh"] == 5  # type: ignore[index]
    assert store.find(session["id"])["session"]["kwh"] == 5  # type: ignore[index]
    assert [s["session_id"] for s in store.for_token("RFID", session["cdr_token"]["uid"])] == [session["id"]]


def test_a_session_at_our_item_bound_is_one_dynamodb_stores(backend: Backend) -> None:
    """sessions._check_limits counts an item as AWS does (numbers as their digits: more than AWS;
    the document by its compressed bytes), so the largest session we accept is one DynamoDB
    Local stores, and the next larger one is refused by us with the limit named, before DynamoDB
    refuses. moto's own bound is lower (405,000). The padding is random text, which compression
    barely shrinks; a large session of repeated charging periods compresses and is stored."""
    import random
    import string

    from roam_emp.ocpi.timestamps import parse_timestamp
    from roam_emp.store.sessions import ITEM_MAX_BYTES, SessionStore, StorageLimitExceeded

    store = SessionStore(backend.table(topology.SESSIONS_TABLE))
    stamp = "2026-01-01T00:00:00Z"
    session = {"country_code": "NL", "party_id": "STK", "id": unique("BIGSES"), "last_updated": stamp}
    rng = random.Random(11)
    noise = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(2 * ITEM_MAX_BYTES))

    def attempt(padding: int) -> str:
        try:
            store.save({**session, "note": noise[:padding]}, parse_timestamp(stamp), "OCPI-2.1.1")
        except StorageLimitExceeded as error:
            assert f"item limit is {ITEM_MAX_BYTES}" in str(error)
            return "ours"
        except ClientError as error:
            assert "Item size has exceeded" in str(error)
            return "aws"
        return "stored"

    assert attempt(len(noise)) == "ours"
    accepted, refused = 0, len(noise)  # the largest padding we accept: a binary search
    while refused - accepted > 1:
        middle = (accepted + refused) // 2
        if attempt(middle) == "ours":
            refused = middle
        else:
            accepted = middle
    assert accepted > ITEM_MAX_BYTES  # compressed: more JSON than the item limit fits
    if backend.local:
        assert attempt(accepted) == "stored"
        assert store.get("NL", "STK", session["id"])["note"] == noise[:accepted]  # type: ignore[index]
    else:
        assert attempt(accepted) == "aws"
    periods = [
        {"start_date_time": stamp, "dimensions": [{"type": "ENERGY", "volume": n}]} for n in range(20_000)
    ]
    assert attempt(0) == "stored"
    big = {**session, "charging_periods": periods}
    assert len(json.dumps(big)) > ITEM_MAX_BYTES
    assert store.save(big, parse_timestamp(stamp), "OCPI-2.1.1")
    assert len(store.get("NL", "STK", session["id"])["charging_periods"]) == 20_000  # type: ignore[index]


def test_commands_conditional_updates(backend: Backend) -> None:
    from roam_emp.store.commands import CommandStore

    store = CommandStore(backend.table(topology.COMMANDS_TABLE))
    command_id = unique("CMD")
    store.create({"command_id": command_id, "command": "START_SESSION"}, "SENDING")
    again = error_of(lambda: store.create({"command_id": command_id, "command": "START_SESSION"}, "SENDING"))
    assert code(again) == "ConditionalCheckFailedException"
    missing = error_of(lambda: store.save_response(unique("NOCMD"), "ACCEPTED"))
    assert code(missing) == "ConditionalCheckFailedException"
    store.save_response(command_id, "ACCEPTED", response={"result": "ACCEPTED"}, due_epoch_ms=5_000)
    assert store.time_out(command_id, 4_999) is False  # not due yet
    assert command_id in store.overdue(5_000)
    assert store.time_out(command_id, 5_000) is True
    assert store.get(command_id)["state"] == "TIMEOUT"  # type: ignore[index]
    assert store.save_result(command_id, "STOP_SESSION", {"result": "ACCEPTED"}) is None  # other command
    assert store.save_result(command_id, "START_SESSION", {"result": "ACCEPTED"}) is True  # late truth
    assert store.save_result(command_id, "START_SESSION", {"result": "REJECTED"}) is False  # a resend
    assert store.time_out(command_id, 10_000) is False
    stored = store.get(command_id)
    assert stored is not None and stored["state"] == "ACCEPTED" and stored["result_source"] == "cpo"
    store.save_response(command_id, "ACCEPTED", error="late sender write", due_epoch_ms=6_000)
    assert store.time_out(command_id, 10_000) is False  # a result is there: it leaves the index
    assert command_id not in store.overdue(10_000)
    assert store.save_result(unique("NOCMD"), "START_SESSION", {"result": "ACCEPTED"}) is None


def test_tokens_versions_and_lists(backend: Backend) -> None:
    from roam_emp.store.tokens import PushState, TokenStore, VersionConflict

    store = TokenStore(backend.table(topology.TOKENS_TABLE))
    uid = unique("TOK")
    token = {
        "uid": uid,
        "type": "RFID",
        "contract_id": f"NL-EMP-C{uid}",
        "last_updated": "2026-01-02T00:00:00Z",
    }
    first = store.save_queued(token)
    assert store.save_queued({**token, "valid": False}, expected_version=first) == first + 1
    with pytest.raises(VersionConflict):
        store.save_queued(token, expected_version=first)
    assert store.mark("RFID", uid, first, PushState.PUSHED) is False  # superseded
    assert store.mark("RFID", uid, first + 1, PushState.PUSHED) is True
    third = store.save_queued({**token, "whitelist": "NEVER"})
    assert store.refused("RFID", uid, third, "2001 refused") is True
    stored = store.get("RFID", uid)
    assert stored is not None and stored.push_state is PushState.FAILED and stored.token["valid"] is False
    assert store.first_for_contract(token["contract_id"]).token["uid"] == uid  # type: ignore[union-attr]
    from roam_emp.ocpi.timestamps import parse_timestamp

    docs, total = store.list_updated(
        parse_timestamp("2026-01-02T00:00:00Z"), parse_timestamp("2026-01-02T00:00:01Z"), 0, 10
    )
    assert uid in [d["uid"] for d in docs] and total >= 1
    empty = store.list_updated(
        parse_timestamp("2026-01-03T00:00:00Z"), parse_timestamp("2026-01-02T00:00:00Z"), 0, 10
    )
    assert empty == ([], 0)  # a reversed range: BETWEEN would be refused by AWS, never sent


def test_authorizations_newest_first(backend: Backend) -> None:
    from roam_emp.store.authorizations import AuthorizationStore

    store = AuthorizationStore(backend.table(topology.AUTHORIZATIONS_TABLE))
    uid = unique("AUTH")
    for reference, stamp in (("a", "2026-01-01T00:00:00.5Z"), ("b", "2026-01-01T00:00:00Z")):
        store.record(
            {
                "authorization_reference": reference + uid,
                "token_type": "RFID",
                "token_uid": uid,
                "decided_at": stamp,
            }
        )
    assert [d["authorization_reference"] for d in store.for_token("RFID", uid)] == ["a" + uid, "b" + uid]


# --- locations: the status item on top of the location item (store/locations.py) ---------------


def _location_cache(backend: Backend) -> Any:
    from roam_emp.store.locations import LocationCache

    return LocationCache(backend.table(topology.LOCATIONS_TABLE))


def _full(raw: dict[str, Any]) -> Any:
    from roam_emp.ocpi.locations import Location
    from roam_emp.store.locations import IncomingLocation

    return IncomingLocation(Location.model_validate(raw), raw)


def _status_only(raw: dict[str, Any], stamp: str, status: str) -> Any:
    from roam_emp.ocpi.timestamps import parse_timestamp
    from roam_emp.store.locations import IncomingLocation, StatusChange

    changed = json.loads(json.dumps(raw))
    changed["evses"][0]["status"] = status
    changed["evses"][0]["last_updated"] = changed["last_updated"] = stamp
    change = StatusChange(parse_timestamp(stamp), [e["status"] for e in changed["evses"]])
    return IncomingLocation(None, changed, status_change=change)


def _a_location(location_id: str) -> dict[str, Any]:
    from .helpers import example

    return {**example("location_example.json"), "id": location_id}


def test_status_items_are_ordered_by_numeric_stamps_and_voided_by_a_new_location_item(
    backend: Backend,
) -> None:
    cache = _location_cache(backend)
    location_id = unique("LOCS")
    raw = _a_location(location_id)
    assert len(cache.upsert([_full(raw)]).created) == 1
    later = _status_only(raw, "2025-01-01T10:00:00.500Z", "CHARGING")
    earlier = _status_only(raw, "2025-01-01T10:00:00Z", "BLOCKED")  # sorts later as a string
    assert cache.upsert([later]).status_superseded == 0
    assert cache.upsert([earlier]).status_superseded == 1
    stored = cache.get(location_id)
    assert stored == later.raw
    assert cache.stored_hashes([location_id])[location_id].content_hash == later.content_hash
    summaries, _ = cache.query(country=raw["country"], include_unpublished=True)
    assert {s["id"]: s["evses"] for s in summaries}[location_id] == {"CHARGING": 1, "RESERVED": 1}
    # a new shape voids it; its old shape again (same content hash) deletes it
    reshaped = {**raw, "name": "another shape"}
    cache.upsert([_full(reshaped)])
    assert cache.get(location_id) == reshaped
    cache.upsert([_full(raw)])
    assert cache.get(location_id) == raw
    cache.remove([location_id])
    assert cache.get(location_id) is None and cache.stored_hashes([location_id]) == {}


def test_a_location_document_reads_back_in_either_compression(backend: Backend) -> None:
    """zstd (the default) or zlib (cdk.json location_doc_compression): the binary attribute
    comes back byte for byte, and every cache reads both (store/compression.py)."""
    from roam_emp.store.compression import ZSTD_MAGIC
    from roam_emp.store.locations import LocationCache, location_key

    table = backend.table(topology.LOCATIONS_TABLE)
    for codec in ("zstd", "zlib"):
        location_id = unique("LOCZ")
        raw = _a_location(location_id)
        LocationCache(table, codec).upsert([_full(raw)])
        item = aws.dynamodb().get_item(TableName=table, Key=location_key(location_id))["Item"]
        assert (item["doc"]["B"][:4] == ZSTD_MAGIC) == (codec == "zstd")
        for reader in ("zstd", "zlib"):
            assert LocationCache(table, reader).get(location_id) == raw


def test_two_status_changes_of_one_location_at_once_the_later_stays(backend: Backend) -> None:
    cache = _location_cache(backend)
    for _ in range(3):
        location_id = unique("LOCR")
        raw = _a_location(location_id)
        cache.upsert([_full(raw)])
        stored = cache.stored_hashes([location_id])
        changes = [
            _status_only(raw, "2025-01-01T10:00:00.250Z", "BLOCKED"),
            _status_only(raw, "2025-01-01T10:00:00.750Z", "CHARGING"),
        ]
        race(backend, *(lambda c=c, s=stored: cache.upsert([c], stored=s) for c in changes))
        assert cache.get(location_id) == changes[1].raw
