"""A CDR after its acknowledgement: refused bodies archived and reprocessable, a stored CDR
reprocessed, a CDR that came before its session re-linked when the session arrives
(docs/delivery.md)."""

from __future__ import annotations

import copy
import hashlib
import json

from roam_emp import topology
from roam_emp.store import aws

from .helpers import example, published
from .test_sessions_cdrs import Local, cdr_store, facts_of, fresh, hub, spec_cdr, unique

__all__ = ["fresh"]  # the fixture, shared with test_sessions_cdrs


def test_a_refused_body_is_archived_and_reprocessed_once_the_rule_is_fixed(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    bucket = rt.env[topology.CDR_ARCHIVE.env_var]
    broken = spec_cdr(unique("REF"))
    broken.pop("cdr_token")
    body = json.dumps(broken).encode()
    refused = client.post(
        f"{rt.url}/ocpi/2.2.1/cdrs", content=body, headers={"Content-Type": "application/json"}
    )
    assert (refused.status_code, refused.json()["status_code"]) == (400, 2001)
    key = f"rejected/{hashlib.sha256(body).hexdigest()}.json"
    archived = aws.platform_client("s3").get_object(Bucket=bucket, Key=key)
    assert archived["Body"].read() == body and "cdr_token" in archived["Metadata"]["reason"]
    # The current code still refuses it: the same 400, nothing stored.
    again = rt.admin("POST", "/admin/cdrs/reprocess", {"key": key})
    assert (again.status_code, again.json()["status_code"]) == (400, 2001)
    assert cdr_store(rt).get(broken["id"]) is None
    # A body an older, stricter rule refused (kept under rejected/) is stored and announced.
    valid = spec_cdr(unique("FIXED"))
    fixed_key = f"rejected/{hashlib.sha256(json.dumps(valid).encode()).hexdigest()}.json"
    aws.platform_client("s3").put_object(Bucket=bucket, Key=fixed_key, Body=json.dumps(valid).encode())
    answer = rt.admin("POST", "/admin/cdrs/reprocess", {"key": fixed_key}).json()
    assert answer["data"] == {"cdr_id": valid["id"], "outcome": "stored", "key": fixed_key}
    published(rt.events_out, "CdrReceived", lambda d: d["cdr_id"] == valid["id"])
    assert rt.admin("POST", "/admin/cdrs/reprocess", {"key": "elsewhere/x.json"}).status_code == 400


def test_a_stored_cdr_reprocessed_gets_new_facts_and_an_event(fresh: Local) -> None:
    rt, sim = fresh
    cdr = spec_cdr(unique("REP"))
    hub(sim).post(f"{rt.url}/ocpi/2.2.1/cdrs", json=cdr).raise_for_status()
    facts_of(rt, cdr["id"])
    stored = rt.admin("GET", f"/admin/cdrs/{cdr['id']}").json()["data"]
    assert stored["facts_round"] == 1 and stored["conflicts"] == []
    answer = rt.admin("POST", "/admin/cdrs/reprocess", {"key": stored["archive_key"]}).json()["data"]
    assert answer["outcome"] == "duplicate" and answer["enrichment_requested"] is True
    event = published(rt.events_out, "CdrFactsUpdated", lambda d: d["cdr_id"] == cdr["id"])
    assert (event["facts_round"], event["enrich_reason"]) == (2, "reprocess")


def test_a_cdr_before_its_session_is_linked_when_the_session_arrives(fresh: Local) -> None:
    """FAQ "Can a CDR be sent without a Session ID?": very short sessions can see the CDR first."""
    rt, sim = fresh
    client = hub(sim)
    session = copy.deepcopy(example("session_example_2_short_finished.json"))
    session_id = unique("EARLY")
    cdr = spec_cdr(session_id, session_id=session_id)
    cdr.update(country_code=session["country_code"], party_id=session["party_id"])
    client.post(f"{rt.url}/ocpi/2.2.1/cdrs", json=cdr).raise_for_status()
    assert facts_of(rt, session_id)["session_linked"] is False
    session["id"] = session_id
    url = f"{rt.url}/ocpi/2.2.1/sessions/{session['country_code']}/{session['party_id']}/{session_id}"
    assert client.put(url, json=session).json()["status_code"] == 1000
    event = published(rt.events_out, "CdrFactsUpdated", lambda d: d["cdr_id"] == session_id)
    assert event["session_linked"] is True and event["enrich_reason"] == "session arrived"
