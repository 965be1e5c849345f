"""Ids are CiString in OCPI 2.2.1 (types.asciidoc: "Case Insensitive String"): token uids,
location, EVSE, session and CDR ids match whatever their case (issue 10), every store keys them by
``ocpi.common.ci_key`` and the documents keep the spelling received (moto in-process)."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.config import settings
from roam_emp.domain.authorization import Authorizer, LocationReferences
from roam_emp.domain.cdrs import CdrService
from roam_emp.domain.location_pull import LocationPuller
from roam_emp.domain.sessions import SessionService
from roam_emp.domain.token_match import match_token
from roam_emp.ocpi.common import ci_equal, ci_key
from roam_emp.ocpi.locations import Location
from roam_emp.ocpi.sessions import CdrToken
from roam_emp.ocpi.timestamps import utcnow
from roam_emp.store import aws
from roam_emp.store.authorizations import AuthorizationStore
from roam_emp.store.cdrs import StoreOutcome
from roam_emp.store.locations import IncomingLocation, LocationCache
from roam_emp.store.pull_state import PullMode, PullRun
from roam_emp.store.tokens import TokenStore

from .helpers import example


def test_the_key_folds_ascii_letters_only() -> None:
    assert ci_key("abc-123*xY") == "ABC-123*XY"
    # CiString is ASCII: text we keep leniently is not folded (str.upper would make "ß" "SS")
    assert ci_key("straße") == "STRAßE"
    assert ci_key(ci_key("aB")) == ci_key("aB")  # idempotent: a key is its own key
    assert ci_equal("loc1", "LOC1") and not ci_equal("loc1", "loc2")
    assert ci_equal(None, None) and not ci_equal("a", None)


def _token(uid: str, **changes: Any) -> dict[str, Any]:
    base = {**example("token_example_2_full_rfid.json"), "country_code": "NL", "party_id": "EMP"}
    return {**base, "uid": uid, "valid": True, **changes}


def test_authorize_finds_a_token_by_its_uid_in_any_case(aws_mock: dict[str, str]) -> None:
    TokenStore(aws_mock[topology.TOKENS_TABLE.env_var]).save_queued(_token("abc123ef"))
    info = Authorizer.from_settings(settings()).authorize("ABC123EF", "RFID", None)
    assert info["allowed"] == "ALLOWED"
    assert info["token"]["uid"] == "abc123ef"  # the spelling we pushed, not the request's
    decisions = AuthorizationStore(aws_mock[topology.AUTHORIZATIONS_TABLE.env_var])
    assert len(decisions.for_token("RFID", "Abc123Ef")) == 1


def test_one_token_whatever_the_case_of_its_uid(aws_mock: dict[str, str]) -> None:
    tokens = TokenStore(aws_mock[topology.TOKENS_TABLE.env_var])
    first = tokens.save_queued(_token("card-7"))
    second = tokens.save_queued(_token("CARD-7", valid=False), expected_version=first)
    assert second == first + 1  # the same item, a new version
    stored = tokens.get("RFID", "Card-7")
    assert stored is not None and stored.token["uid"] == "CARD-7" and stored.token["valid"] is False
    assert len(tokens.count_for_contract(_token("x")["contract_id"])) == 1


def test_a_cdr_token_in_another_case_matches_our_token_by_uid(aws_mock: dict[str, str]) -> None:
    tokens = TokenStore(aws_mock[topology.TOKENS_TABLE.env_var])
    tokens.save_queued(_token("abc-cdr-1"))
    cdr_token = CdrToken.model_validate(
        {
            "country_code": "NL",
            "party_id": "EMP",
            "uid": "ABC-CDR-1",
            "type": "RFID",
            "contract_id": "NLEMPX1",
        }
    )
    match = match_token(tokens, cdr_token, None)
    assert (match["method"], match["token_uid"]) == ("uid", "abc-cdr-1")


CC, PID = "BE", "BEC"


def _session(session_id: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(example("session_example_1_simple_start.json"))
    body.update(id=session_id, country_code=CC, party_id=PID, **changes)
    return body


def test_a_put_then_a_patch_in_another_case_is_one_session(aws_mock: dict[str, str]) -> None:
    sessions = SessionService.from_settings(settings())
    sessions.put(
        CC, PID, "sess-ci-1", _session("sess-ci-1", kwh=1, last_updated="2026-06-01T12:00:00Z"), None
    )
    patched = sessions.patch(
        "be", "bec", "SESS-CI-1", {"id": "Sess-Ci-1", "kwh": 5, "last_updated": "2026-06-01T12:05:00Z"}, None
    )
    assert patched.applied
    stored = sessions.get(CC, PID, "sess-ci-1")
    assert stored["kwh"] == 5
    assert stored["id"] == "Sess-Ci-1"  # the document keeps what Plugsurfing sent
    found = sessions.store.find("SESS-ci-1")
    assert found is not None and found["session"]["kwh"] == 5
    table = aws_mock[topology.SESSIONS_TABLE.env_var]
    assert aws.dynamodb().scan(TableName=table, Select="COUNT")["Count"] == 1


def _cdr(cdr_id: str, **changes: Any) -> dict[str, Any]:
    cdr = copy.deepcopy(example("cdr_example.json"))
    cdr.pop("session_id", None)
    cdr.update(id=cdr_id, **changes)
    return cdr


@pytest.mark.parametrize("cdr_id", ["cdr-ci-1", "x" * 1200])  # short, and digested (beyond key limits)
def test_a_cdr_resent_with_its_id_in_another_case_is_a_duplicate(
    aws_mock: dict[str, str], cdr_id: str
) -> None:
    cdrs = CdrService.from_settings(settings())
    first = _cdr(cdr_id, session_id="sess-ci-9")
    resent = _cdr(cdr_id.upper(), session_id="SESS-CI-9")
    outcomes = [
        cdrs.receive(body, json.dumps(body).encode(), None).outcome for body in (first, resent, first)
    ]
    assert outcomes == [StoreOutcome.STORED, StoreOutcome.DUPLICATE, StoreOutcome.DUPLICATE]
    stored = cdrs.store.get(cdr_id.upper())
    assert stored is not None and stored["cdr"]["id"] == cdr_id  # the first spelling is kept
    assert cdrs.store.conflicts(cdr_id) == []
    linked = cdrs.store.for_session("Sess-CI-9")
    assert linked is not None and linked["digest"] == stored["digest"]
    bucket = aws_mock[topology.CDR_ARCHIVE.env_var]
    archived = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="cdrs/").get("Contents", [])
    assert [o["Key"] for o in archived] == [stored["archive_key"]]  # archived once


def _location(location_id: str, **changes: Any) -> IncomingLocation:
    raw = {**example("location_example.json"), "id": location_id, **changes}
    return IncomingLocation(Location.model_validate(raw), raw)


def test_locations_pulled_in_different_cases_are_one_location(aws_mock: dict[str, str]) -> None:
    cache = LocationCache(aws_mock[topology.LOCATIONS_TABLE.env_var])
    assert len(cache.upsert([_location("loc-ci")]).created) == 1
    again = cache.upsert([_location("LOC-CI", name="Renamed")])
    assert (len(again.created), len(again.updated)) == (0, 1)
    # one page naming one location in two spellings: one item, no duplicate keys in the batch
    page = cache.upsert([_location("Loc-Ci", name="A"), _location("lOC-cI", name="B")])
    assert len(page.updated) == 1
    doc = cache.get("LoC-cI")
    assert doc is not None and (doc["id"], doc["name"]) == ("lOC-cI", "B")
    assert cache.country_of("loc-CI") == "BEL"
    assert cache.all_ids() == {"lOC-cI"}


def test_a_full_pull_does_not_remove_a_location_it_saw_in_another_case(aws_mock: dict[str, str]) -> None:
    config = dataclasses.replace(settings(), location_max_removal_fraction=1.0)
    puller = LocationPuller.from_settings(config)
    puller.cache.upsert([_location("KEEP-ME"), _location("GONE")])
    run = PullRun(run_id="ci-run", mode=PullMode.FULL, started_at=utcnow())
    assert puller.state.acquire("me", 60)
    puller.state.save_run(run, "me", 60, seen=["keep-me"])
    assert puller._reconcile(run) == 1
    assert puller.cache.all_ids() == {"KEEP-ME"}


def test_authorize_location_reference_matches_in_any_case(aws_mock: dict[str, str]) -> None:
    TokenStore(aws_mock[topology.TOKENS_TABLE.env_var]).save_queued(_token("T-LOC"))
    LocationCache(aws_mock[topology.LOCATIONS_TABLE.env_var]).upsert([_location("LOC1")])
    config = dataclasses.replace(settings(), supported_countries=("DEU",))
    info = Authorizer.from_settings(config).authorize("T-LOC", "RFID", LocationReferences(location_id="loc1"))
    assert (info["allowed"], info["info"]["text"]) == ("NOT_ALLOWED", "country BEL is not supported")
