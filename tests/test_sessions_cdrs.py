"""Sessions and CDRs pushed by Plugsurfing, over real HTTP into local mode."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from roam_emp import topology
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.ocpi.contract_id import normalize
from roam_emp.polling import wait_for
from roam_emp.simulator import RoamSimulator
from roam_emp.store import aws
from roam_emp.store.cdrs import CdrStore
from roam_emp.store.sessions import SessionStore

from .helpers import example, register

Local = tuple[LocalRuntime, RoamSimulator]
_n = iter(range(1_000_000))


def unique(prefix: str) -> str:
    return f"{prefix}{next(_n):05d}{int(time.time() * 1000) % 10**7:07d}"


@pytest.fixture
def fresh(local: Local) -> Iterator[Local]:
    rt, sim = local
    httpx.post(f"{sim.url}/_sim/chaos", json={})
    if not sim.state.registered:
        register(rt, sim).raise_for_status()
    yield rt, sim


def pushed_token(rt: LocalRuntime, sim: RoamSimulator, prefix: str) -> str:
    """A new token of ours, pushed to (and held by) the simulated Plugsurfing."""
    uid = unique(prefix)
    body = {"uid": uid, "type": "RFID", "contract_id": f"NLEMP{prefix[0]}{uid[-8:]}"}
    rt.admin("POST", "/admin/tokens", body).raise_for_status()
    wait_for(lambda: any(k.endswith(uid) for k in sim.state.tokens))
    return uid


def hub(sim: RoamSimulator) -> httpx.Client:
    """Calls to us as Plugsurfing makes them."""
    return httpx.Client(
        headers={"Authorization": encode_token(sim.state.our_token_for_emp or "")}, timeout=30
    )


def cdr_store(rt: LocalRuntime) -> CdrStore:
    return CdrStore(rt.env[topology.CDRS_TABLE.env_var], rt.env[topology.CDR_ARCHIVE.env_var])


def facts_of(rt: LocalRuntime, cdr_id: str) -> dict[str, Any]:
    """A CDR's facts, written back by the stream consumer after the acknowledgement."""
    return wait_for(lambda: (cdr_store(rt).get(cdr_id) or {}).get("facts"), 60)


def spec_cdr(cdr_id: str, **changes: Any) -> dict[str, Any]:
    cdr = copy.deepcopy(example("cdr_example.json"))
    cdr["id"] = cdr_id
    cdr["session_id"] = None
    cdr.pop("session_id")
    cdr.update(changes)
    return cdr


def test_spec_session_examples_put_and_patch(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    # The spec's examples come from different years: the start session is stamped after its own
    # PATCH examples, which our "never roll back" rule would ignore. Stamp it before them.
    session = {**example("session_example_1_simple_start.json"), "last_updated": "2019-06-23T08:00:00Z"}
    url = f"{rt.url}/ocpi/2.2.1/sessions/{session['country_code']}/{session['party_id']}/{session['id']}"
    assert client.put(url, json=session).json()["status_code"] == 1000
    total = example("session_patch_example_total_cost.json")  # 08:11
    periods = example("session_patch_example_charging_period.json")  # 08:16, carries total_cost too
    assert client.patch(url, json=total).json()["status_message"] == "Success"
    assert client.patch(url, json=periods).json()["status_message"] == "Success"
    stored = client.get(url).json()["data"]
    assert stored["total_cost"] == periods["total_cost"]
    assert stored["kwh"] == periods["kwh"]
    assert len(stored["charging_periods"]) == len(periods["charging_periods"])  # appended (spec)
    again = client.patch(url, json={**periods, "last_updated": "2019-06-23T08:20:00Z"})
    assert again.json()["status_message"] == "Success"
    # the same periods resent: identified by start_date_time, not appended twice
    assert len(client.get(url).json()["data"]["charging_periods"]) == len(periods["charging_periods"])
    finished = example("session_example_2_short_finished.json")
    finished_url = (
        f"{rt.url}/ocpi/2.2.1/sessions/{finished['country_code']}/{finished['party_id']}/{finished['id']}"
    )
    assert client.put(finished_url, json=finished).json()["status_code"] == 1000


def test_out_of_order_updates_never_roll_back(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    session = {**example("session_example_2_short_finished.json"), "id": unique("OOO")}
    url = f"{rt.url}/ocpi/2.2.1/sessions/{session['country_code']}/{session['party_id']}/{session['id']}"
    newer = {**session, "kwh": 15, "last_updated": "2026-06-01T12:00:00Z"}
    assert client.put(url, json=newer).status_code == 200
    stale_patch = client.patch(url, json={"kwh": 3, "last_updated": "2026-06-01T11:00:00Z"})
    assert stale_patch.status_code == 200 and "ignored" in stale_patch.json()["status_message"]
    stale_put = client.put(url, json={**session, "kwh": 1, "last_updated": "2026-06-01T10:00:00Z"})
    assert "ignored" in stale_put.json()["status_message"]
    assert client.get(url).json()["data"]["kwh"] == 15


def test_patch_of_unknown_session_and_patch_without_last_updated(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    unknown = client.patch(
        f"{rt.url}/ocpi/2.2.1/sessions/DE/ABC/NOPE", json={"kwh": 1, "last_updated": "2026-01-01T00:00:00Z"}
    )
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2001)
    no_stamp = client.patch(f"{rt.url}/ocpi/2.2.1/sessions/DE/ABC/NOPE", json={"kwh": 1})
    assert (no_stamp.status_code, no_stamp.json()["status_code"]) == (400, 2001)
    assert "last_updated" in no_stamp.json()["status_message"]
    mismatch = client.put(
        f"{rt.url}/ocpi/2.2.1/sessions/DE/ABC/ONE", json={**example("session_example_1_simple_start.json")}
    )
    assert mismatch.status_code == 400 and "differs from the URL" in mismatch.json()["status_message"]
    assert httpx.get(f"{rt.url}/ocpi/2.2.1/sessions/DE/ABC/ONE").status_code == 401


def test_full_flow_session_then_cdr(fresh: Local) -> None:
    rt, sim = fresh
    uid = pushed_token(rt, sim, "FLOW")
    run = httpx.post(
        f"{sim.url}/_sim/sessions/run",
        json={"token_uid": uid, "patches": 4, "original_protocol": "OCPI-2.1.1"},
        timeout=60,
    ).json()
    assert run["session_statuses"] == [200] * 6 and run["cdr_status"] == 200
    location = sim.state.network.locations[sorted(sim.state.network.locations)[0]]
    stored = SessionStore(rt.env[topology.SESSIONS_TABLE.env_var]).get(
        location["country_code"], location["party_id"], run["session_id"]
    )
    assert stored is not None and stored["status"] == "COMPLETED" and stored["kwh"] == 10.0
    assert "authorization_reference" not in stored  # allowed: offline starts, 2.1.1 CPOs (FAQ)
    cdr = cdr_store(rt).get(run["cdr_id"])
    assert cdr is not None
    facts = facts_of(rt, run["cdr_id"])
    assert facts["session_linked"] is True
    assert facts["token_match"] == {
        "method": "uid",
        "token_uid": uid,
        "token_type": "RFID",
        "ambiguous": False,
    }
    assert facts["x_original_protocol"] == "OCPI-2.1.1"
    assert facts["cost_check"]["status"] == "OK"  # recomputed from its tariff and periods
    assert cdr["cdr"]["cdr_token"]["contract_id"] == normalize(f"NLEMPF{uid[-8:]}")
    archived = aws.client("s3").get_object(
        Bucket=rt.env[topology.CDR_ARCHIVE.env_var], Key=cdr["archive_key"]
    )
    assert b'"total_energy"' in archived["Body"].read()


def test_cdr_examples_duplicates_and_conflicts(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    cdr = spec_cdr(unique("CDR"))
    first = client.post(f"{rt.url}/ocpi/2.2.1/cdrs", json=cdr)
    assert (first.status_code, first.json()["status_code"]) == (200, 1000)
    assert first.headers["Location"] == f"{rt.url}/ocpi/2.2.1/cdrs/{cdr['id']}"
    again = client.post(
        f"{rt.url}/ocpi/2.2.1/cdrs",
        content=httpx.Request("POST", "/", json=cdr).content.replace(b",", b", "),
        headers={"Content-Type": "application/json"},
    )
    assert again.status_code == 200  # a retry, formatted differently: one record
    assert cdr_store(rt).conflicts(cdr["id"]) == []
    assert facts_of(rt, cdr["id"])["cost_check"]["status"] == "OK"
    different = {**cdr, "total_energy": 99}
    assert client.post(f"{rt.url}/ocpi/2.2.1/cdrs", json=different).status_code == 200
    assert len(cdr_store(rt).conflicts(cdr["id"])) == 1
    assert (
        client.get(f"{rt.url}/ocpi/2.2.1/cdrs/{cdr['id']}").json()["data"]["total_energy"]
        == cdr["total_energy"]
    )


def test_relaxed_cdr_is_accepted_and_malformed_is_refused(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    relaxed = spec_cdr(unique("LONG"))
    relaxed["cdr_location"]["address"] = (
        "Industriepark Nord, Zufahrt über Tor 4, Halle 7, Ladepark hinten links " * 2
    )
    relaxed["cdr_location"]["connector_standard"] = "Type2"
    answer = client.post(f"{rt.url}/ocpi/2.2.1/cdrs", json=relaxed)
    assert answer.status_code == 200
    assert facts_of(rt, relaxed["id"])["deviations"] == {"long_string": 1, "unknown_enum": 1}
    broken = spec_cdr(unique("BAD"))
    broken.pop("cdr_token")
    refused = client.post(f"{rt.url}/ocpi/2.2.1/cdrs", json=broken)
    assert (refused.status_code, refused.json()["status_code"]) == (400, 2001)
    assert "cdr_token" in refused.json()["status_message"]
    assert cdr_store(rt).get(broken["id"]) is None


def test_token_matching_by_contract_id_and_credit_flag(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    contract = f"NLEMPM{int(time.time() * 1000) % 10**8:08d}"
    for uid in (unique("M1"), unique("M2")):
        rt.admin(
            "POST", "/admin/tokens", {"uid": uid, "type": "RFID", "contract_id": contract}
        ).raise_for_status()
    token = {
        "country_code": "NL",
        "party_id": "EMP",
        "uid": "NOT-OURS",
        "type": "RFID",
        "contract_id": normalize(contract),
    }
    cdr = spec_cdr(unique("MATCH"), cdr_token=token, credit=True)
    answer = client.post(f"{rt.url}/ocpi/2.2.1/cdrs", json=cdr, headers={"X-Original-Protocol": "OCPI-2.1.1"})
    assert answer.status_code == 200
    facts = facts_of(rt, cdr["id"])
    assert facts["token_match"]["method"] == "contract_id" and facts["token_match"]["ambiguous"] is True
    assert facts["credit"] is True
    lonely = spec_cdr(unique("NONE"), cdr_token={**token, "contract_id": "XX-XXX-NOBODY000-1"})
    client.post(f"{rt.url}/ocpi/2.2.1/cdrs", json=lonely).raise_for_status()
    assert facts_of(rt, lonely["id"])["token_match"]["method"] == "none"


def test_store_failure_answers_non_200_and_the_resend_lands(fresh: Local) -> None:
    rt, sim = fresh
    s3 = aws.client("s3")
    bucket = rt.env[topology.CDR_ARCHIVE.env_var]
    uid = pushed_token(rt, sim, "FAIL")
    # Inject the failure: the archive bucket is gone.
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)
    try:
        run = httpx.post(
            f"{sim.url}/_sim/sessions/run", json={"token_uid": uid, "patches": 1}, timeout=60
        ).json()
        # Not acknowledged: the item may have landed (the two writes run side by side), the
        # archive has not, so Plugsurfing resends.
        assert run["cdr_status"] == 503
    finally:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    resent = httpx.post(f"{sim.url}/_sim/cdrs/resend", timeout=60).json()
    assert resent["resent"][run["cdr_id"]] == 200
    assert resent["still_unacknowledged"] == 0
    stored = cdr_store(rt).get(run["cdr_id"])
    assert stored is not None and cdr_store(rt).read_archive(stored["archive_key"]) is not None


def test_support_bundle_has_what_plugsurfing_asks_for(
    fresh: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    from roam_emp.cli import main
    from roam_emp.config import settings
    from roam_emp.domain.location_pull import LocationPuller
    from roam_emp.store.pull_state import PullMode

    rt, sim = fresh
    httpx.post(f"{sim.url}/_sim/locations/reset", json={"size": 30, "pull_min_interval_s": 0})
    puller = LocationPuller.from_settings(dataclasses.replace(settings(), location_pull_min_interval_s=0))
    assert (
        puller.run(PullMode.FULL, time_left_s=lambda: 900).status == "completed"
    )  # operator comes from here
    uid = pushed_token(rt, sim, "SUP")
    run = httpx.post(
        f"{sim.url}/_sim/sessions/run",
        json={"token_uid": uid, "patches": 1, "original_protocol": "OICP-2.3"},
        timeout=60,
    ).json()

    # the CDR's facts come after its acknowledgement (the outbox relay)
    def enriched() -> dict[str, Any] | None:
        data: dict[str, Any] = rt.admin("GET", f"/admin/support?session_id={run['session_id']}").json()[
            "data"
        ]
        return data if data["fields"].get("cdr_enrichment") == "done" else None

    answer = wait_for(enriched, 60)
    fields = answer["fields"]
    for key in (
        "environment",
        "timestamp",
        "token_uid",
        "contract_id",
        "cpo",
        "operator",
        "evse_uid",
        "evse_id",
        "session_id",
        "x_original_protocol",
        "cdr_id",
        "cdr_cost_check",
    ):
        assert key in fields, key
    assert fields["token_uid"] == uid and fields["x_original_protocol"] == "OICP-2.3"
    assert f"Session id: {run['session_id']}" in answer["text"]
    # The calls, from the functions' log groups (local mode ships the lines to moto's CloudWatch
    # Logs; the bundle searches them with Logs Insights as it does in AWS).

    def calls() -> list[dict[str, Any]]:
        data = rt.admin("GET", f"/admin/support?session_id={run['session_id']}").json()["data"]
        found = data["fields"].get("calls", [])
        return found if any(c.get("request_path") == "/ocpi/2.2.1/cdrs" for c in found) else []

    found = wait_for(calls)
    session_path = next(
        c["request_path"] for c in found if c.get("request_path", "").endswith(f"/{run['session_id']}")
    )
    assert session_path.startswith("/ocpi/2.2.1/sessions/")
    puts = [c for c in found if c.get("request_method") == "PUT" and c.get("request_path") == session_path]
    assert puts and puts[0]["http_status"] == 200 and puts[0]["status_code"] == 1000
    assert puts[0]["x_request_id"] and puts[0]["x_original_protocol"] == "OICP-2.3"
    assert {c.get("request_method") for c in found if c.get("request_path") == session_path} == {
        "PUT",
        "PATCH",
    }
    text = rt.admin("GET", f"/admin/support?session_id={run['session_id']}").json()["data"]["text"]
    assert f"PUT {session_path} to us -> HTTP 200, OCPI 1000 [X-Request-ID " in text
    skipped = rt.admin("GET", f"/admin/support?session_id={run['session_id']}&logs=false").json()["data"]
    assert "calls" not in skipped["fields"]
    assert rt.admin("GET", f"/admin/support?session_id={run['session_id']}&hours=0").status_code == 400
    assert main(["support-bundle", "--api", rt.url, "--token-uid", uid]) == 0
    printed = capsys.readouterr().out
    assert f"Token uid: {uid}" in printed and "Token push state: PUSHED" in printed
    assert rt.admin("GET", "/admin/support").status_code == 400
