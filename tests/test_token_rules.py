"""Tokens at the edges (FAQ "Tokens"), against moto in-process: Plugsurfing's organisation settings
(tokens per contract_id, contract_id changes), a refused change that must not poison later
pushes, "the first key matching that contract_id", and the Tokens sender list's time range."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from roam_emp import config
from roam_emp.domain.token_match import match_token
from roam_emp.domain.tokens import TokenService
from roam_emp.ocpi.status import OcpiError, StatusCode
from roam_emp.ocpi.timestamps import parse_timestamp
from roam_emp.store.tokens import PushState, StoredToken

CONTRACT = "NLEMPC00000001"


@pytest.fixture
def tokens(aws_mock: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenService]:
    monkeypatch.setenv("CONTRACT_ID_PREFIXES", "NLEMP")
    config.reset()
    yield TokenService.from_settings(config.settings())
    config.reset()


def configured(monkeypatch: pytest.MonkeyPatch, **env: str) -> TokenService:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config.reset()
    return TokenService.from_settings(config.settings())


def token(uid: str, contract: str = CONTRACT, **extra: Any) -> dict[str, Any]:
    return {"uid": uid, "type": "RFID", "contract_id": contract, **extra}


def refused_with_2001(call: Any, *args: Any) -> str:
    with pytest.raises(OcpiError) as raised:
        call(*args)
    assert (raised.value.status, raised.value.http_status) == (StatusCode.INVALID_OR_MISSING_PARAMETERS, 400)
    return raised.value.message


def accepted_by_plugsurfing(service: TokenService, stored: StoredToken) -> None:
    assert service.store.mark("RFID", stored.token["uid"], stored.version, PushState.PUSHED)


# Organisation settings -------------------------------------------------------------------------


def test_one_token_per_contract_id_by_default(tokens: TokenService) -> None:
    tokens.submit(token("FIRST"))
    message = refused_with_2001(tokens.submit, token("SECOND", "NL-EMP-C00000001"))  # another form
    assert "at most 1" in message and "max_tokens_per_contract_id" in message
    assert tokens.store.get("RFID", "SECOND") is None  # nothing queued
    tokens.submit(token("FIRST", visual_number="again"))  # the token itself is no second key


def test_more_tokens_per_contract_id_when_configured_never_above_25(
    tokens: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    three = configured(monkeypatch, MAX_TOKENS_PER_CONTRACT_ID="3")
    for uid in ("A1", "A2", "A3"):
        three.submit(token(uid))
    assert "at most 3" in refused_with_2001(three.submit, token("A4"))
    assert configured(monkeypatch, MAX_TOKENS_PER_CONTRACT_ID="99").validate(
        three.complete(token("A4"))
    )  # 4 < 25: the FAQ maximum caps a misconfigured environment, it does not refuse below it


def test_contract_id_change_after_push_is_refused_unless_allowed(
    tokens: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = tokens.submit(token("CHANGE"))
    # never accepted by Plugsurfing yet: nothing to contradict
    queued = tokens.patch("RFID", "CHANGE", {"contract_id": "NLEMPC00000002"})
    accepted_by_plugsurfing(tokens, queued)
    message = refused_with_2001(tokens.patch, "RFID", "CHANGE", {"contract_id": "NLEMPC00000003"})
    assert "allow_contract_id_change" in message
    message = refused_with_2001(tokens.submit, token("CHANGE", "NLEMPC00000003"))  # POST alike
    assert "allow_contract_id_change" in message
    assert tokens.store.get("RFID", "CHANGE").token["contract_id"] == "NLEMPC00000002"  # type: ignore[union-attr]
    tokens.patch("RFID", "CHANGE", {"contract_id": "NL-EMP-C00000002"})  # same id, other form
    allowed = configured(monkeypatch, ALLOW_CONTRACT_ID_CHANGE="true")
    assert allowed.patch("RFID", "CHANGE", {"contract_id": "NLEMPC00000003"}).push_state is PushState.QUEUED


# A refused change ------------------------------------------------------------------------------


def test_a_refused_change_does_not_poison_later_pushes(tokens: TokenService) -> None:
    first = tokens.submit(token("LOST", visual_number="NL-EMP-1"))
    accepted_by_plugsurfing(tokens, first)
    bad = tokens.patch("RFID", "LOST", {"visual_number": "refused by Plugsurfing"})
    assert tokens.store.refused("RFID", "LOST", bad.version, "HTTP 400, OCPI 2001: visual_number")
    after = tokens.store.get("RFID", "LOST")
    assert after is not None and after.push_state is PushState.FAILED
    assert after.token == first.token  # back at what Plugsurfing holds
    assert after.refused is not None and after.refused["visual_number"] == "refused by Plugsurfing"
    lost = tokens.patch("RFID", "LOST", {"valid": False})  # the card is lost: this must get through
    assert lost.token["visual_number"] == "NL-EMP-1" and lost.token["valid"] is False
    accepted_by_plugsurfing(tokens, lost)
    assert tokens.store.get("RFID", "LOST").accepted == lost.token  # type: ignore[union-attr]


def test_a_refused_first_push_keeps_the_token_as_sent(tokens: TokenService) -> None:
    queued = tokens.submit(token("NEVER"))
    assert tokens.store.refused("RFID", "NEVER", queued.version, "HTTP 400")
    after = tokens.store.get("RFID", "NEVER")
    assert after is not None and after.push_state is PushState.FAILED and after.token == queued.token
    assert not tokens.store.refused("RFID", "NEVER", queued.version - 1, "stale")  # superseded


# "The first key matching that contract_id" ----------------------------------------------------


@dataclass
class Seen:
    """A CdrToken as Plugsurfing puts it in a Session or CDR."""

    uid: str
    contract_id: str = "NL-EMP-C00000001"  # normalized by Plugsurfing (FAQ)
    type: str = "RFID"


def test_first_means_creation_order_not_sort_order(
    tokens: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = configured(monkeypatch, MAX_TOKENS_PER_CONTRACT_ID="25")
    for uid in ("ZZ-OLDEST", "MM-MIDDLE", "AA-NEWEST"):
        shared.submit(token(uid))
    first = shared.store.first_for_contract("NL-EMP-C00000001")
    assert first is not None and first.token["uid"] == "ZZ-OLDEST"
    # Plugsurfing holds only what it accepted: among those, its order of acceptance counts
    for uid in ("AA-NEWEST", "MM-MIDDLE"):
        stored = shared.store.get("RFID", uid)
        assert stored is not None
        accepted_by_plugsurfing(shared, stored)
    assert shared.store.first_for_contract(CONTRACT).token["uid"] == "AA-NEWEST"  # type: ignore[union-attr]


def test_match_token_flags_every_uncertain_match(
    tokens: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = configured(monkeypatch, MAX_TOKENS_PER_CONTRACT_ID="25")
    for uid in ("ZZ-FIRST", "AA-SECOND"):
        shared.submit(token(uid))
    shared.submit(token("ALONE", "NLEMPC00000009"))
    store = shared.store
    by_contract = match_token(store, Seen("UNKNOWN-UID"), "OCPI-2.1.1")
    assert by_contract == {
        "method": "contract_id",
        "token_uid": "ZZ-FIRST",
        "token_type": "RFID",
        "ambiguous": True,
    }
    # Plugsurfing already resolved the contract_id to its first key's uid: still uncertain
    assert match_token(store, Seen("ZZ-FIRST"), "OCPI-2.1.1") == {**by_contract, "method": "uid"}
    assert match_token(store, Seen("ZZ-FIRST"), None)["ambiguous"] is False  # no older protocol
    alone = match_token(store, Seen("ALONE", "NL-EMP-C00000009"), "OCPI-2.1.1")
    assert (alone["method"], alone["ambiguous"]) == ("uid", False)
    nobody = match_token(store, Seen("NOBODY", "XX-XXX-NOBODY000-1"), "OCPI-2.1.1")
    assert nobody == {"method": "none", "token_uid": None, "token_type": None, "ambiguous": False}


# The Tokens sender list's date_from / date_to --------------------------------------------------


def test_sender_list_range_within_one_second(tokens: TokenService) -> None:
    base = tokens.complete(token("x"))
    whole, half = "2026-06-01T12:00:00Z", "2026-06-01T12:00:00.500Z"
    tokens.store.save_queued({**base, "uid": "WHOLE", "contract_id": "NLEMPW1", "last_updated": whole})
    tokens.store.save_queued({**base, "uid": "HALF", "contract_id": "NLEMPH1", "last_updated": half})
    quarter = parse_timestamp("2026-06-01T12:00:00.250Z")

    def uids(date_from: Any, date_to: Any) -> list[str]:
        listed, total = tokens.store.list_updated(date_from, date_to, 0, 10)
        assert total == len(listed)
        return [t["uid"] for t in listed]

    assert uids(None, None) == ["WHOLE", "HALF"]  # oldest first
    assert uids(quarter, None) == ["HALF"]
    assert uids(None, quarter) == ["WHOLE"]
    assert uids(parse_timestamp(whole), parse_timestamp(half)) == ["WHOLE"]  # from inclusive, to exclusive
    assert uids(parse_timestamp(half), parse_timestamp(half) + timedelta(microseconds=1)) == ["HALF"]
    assert uids(parse_timestamp(half), parse_timestamp(whole)) == []
