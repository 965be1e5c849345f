"""Remote start/stop through Plugsurfing (the simulator), results at our response_url, and the
full flow start -> session -> kWh PATCHes -> stop -> CDR, over real HTTP."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from roam_emp import topology
from roam_emp.config import settings
from roam_emp.domain.commands import DEFAULT_RESULT_TIMEOUT_S, RESULT_GRACE_S
from roam_emp.domain.location_pull import LocationPuller
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.ocpi.timestamps import parse_timestamp, utcnow
from roam_emp.polling import wait_for
from roam_emp.simulator import RoamSimulator
from roam_emp.store.cdrs import CdrStore
from roam_emp.store.pull_state import PullMode
from roam_emp.store.sessions import SessionStore

from .helpers import published, register

Local = tuple[LocalRuntime, RoamSimulator]
_n = iter(range(1_000_000))


@pytest.fixture(scope="module")
def ready(local: Local) -> Iterator[tuple[LocalRuntime, RoamSimulator, str]]:
    """Registered, a small network in the cache, and a pushed token."""
    rt, sim = local
    httpx.post(f"{sim.url}/_sim/chaos", json={})
    httpx.post(f"{sim.url}/_sim/locations/reset", json={"size": 50, "pull_min_interval_s": 0})
    if not sim.state.registered:
        register(rt, sim).raise_for_status()
    puller = LocationPuller.from_settings(dataclasses.replace(settings(), location_pull_min_interval_s=0))
    assert puller.run(PullMode.FULL, time_left_s=lambda: 900).status == "completed"
    uid = f"CMD{int(time.time() * 1000) % 10**8:08d}"
    rt.admin(
        "POST", "/admin/tokens", {"uid": uid, "type": "RFID", "contract_id": f"NLEMPK{uid[-8:]}"}
    ).raise_for_status()
    wait_for(
        lambda: rt.admin("GET", f"/admin/tokens/{uid}?type=RFID").json()["data"]["push_state"] == "PUSHED"
    )
    yield rt, sim, uid
    httpx.post(f"{sim.url}/_sim/commands/behaviour", json={})


def command(rt: LocalRuntime, name: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return rt.admin("POST", f"/admin/commands/{name}", body)


def state(rt: LocalRuntime, command_id: str) -> dict[str, Any]:
    return rt.admin("GET", f"/admin/commands/{command_id}").json()["data"]  # type: ignore[no-any-return]


def test_start_stop_session_and_cdr(ready: tuple[LocalRuntime, RoamSimulator, str]) -> None:
    rt, sim, uid = ready
    location_id = sorted(sim.state.network.locations)[3]
    started = command(rt, "START_SESSION", {"token_uid": uid, "location_id": location_id})
    assert started.status_code == 200, started.text
    start = started.json()["data"]
    assert start["state"] == "ACCEPTED" and start["response"] == {"result": "ACCEPTED", "timeout": 30}
    sent = sim.state.commands[-1]["body"]
    assert sent["response_url"] == f"{rt.url}/ocpi/2.2.1/commands/START_SESSION/{start['command_id']}"
    assert sent["token"]["uid"] == uid  # the token as we pushed it
    wait_for(lambda: state(rt, start["command_id"]).get("result") == {"result": "ACCEPTED"})
    session_id = wait_for(lambda: next(iter(httpx.get(f"{sim.url}/_sim/sessions/active").json()), None))
    location = sim.state.network.locations[location_id]
    sessions = SessionStore(rt.env[topology.SESSIONS_TABLE.env_var])
    active = wait_for(lambda: sessions.get(location["country_code"], location["party_id"], session_id))
    assert active["status"] == "ACTIVE" and active["auth_method"] == "COMMAND"
    assert active["authorization_reference"] == sent["authorization_reference"]
    stop = command(rt, "STOP_SESSION", {"session_id": session_id}).json()["data"]
    assert stop["state"] == "ACCEPTED"
    wait_for(
        lambda: (
            state(rt, stop["command_id"]).get("state") == "ACCEPTED"
            and state(rt, stop["command_id"]).get("result")
        )
    )
    cdrs = CdrStore(rt.env[topology.CDRS_TABLE.env_var], rt.env[topology.CDR_ARCHIVE.env_var])
    cdr = wait_for(lambda: (cdrs.get(session_id) or {}).get("facts") and cdrs.get(session_id))
    assert cdr["facts"]["session_linked"] is True and cdr["facts"]["token_match"]["token_uid"] == uid
    final = sessions.get(location["country_code"], location["party_id"], session_id)
    assert final is not None and final["status"] == "COMPLETED" and final["kwh"] == 5.0


def test_start_refusals(ready: tuple[LocalRuntime, RoamSimulator, str]) -> None:
    rt, sim, uid = ready
    sent_before = len(sim.state.commands)
    unknown_location = command(rt, "START_SESSION", {"token_uid": uid, "location_id": "NOWHERE"})
    assert (unknown_location.status_code, unknown_location.json()["status_code"]) == (404, 2003)
    unknown_token = command(rt, "START_SESSION", {"token_uid": "NEVER", "location_id": "LOC0000001"})
    assert (unknown_token.status_code, unknown_token.json()["status_code"]) == (404, 2004)
    missing = command(rt, "START_SESSION", {"location_id": "LOC0000001"})
    assert missing.status_code == 400 and "token_uid" in missing.json()["status_message"]
    # A token not yet pushed to Plugsurfing (its push keeps failing here) cannot start a session.
    queued = f"Q{next(_n):04d}{int(time.time() * 1000) % 10**7:07d}"
    httpx.post(
        f"{sim.url}/_sim/chaos",
        json={"route": f"PUT /ocpi/cpo/2.2.1/tokens/NL/EMP/{queued}", "fail_next": [503] * 30},
    )
    rt.admin("POST", "/admin/tokens", {"uid": queued, "type": "RFID", "contract_id": f"NLEMPQ{queued[-8:]}"})
    refused = command(rt, "START_SESSION", {"token_uid": queued, "location_id": "LOC0000001"})
    assert refused.status_code == 409 and "not yet pushed" in refused.json()["status_message"]
    httpx.post(f"{sim.url}/_sim/chaos", json={})
    assert len(sim.state.commands) == sent_before  # none of these reached Plugsurfing


@pytest.mark.parametrize("name", ["RESERVE_NOW", "CANCEL_RESERVATION", "UNLOCK_CONNECTOR"])
def test_unsupported_commands_are_answered_locally(
    ready: tuple[LocalRuntime, RoamSimulator, str], name: str
) -> None:
    rt, sim, _ = ready
    sent_before = len(sim.state.commands)
    answer = command(rt, name, {"location_id": "LOC0000001"}).json()["data"]
    assert answer["state"] == "NOT_SUPPORTED" and answer["response"]["result"] == "NOT_SUPPORTED"
    assert len(sim.state.commands) == sent_before
    assert command(rt, "SELF_DESTRUCT").status_code == 400


def run_timer(rt: LocalRuntime) -> list[str]:
    """One tick of the commands' timer (an EventBridge schedule in AWS; the schedules of this
    module's local mode are off, so the test decides when it ticks)."""
    timer = next(f for f in topology.FUNCTIONS if f.name == "CommandTimeouts")
    return rt.invoker.invoke(timer, {})["timed_out"]  # type: ignore[no-any-return]


@pytest.fixture
def behaviour(ready: tuple[LocalRuntime, RoamSimulator, str]) -> Iterator[Callable[..., None]]:
    _, sim, _ = ready

    def set_behaviour(**body: Any) -> None:
        httpx.post(f"{sim.url}/_sim/commands/behaviour", json=body).raise_for_status()

    yield set_behaviour
    set_behaviour()
    for session_id in httpx.get(f"{sim.url}/_sim/sessions/active").json():
        sim.state.active_sessions.pop(session_id, None)


def test_no_result_in_time_times_out_by_the_timer_without_a_reader(
    ready: tuple[LocalRuntime, RoamSimulator, str], behaviour: Callable[..., None]
) -> None:
    rt, _, uid = ready
    behaviour(callbacks=False, timeout=1)
    start = command(rt, "START_SESSION", {"token_uid": uid, "location_id": "LOC0000002"}).json()["data"]
    assert start["state"] == "ACCEPTED"
    # Nobody GETs the command: the timer decides, and the event comes from the store.
    wait_for(lambda: start["command_id"] in run_timer(rt), seconds=60, interval=1)
    event = published(
        rt.events_out, "CommandResultReceived", lambda d: d["command_id"] == start["command_id"]
    )
    assert event["result"] == "TIMEOUT" and event["source"] == "timer"
    assert state(rt, start["command_id"])["state"] == "TIMEOUT"
    assert start["command_id"] not in run_timer(rt)  # once


def test_a_result_racing_the_senders_own_write_is_kept(
    ready: tuple[LocalRuntime, RoamSimulator, str], behaviour: Callable[..., None]
) -> None:
    """mod_commands: the CPO may post the CommandResult before we stored its CommandResponse."""
    rt, _, uid = ready
    behaviour(result_first=True, result="EVSE_OCCUPIED", timeout=1)
    start = command(rt, "START_SESSION", {"token_uid": uid, "location_id": "LOC0000003"}).json()["data"]
    assert start["response"]["result"] == "ACCEPTED"  # the CPO's synchronous answer, stored after...
    assert start["result"] == {"result": "EVSE_OCCUPIED"}  # ...the result, which it did not undo
    assert start["state"] == "EVSE_OCCUPIED"
    time.sleep(7)  # past the due time (1 s + grace): the timer must not downgrade it to TIMEOUT
    assert start["command_id"] not in run_timer(rt)
    assert state(rt, start["command_id"])["state"] == "EVSE_OCCUPIED"
    event = published(
        rt.events_out, "CommandResultReceived", lambda d: d["command_id"] == start["command_id"]
    )
    assert event["result"] == "EVSE_OCCUPIED" and event["source"] == "cpo"
    # Plugsurfing resends the same result: answered 1000, nothing changes.
    again = httpx.post(
        start["request"]["response_url"],
        json={"result": "EVSE_OCCUPIED"},
        headers={"Authorization": encode_token(ready[1].state.our_token_for_emp or "")},
    )
    assert again.json()["status_code"] == 1000
    assert state(rt, start["command_id"])["result_source"] == "cpo"


def test_accepted_without_timeout_is_accepted(
    ready: tuple[LocalRuntime, RoamSimulator, str], behaviour: Callable[..., None]
) -> None:
    rt, _, uid = ready
    behaviour(callbacks=False, timeout=None)
    start = command(rt, "START_SESSION", {"token_uid": uid, "location_id": "LOC0000004"}).json()["data"]
    assert start["state"] == "ACCEPTED" and "timeout" not in start["response"]
    due = parse_timestamp(start["result_due_by"])
    expected = utcnow() + timedelta(seconds=DEFAULT_RESULT_TIMEOUT_S + RESULT_GRACE_S)
    assert abs((due - expected).total_seconds()) < 30


def test_result_for_an_unknown_command_is_404(ready: tuple[LocalRuntime, RoamSimulator, str]) -> None:
    rt, sim, _ = ready
    answer = httpx.post(
        f"{sim.url}/_sim/call",
        json={
            "method": "POST",
            "url": f"{rt.url}/ocpi/2.2.1/commands/START_SESSION/nope",
            "body": {"result": "ACCEPTED"},
        },
    )
    assert answer.json()["status"] == 404
