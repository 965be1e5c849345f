"""Token pushes through the SQS FIFO queue to the simulator, over real HTTP (local mode)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from roam_emp import topology
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.ocpi.contract_id import contract_key, normalize
from roam_emp.ocpi.timestamps import parse_timestamp
from roam_emp.polling import wait_for
from roam_emp.simulator import RoamSimulator
from roam_emp.store import aws
from tests.helpers import calm_and_registered

Local = tuple[LocalRuntime, RoamSimulator]
_serial = iter(range(10_000_000))


def new_uid() -> str:
    return f"T{next(_serial):07d}{int(time.time() * 1000) % 100000:05d}"


def token(uid: str, contract: str = "NLEMPC00000001", **extra: Any) -> dict[str, Any]:
    return {"uid": uid, "type": "RFID", "contract_id": contract, **extra}


def sim_post(sim: RoamSimulator, path: str, body: dict[str, Any] | None = None) -> Any:
    return httpx.post(f"{sim.url}/_sim/{path}", json=body or {}, timeout=30).json()


def sim_tokens(sim: RoamSimulator) -> dict[str, Any]:
    return httpx.get(f"{sim.url}/_sim/tokens").json()  # type: ignore[no-any-return]


def state_of(rt: LocalRuntime, uid: str) -> dict[str, Any]:
    return rt.admin("GET", f"/admin/tokens/{uid}?type=RFID").json()["data"]  # type: ignore[no-any-return]


def pushed(rt: LocalRuntime, uid: str) -> dict[str, Any]:
    return wait_for(lambda: (s := state_of(rt, uid))["push_state"] != "QUEUED" and s)  # type: ignore[no-any-return]


@pytest.fixture
def fresh(local: Local) -> Iterator[Local]:
    calm_and_registered(*local)
    yield local
    sim_post(local[1], "chaos", {})


def test_contract_id_forms_share_one_key() -> None:
    assert normalize("DE8PSABCDEFGHI1") == "DE-8PS-ABCDEFGHI-1"
    assert normalize("de8psabcdefghi") == "DE-8PS-ABCDEFGHI"
    assert contract_key("DE-8PS-ABCDEFGHI-1") == contract_key("DE8PSABCDEFGHI1") == "DE8PSABCDEFGHI1"
    assert contract_key("DE*8PS*ABCDEFGHI*1") == "DE8PSABCDEFGHI1"
    assert normalize("short") == "short"


def test_admin_token_is_queued_then_pushed_with_our_party(fresh: Local) -> None:
    rt, sim = fresh
    uid = new_uid()
    answer = rt.admin("POST", "/admin/tokens", token(uid, visual_number="NL-EMP-C00000001"))
    assert answer.status_code == 202, answer.text
    assert answer.json()["data"]["push_state"] == "QUEUED"
    state = pushed(rt, uid)
    assert state["push_state"] == "PUSHED", state
    stored = sim_tokens(sim)["tokens"][f"NL/EMP/RFID/{uid}"]
    assert stored["country_code"] == "NL" and stored["party_id"] == "EMP"  # filled in for the EMP
    assert stored["whitelist"] == "ALLOWED_OFFLINE" and stored["valid"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (token("X1", type="AD_HOC_USER"), "AD_HOC_USER"),
        (token("X2", contract="FRXYZC00000001"), "prefix FRXYZ is not registered"),
        (token("X" * 37), "uid"),
        (token("X3", whitelist="SOMETIMES"), "whitelist"),
        (token("X4", country_code="DE", party_id="ABC"), "country_code/party_id must be ours"),
        ({"uid": "X5", "type": "RFID"}, "contract_id"),
    ],
)
def test_rejections_before_queueing(fresh: Local, body: dict[str, Any], field: str) -> None:
    rt, _ = fresh
    answer = rt.admin("POST", "/admin/tokens", body)
    assert answer.status_code == 400
    assert answer.json()["status_code"] == 2001
    assert field in answer.json()["status_message"]
    assert rt.admin("GET", f"/admin/tokens/{body['uid']}?type=RFID").status_code == 404  # not stored


def test_at_most_25_tokens_per_contract_id_in_any_form(fresh: Local) -> None:
    rt, _ = fresh
    contract = f"DE8PSL{int(time.time() * 1000) % 10**8:08d}1"
    for _ in range(25):
        assert rt.admin("POST", "/admin/tokens", token(new_uid(), contract)).status_code == 202
    dashed = normalize(contract)  # how Plugsurfing writes it back (FAQ)
    refused = rt.admin("POST", "/admin/tokens", token(new_uid(), dashed))
    assert refused.status_code == 400 and "at most 25" in refused.json()["status_message"]


def test_patch_disables_and_unknown_or_fixed_fields_are_refused(fresh: Local) -> None:
    rt, sim = fresh
    uid = new_uid()
    rt.admin("POST", "/admin/tokens", token(uid))
    pushed(rt, uid)
    answer = rt.admin("PATCH", f"/admin/tokens/{uid}?type=RFID", {"valid": False})
    assert answer.status_code == 202
    wait_for(lambda: sim_tokens(sim)["tokens"][f"NL/EMP/RFID/{uid}"]["valid"] is False)
    assert pushed(rt, uid)["push_state"] == "PUSHED"
    assert rt.admin("PATCH", "/admin/tokens/NOPE?type=RFID", {"valid": False}).json()["status_code"] == 2004
    assert rt.admin("PATCH", f"/admin/tokens/{uid}?type=RFID", {"uid": "other"}).status_code == 400


def test_changes_to_one_token_arrive_in_order(fresh: Local) -> None:
    rt, sim = fresh
    first, second = new_uid(), new_uid()
    for uid in (first, second):
        rt.admin("POST", "/admin/tokens", token(uid)).raise_for_status()

    def change(i: int) -> int:
        uid = first if i % 2 == 0 else second
        return rt.admin("PATCH", f"/admin/tokens/{uid}?type=RFID", {"visual_number": f"V{i:03d}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(change, range(40))) == {202}
    for uid in (first, second):
        final = wait_for(lambda u=uid: (s := state_of(rt, u))["push_state"] == "PUSHED" and s)
        log = [e["body"] for e in sim_tokens(sim)["log"] if e["key"] == f"NL/EMP/RFID/{uid}"]
        stamps = [parse_timestamp(body["last_updated"]) for body in log]  # times, never strings
        assert stamps == sorted(stamps), "an older change overtook a newer one"
        assert log[-1] == final["token"]  # Plugsurfing ends with exactly our latest state
        assert sim_tokens(sim)["tokens"][f"NL/EMP/RFID/{uid}"] == final["token"]


def test_a_429_is_retried_until_pushed(fresh: Local) -> None:
    rt, sim = fresh
    uid = new_uid()
    sim_post(
        sim, "chaos", {"route": f"PUT /ocpi/cpo/2.2.1/tokens/NL/EMP/{uid}", "fail_next": [429, 429, 429]}
    )
    rt.admin("POST", "/admin/tokens", token(uid)).raise_for_status()
    assert wait_for(lambda: state_of(rt, uid)["push_state"] == "PUSHED")
    assert f"NL/EMP/RFID/{uid}" in sim_tokens(sim)["tokens"]


def test_repeated_hub_failures_end_in_the_dead_letter_queue(fresh: Local) -> None:
    rt, sim = fresh
    uid = new_uid()
    attempts = topology.TOKEN_PUSH_QUEUE.max_receive_count * 2  # two HTTP tries per delivery
    sim_post(
        sim, "chaos", {"route": f"PUT /ocpi/cpo/2.2.1/tokens/NL/EMP/{uid}", "fail_next": [503] * attempts}
    )
    rt.admin("POST", "/admin/tokens", token(uid)).raise_for_status()
    state = wait_for(lambda: (s := state_of(rt, uid))["push_state"] == "FAILED" and s, seconds=90)
    assert "dead-letter" in state["push_error"]
    sqs = aws.client("sqs")
    dlq = sqs.get_queue_url(QueueName="roam-emp-token-push-dlq.fifo")["QueueUrl"]

    def dead_letters() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [m for m in messages.get("Messages", []) if json.loads(m["Body"])["uid"] == uid]

    assert wait_for(dead_letters, seconds=20)


def test_plugsurfing_refusal_is_failed_with_its_ocpi_error(fresh: Local) -> None:
    rt, sim = fresh
    uid = new_uid()
    sim_post(sim, "chaos", {"route": f"PUT /ocpi/cpo/2.2.1/tokens/NL/EMP/{uid}", "fail_next": [400]})
    rt.admin("POST", "/admin/tokens", token(uid)).raise_for_status()
    state = pushed(rt, uid)
    assert state["push_state"] == "FAILED"
    assert "HTTP 400" in state["push_error"]


def test_a_refused_change_does_not_poison_the_next_push(fresh: Local) -> None:
    rt, sim = fresh
    uid = new_uid()
    key = f"NL/EMP/RFID/{uid}"
    rt.admin("POST", "/admin/tokens", token(uid, visual_number="CARD-1")).raise_for_status()
    assert pushed(rt, uid)["push_state"] == "PUSHED"
    sim_post(sim, "chaos", {"route": f"PUT /ocpi/cpo/2.2.1/tokens/NL/EMP/{uid}", "fail_next": [400]})
    rt.admin("PATCH", f"/admin/tokens/{uid}?type=RFID", {"visual_number": "REFUSED"}).raise_for_status()
    refused = pushed(rt, uid)
    assert refused["push_state"] == "FAILED" and refused["refused"]["visual_number"] == "REFUSED"
    assert refused["token"]["visual_number"] == "CARD-1"  # back at what Plugsurfing holds
    # the card is lost: this push must carry valid=false, and nothing Plugsurfing refused
    rt.admin("PATCH", f"/admin/tokens/{uid}?type=RFID", {"valid": False}).raise_for_status()
    assert pushed(rt, uid)["push_state"] == "PUSHED"
    held = sim_tokens(sim)["tokens"][key]
    assert (held["valid"], held["visual_number"]) == (False, "CARD-1")


def test_a_plain_token_put_straight_on_the_queue_is_pushed(fresh: Local) -> None:
    rt, sim = fresh
    uid = new_uid()
    aws.client("sqs").send_message(
        QueueUrl=rt.env[topology.TOKEN_PUSH_QUEUE.env_var],
        MessageBody=json.dumps(token(uid)),
        MessageGroupId=f"RFID#{uid}",
        MessageDeduplicationId=uid,
    )
    wait_for(lambda: f"NL/EMP/RFID/{uid}" in sim_tokens(sim)["tokens"])
    assert pushed(rt, uid)["push_state"] == "PUSHED"


def test_tokens_sender_list_is_paged(fresh: Local) -> None:
    rt, sim = fresh
    created = [rt.admin("POST", "/admin/tokens", token(new_uid())).json()["data"] for _ in range(5)]
    since = created[0]["token"]["last_updated"]
    headers = {"Authorization": encode_token(sim.state.our_token_for_emp or "")}
    first = httpx.get(
        f"{rt.url}/ocpi/2.2.1/tokens", params={"date_from": since, "limit": "2"}, headers=headers
    )
    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == "5" and first.headers["X-Limit"] == "100"
    assert len(first.json()["data"]) == 2
    next_url = first.headers["Link"].split(">")[0].lstrip("<")
    assert "offset=2" in next_url
    second = httpx.get(next_url, headers=headers).json()["data"]
    assert not {t["uid"] for t in first.json()["data"]} & {t["uid"] for t in second}
    assert httpx.get(f"{rt.url}/ocpi/2.2.1/tokens").status_code == 401


def test_plugsurfing_asks_us_to_authorize_over_http(fresh: Local) -> None:
    rt, sim = fresh
    uid = new_uid()
    rt.admin("POST", "/admin/tokens", token(uid)).raise_for_status()
    answer = sim_post(sim, "authorize", {"uid": uid, "type": "RFID", "location_id": "LOC-NOT-CACHED"})
    assert answer["status"] == 200
    info = answer["body"]["data"]
    assert info["allowed"] == "ALLOWED" and info["token"]["uid"] == uid
    assert info["location"] == {"location_id": "LOC-NOT-CACHED"}
    unknown = sim_post(sim, "authorize", {"uid": "NEVER-SEEN"})
    assert (unknown["status"], unknown["body"]["status_code"]) == (404, 2004)
    no_token = httpx.post(f"{rt.url}/ocpi/2.2.1/tokens/{uid}/authorize?type=RFID")
    assert no_token.status_code == 401
    recent = state_of(rt, uid)["recent_authorizations"]
    assert recent[0]["allowed"] == "ALLOWED"


@pytest.mark.parametrize(
    "body", ["{}", '{"location_id": null}', '{"evse_uids": ["E1"]}', "[]", "{not json"], ids=repr
)
def test_a_known_token_always_gets_an_authorization_info(fresh: Local, body: str) -> None:
    rt, sim = fresh
    uid = new_uid()
    rt.admin("POST", "/admin/tokens", token(uid)).raise_for_status()
    answer = httpx.post(
        f"{rt.url}/ocpi/2.2.1/tokens/{uid}/authorize?type=RFID",
        content=body,
        headers={
            "Authorization": encode_token(sim.state.our_token_for_emp or ""),
            "Content-Type": "application/json",
        },
    )
    assert (answer.status_code, answer.json()["status_code"]) == (200, 1000)
    info = answer.json()["data"]
    assert info["allowed"] == "ALLOWED" and "no location reference" in info["info"]["text"]
    assert "location" not in info
