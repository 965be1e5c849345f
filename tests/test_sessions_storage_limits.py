"""How session documents are stored (store/sessions.py), through the OcpiSessions handler on moto:
the form follows cdk.json ``compress_session_documents`` while both forms are always read (a
rollback of the code or of the switch never strands a session), and the document's JSON is bounded
so that a GET can always answer it within Lambda's response limit."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.config import reset
from roam_emp.store import aws
from roam_emp.store.credentials import CredentialsVault, HubTokens
from roam_emp.store.registration import Connection, ConnectionStatus, ConnectionStore
from roam_emp.store.sessions import DOC_JSON_MAX_BYTES, _key

from .test_events import SAMPLE_TOKEN, UNREACHABLE
from .test_logging import invoke, sample

# Lambda's synchronous response payload limit (API Gateway's Lambda proxy answers through it).
LAMBDA_RESPONSE_MAX_BYTES = 6 * 1024 * 1024


@pytest.fixture
def registered(aws_mock: dict[str, str]) -> None:
    """Credentials and a registered connection on moto (test_logging's ``logs`` without its DEBUG
    logging, which would log every multi-megabyte body)."""
    CredentialsVault(aws_mock[topology.HUB_CREDENTIALS.env_var]).put(
        HubTokens(inbound=SAMPLE_TOKEN, outbound="ours-for-the-hub")
    )
    ConnectionStore(aws_mock[topology.STATE_TABLE.env_var]).put(
        Connection(status=ConnectionStatus.REGISTERED, versions_url=f"{UNREACHABLE}/ocpi/versions")
    )


def _request(method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    event = sample(
        "OcpiSessions", f"{method.lower()}_ocpi_221_sessions_country_code_party_id_session_id.json"
    )
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def _put_body() -> dict[str, Any]:
    return json.loads(_request("PUT")["body"])  # type: ignore[no-any-return]


def _stored_item() -> dict[str, Any] | None:
    body = _put_body()
    table = os.environ[topology.SESSIONS_TABLE.env_var]
    item: dict[str, Any] | None = (
        aws.dynamodb()
        .get_item(TableName=table, Key=_key(body["country_code"], body["party_id"], body["id"]))
        .get("Item")
    )
    return item


def _switch(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPRESS_SESSION_DOCUMENTS", "true" if on else "false")
    reset()  # a new Lambda environment: the handler's service is rebuilt from the settings


def _answer(result: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(result["body"])
    return body


def test_the_writer_follows_the_switch_and_every_reader_takes_both_forms(
    registered: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Switch off (the first of the two deployments of an upgrade): a JSON string, which a release
    before compression reads (``json.loads(item["doc"]["S"])``). On: compressed. Off again (the
    switch rolled back): a compressed session is read and PATCHed, and written as a string."""
    _switch(False, monkeypatch)
    assert invoke("OcpiSessions", _request("PUT"))["statusCode"] == 200
    item = _stored_item()
    assert item is not None and set(item["doc"]) == {"S"}
    assert json.loads(item["doc"]["S"])["kwh"] == 0.0  # what the earlier release's reader does

    for on, kwh, stamp in ((True, 1.5, "2020-03-09T10:30:00Z"), (False, 2.5, "2020-03-09T10:45:00Z")):
        _switch(on, monkeypatch)
        result = invoke("OcpiSessions", _request("PATCH", {"kwh": kwh, "last_updated": stamp}))
        assert (result["statusCode"], _answer(result)["status_code"]) == (200, 1000), result["body"]
        item = _stored_item()
        assert item is not None and set(item["doc"]) == ({"B"} if on else {"S"})
        got = invoke("OcpiSessions", _request("GET"))
        assert _answer(got)["data"]["kwh"] == kwh
        assert _answer(got)["data"]["cdr_token"] == _put_body()["cdr_token"]


def _periods(count: int) -> list[dict[str, Any]]:
    """Charging periods one minute apart, each with energy, power and time dimensions."""
    return [
        {
            "start_date_time": f"2020-03-{9 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z",
            "dimensions": [
                {"type": "ENERGY", "volume": round(0.183 * (i + 1), 3)},
                {"type": "POWER", "volume": round(11 + (i % 7) * 0.37, 2)},
                {"type": "TIME", "volume": round((i + 1) / 60, 4)},
            ],
            "tariff_id": "12",
        }
        for i in range(count)
    ]


def _json_bytes(doc: dict[str, Any]) -> int:
    return len(json.dumps(doc, separators=(",", ":")).encode())


def _session_of(json_bytes: int) -> dict[str, Any]:
    """The PUT sample with as many charging periods as keep its JSON at most ``json_bytes``."""
    body = _put_body()
    periods = _periods(json_bytes // 100)  # a period is more than 100 bytes of JSON
    size = _json_bytes({**body, "charging_periods": []})
    count = 0
    for period in periods:  # each period adds its JSON and a comma (the first one none)
        size += _json_bytes(period) + (1 if count else 0)
        if size > json_bytes:
            break
        count += 1
    session = {**body, "charging_periods": periods[:count]}
    assert json_bytes - 200 < _json_bytes(session) <= json_bytes
    return session


def test_a_session_beyond_the_json_bound_is_refused_naming_it_and_nothing_is_stored(
    registered: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compressed, such a session would fit DynamoDB's 400 KB item; it is refused anyway (a GET
    could not answer it, every later PATCH and stream record would carry it): 2001, not 5xx."""
    _switch(True, monkeypatch)
    too_big = _session_of(DOC_JSON_MAX_BYTES + 50_000)
    assert _json_bytes(too_big) > DOC_JSON_MAX_BYTES
    result = invoke("OcpiSessions", _request("PUT", too_big))
    answer = _answer(result)
    assert (result["statusCode"], answer["status_code"]) == (400, 2001), result["body"][:500]
    assert "charging_periods" in answer["status_message"]
    assert str(DOC_JSON_MAX_BYTES) in answer["status_message"]
    assert _stored_item() is None

    # A PATCH that would grow a stored session past the bound: refused, the session unchanged.
    small = _session_of(DOC_JSON_MAX_BYTES - 200_000)
    assert invoke("OcpiSessions", _request("PUT", small))["statusCode"] == 200
    more = {"charging_periods": too_big["charging_periods"][-3000:], "last_updated": "2020-03-30T00:00:00Z"}
    for period in more["charging_periods"]:
        period["start_date_time"] = period["start_date_time"].replace("2020-03", "2020-04")
    result = invoke("OcpiSessions", _request("PATCH", more))
    assert (result["statusCode"], _answer(result)["status_code"]) == (400, 2001), result["body"][:500]
    item = _stored_item()
    assert item is not None
    stored = _answer(invoke("OcpiSessions", _request("GET")))["data"]
    assert len(stored["charging_periods"]) == len(small["charging_periods"])


def test_the_largest_session_we_store_is_answered_within_lambdas_response_limit(
    registered: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound's justification, measured: a session of DOC_JSON_MAX_BYTES of JSON is stored
    (compressed, well under the item limit) and its GET, the OCPI envelope inside API Gateway's
    proxy response with its quotes escaped, is a Lambda response under 6 MB."""
    _switch(True, monkeypatch)
    largest = _session_of(DOC_JSON_MAX_BYTES)
    assert DOC_JSON_MAX_BYTES - 1000 < _json_bytes(largest) <= DOC_JSON_MAX_BYTES
    result = invoke("OcpiSessions", _request("PUT", copy.deepcopy(largest)))
    assert (result["statusCode"], _answer(result)["status_code"]) == (200, 1000), result["body"][:500]
    got = invoke("OcpiSessions", _request("GET"))
    assert _answer(got)["data"]["charging_periods"] == largest["charging_periods"]
    response_bytes = len(json.dumps(got).encode())
    assert response_bytes < LAMBDA_RESPONSE_MAX_BYTES, response_bytes
