"""Hostile input (issue 13): every bad request gets a clear OCPI 4xx, never a 5xx (which tells
Plugsurfing to retry the same bad body forever). Unit checks of the one JSON parser, then each
cause found by fuzzing as one request over real HTTP into local mode."""

from __future__ import annotations

import copy
import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from roam_emp import topology
from roam_emp.config import settings
from roam_emp.domain.pricing import recompute
from roam_emp.local.gateway import _to_response
from roam_emp.ocpi import jsondoc
from roam_emp.ocpi.cdrs import Cdr
from roam_emp.ocpi.leniency import parse_inbound
from roam_emp.ocpi.sessions import Session
from roam_emp.store.sessions import SessionStore

from .helpers import example
from .test_sessions_cdrs import Local, facts_of, fresh, hub, unique

__all__ = ["fresh"]  # the fixture, imported for this module's tests

JSON = {"Content-Type": "application/json"}
OUT_OF_RANGE = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"]


# --- the one JSON parser (ocpi/jsondoc.py) ---------------------------------------------------


@pytest.mark.parametrize(
    "text", ["[" * 5000 + "]" * 5000, '{"a":' * 2000 + "1" + "}" * 2000, "[" * 65 + "]" * 65]
)
def test_deep_nesting_is_refused_not_a_recursion_error(text: str) -> None:
    with pytest.raises(jsondoc.JsonRefused, match="nested deeper than 64"):
        jsondoc.parse(text)


def test_nesting_as_deep_as_ocpi_needs_is_fine() -> None:
    assert jsondoc.depth(jsondoc.parse("[" * 64 + "]" * 64)) == 64
    assert jsondoc.parse(json.dumps(example("cdr_example.json")))["id"] == "12345"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1E400"])
def test_non_finite_numbers_are_not_json(literal: str) -> None:
    with pytest.raises(jsondoc.JsonRefused, match="RFC 8259 section 6"):
        jsondoc.parse(f'{{"kwh": {literal}}}')


@pytest.mark.parametrize("text", ["{", "[1,]", "'a'", "\x00", "1" * 5000])
def test_malformed_text_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(jsondoc.JsonRefused, match="not valid JSON"):
        jsondoc.parse(text)


def test_lone_surrogates_are_kept_and_written_back_as_escapes() -> None:
    doc = jsondoc.parse('{"id": "A\\ud800B", "\\udfff": ["ok", "\\ud83d\\ude00"]}')
    assert doc["id"] == "A\ud800B" and doc["\udfff"][1] == "\U0001f600"  # a valid pair is one character
    assert jsondoc.lone_surrogate_path(doc) in ("id", "\\udfff")
    assert jsondoc.lone_surrogate_path({"a": [{"b": "x"}, {"c": "\ud800"}]}) == "a.1.c"
    assert jsondoc.lone_surrogate_path(example("cdr_example.json")) is None
    text = jsondoc.dumps(doc)
    text.encode("utf-8")  # what json.dumps(ensure_ascii=False) cannot promise
    assert jsondoc.parse(text) == doc
    assert "\U0001f600" in text  # valid characters stay themselves
    assert jsondoc.escape_lone_surrogates("LOC#\ud800") == "LOC#\\ud800"
    assert jsondoc.escape_lone_surrogates("Ünïcødé") == "Ünïcødé"


def test_canonical_bytes_keep_the_old_digests_and_take_any_document() -> None:
    cdr = {**example("cdr_example.json"), "note": "Straße ⚡"}
    old = json.dumps(cdr, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert jsondoc.canonical_bytes(cdr) == old  # digests stored before stay comparable
    reordered = json.loads(json.dumps(dict(reversed(list(cdr.items()))), indent=2))
    assert jsondoc.canonical_bytes(reordered) == old
    hostile = {**cdr, "note": "\ud800"}
    with pytest.raises(UnicodeEncodeError):
        json.dumps(hostile, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest = hashlib.sha256(jsondoc.canonical_bytes(hostile)).hexdigest()
    assert digest != hashlib.sha256(old).hexdigest()
    assert json.loads(jsondoc.canonical_bytes(hostile)) == hostile


def test_a_lone_surrogate_in_an_inbound_string_is_a_deviation_and_never_sent() -> None:
    session = {**example("session_example_1_simple_start.json"), "location_id": "LOC\ud800"}
    parsed, deviations = parse_inbound(Session, session)
    assert parsed.location_id == "LOC\ud800"
    assert deviations.by_kind() == {"lone_surrogate": 1}
    from pydantic import ValidationError

    from roam_emp.ocpi.leniency import dump_outbound

    with pytest.raises(ValidationError, match="surrogate"):
        dump_outbound(parsed)


# --- local mode's gateway ---------------------------------------------------------------------


def test_gateway_sends_one_content_type() -> None:
    response = _to_response(
        {
            "statusCode": 200,
            "body": "{}",
            # Powertools' resolver answers in multiValueHeaders only
            "multiValueHeaders": {"Content-Type": ["application/json"], "Set-Cookie": ["a=1", "b=2"]},
            "headers": {"X-Request-ID": "r"},
        }
    )
    assert response.headers.getlist("Content-Type") == ["application/json"]
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers.getlist("X-Request-ID") == ["r"]


# --- one request each, over HTTP ------------------------------------------------------------


def _routes(rt_url: str) -> dict[str, tuple[str, str]]:
    """Every inbound OCPI route that takes a JSON body."""
    base = f"{rt_url}/ocpi/2.2.1"
    return {
        "session PUT": ("PUT", f"{base}/sessions/NL/STK/{unique('H')}"),
        "session PATCH": ("PATCH", f"{base}/sessions/NL/STK/{unique('H')}"),
        "commands": ("POST", f"{base}/commands/STOP_SESSION/{unique('C')}"),
        "credentials PUT": ("PUT", f"{base}/credentials"),
        "cdrs": ("POST", f"{base}/cdrs"),
    }


def _refused(response: httpx.Response, *words: str) -> None:
    assert (response.status_code, response.json()["status_code"]) == (400, 2001), response.text
    for word in words:
        assert word in response.json()["status_message"], response.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("[" * 1200 + "]" * 1200, ["nested deeper"]),
        ('{"a":' * 1200 + "1" + "}" * 1200, ["nested deeper"]),
        ('{"kwh": NaN, "last_updated": "2026-01-01T00:00:00Z"}', ["NaN"]),
        ('{"kwh": Infinity, "last_updated": "2026-01-01T00:00:00Z"}', ["Infinity"]),
        ('{"kwh": -Infinity, "last_updated": "2026-01-01T00:00:00Z"}', ["-Infinity"]),
    ],
)
def test_every_json_route_refuses_what_is_not_json(fresh: Local, body: str, words: list[str]) -> None:
    rt, sim = fresh
    client = hub(sim)
    for name, (method, url) in _routes(rt.url).items():
        response = client.request(method, url, content=body, headers=JSON)
        assert response.status_code == 400, (name, response.text)
        _refused(response, *words)
    # Authorization is the exception (issue 10, "full control"): its LocationReferences are
    # optional, so a body that is not JSON counts as no reference and the policy answers.
    unknown = client.post(
        f"{rt.url}/ocpi/2.2.1/tokens/{unique('T')}/authorize?type=RFID", content=body, headers=JSON
    )
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2004), unknown.text


def test_nan_is_never_stored_nor_echoed(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    session = {**example("session_example_1_simple_start.json"), "id": unique("NAN")}
    url = f"{rt.url}/ocpi/2.2.1/sessions/NL/STK/{session['id']}"
    text = json.dumps({**session, "vendor_extension": 1.5}).replace("1.5", "NaN")
    _refused(client.put(url, content=text, headers=JSON), "NaN")
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("stamp", OUT_OF_RANGE)
def test_out_of_range_timestamps_in_bodies_name_the_field(fresh: Local, stamp: str) -> None:
    rt, sim = fresh
    client = hub(sim)
    session = {**example("session_example_1_simple_start.json"), "id": unique("TS")}
    url = f"{rt.url}/ocpi/2.2.1/sessions/NL/STK/{session['id']}"
    _refused(client.put(url, json={**session, "last_updated": stamp}), "last_updated")
    _refused(client.put(url, json={**session, "start_date_time": stamp}), "start_date_time")
    cdr = {**example("cdr_example.json"), "id": unique("TSC"), "end_date_time": stamp}
    _refused(client.post(f"{rt.url}/ocpi/2.2.1/cdrs", json=cdr), "end_date_time")
    assert client.put(url, json=session).json()["status_code"] == 1000
    _refused(client.patch(url, json={"kwh": 1, "last_updated": stamp}), "last_updated")


@pytest.mark.parametrize("stamp", OUT_OF_RANGE)
@pytest.mark.parametrize("name", ["date_from", "date_to"])
def test_out_of_range_timestamps_in_query_parameters_name_them(fresh: Local, stamp: str, name: str) -> None:
    rt, sim = fresh
    _refused(hub(sim).get(f"{rt.url}/ocpi/2.2.1/tokens", params={name: stamp}), name)


def _with_surrogate(doc: dict[str, Any], *path: str) -> str:
    """``doc`` as JSON text with a lone surrogate at ``path``."""
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = "MARK"
    return json.dumps(doc).replace('"MARK"', '"\\ud800"')


@pytest.mark.parametrize(
    "path", [("status",), ("cdr_token", "uid"), ("location_id",), ("vendor",), ("currency",)]
)
def test_a_lone_surrogate_in_a_session_is_kept_as_received(fresh: Local, path: tuple[str, ...]) -> None:
    rt, sim = fresh
    client = hub(sim)
    session = {**example("session_example_1_simple_start.json"), "id": unique("SUR")}
    url = f"{rt.url}/ocpi/2.2.1/sessions/NL/STK/{session['id']}"
    put = client.put(url, content=_with_surrogate(copy.deepcopy(session), *path), headers=JSON)
    assert (put.status_code, put.json()["status_code"]) == (200, 1000), put.text
    stored = client.get(url).json()["data"]
    value: Any = stored
    for part in path:
        value = value[part]
    assert value == "\ud800"
    change = {"kwh": 2, "last_updated": "2030-01-01T00:00:00Z", path[0]: copy.deepcopy(session.get(path[0]))}
    patch = client.patch(url, content=_with_surrogate(change, *path), headers=JSON)
    assert (patch.status_code, patch.json()["status_code"]) == (200, 1000), patch.text
    table = SessionStore(rt.env[topology.SESSIONS_TABLE.env_var])
    assert table.get("NL", "STK", session["id"])["kwh"] == 2


def test_a_lone_surrogate_in_an_authorize_location_is_an_unknown_location(fresh: Local) -> None:
    rt, sim = fresh
    from .test_sessions_cdrs import pushed_token

    uid = pushed_token(rt, sim, "SURA")
    body = _with_surrogate({"location_id": "x", "evse_uids": ["E1"]}, "location_id")
    answer = hub(sim).post(
        f"{rt.url}/ocpi/2.2.1/tokens/{uid}/authorize?type=RFID", content=body, headers=JSON
    )
    assert (answer.status_code, answer.json()["status_code"]) == (200, 1000), answer.text
    assert answer.json()["data"]["allowed"] == "ALLOWED"  # policy for an unknown location: allow


def test_local_gateway_answers_one_content_type_over_http(fresh: Local) -> None:
    rt, sim = fresh
    for response in (
        hub(sim).get(f"{rt.url}/ocpi/2.2.1/sessions/NL/STK/NONE"),
        httpx.get(f"{rt.url}/ocpi/2.2.1/nowhere"),
        httpx.delete(f"{rt.url}/ocpi/2.2.1/cdrs"),
    ):
        assert response.headers.get_list("content-type") == ["application/json"], response.headers


def test_a_session_beyond_dynamodb_limits_is_refused_naming_the_limit(fresh: Local) -> None:
    rt, sim = fresh
    client = hub(sim)
    long_id = "S" * 2100
    answer = client.put(f"{rt.url}/ocpi/2.2.1/sessions/NL/STK/{long_id}", json=_session_body(long_id))
    _refused(answer, "2048 bytes")
    session_id = unique("BIG")
    url = f"{rt.url}/ocpi/2.2.1/sessions/NL/STK/{session_id}"
    assert client.put(url, json=_session_body(session_id)).json()["status_code"] == 1000
    # distinct start times: a period is identified by its start_date_time (a resend adds nothing)
    template = example("session_patch_example_charging_period.json")["charging_periods"][0]
    start = datetime(2029, 1, 1, tzinfo=UTC)
    periods = [
        {**template, "start_date_time": (start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for n in range(5000)
    ]
    # 5,000 periods are ~600 KB of JSON: stored, compressed (store/sessions.py). With cdk.json
    # compress_session_documents off, a JSON string: beyond the item limit, as before compression.
    long = client.patch(url, json={"charging_periods": periods, "last_updated": "2030-01-01T00:00:00Z"})
    if not settings().compress_session_documents:
        _refused(long, "item limit")
        return
    assert long.json()["status_code"] == 1000, long.text
    assert len(client.get(url).json()["data"]["charging_periods"]) == 5000
    # Random meter readings hardly compress: 6,000 more periods of them are beyond the item limit.
    rng = random.Random(5)
    later = start + timedelta(days=7)
    noise = [
        {
            "start_date_time": (later + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "dimensions": [{"type": "ENERGY", "volume": rng.random() * 1e6} for _ in range(8)],
        }
        for n in range(6000)
    ]
    big = client.patch(url, json={"charging_periods": noise, "last_updated": "2030-01-02T00:00:00Z"})
    _refused(big, "item limit")
    stored = client.get(url).json()["data"]  # nothing half-stored
    assert len(stored["charging_periods"]) == 5000 and stored["last_updated"] == "2030-01-01T00:00:00Z"


def _session_body(session_id: str) -> dict[str, Any]:
    return {**example("session_example_1_simple_start.json"), "id": session_id}


def test_the_local_gateway_own_answers_carry_the_request_ids(fresh: Local) -> None:
    rt, _ = fresh
    ids = {"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"}
    for response in (
        httpx.get(f"{rt.url}/nowhere", headers=ids),
        httpx.delete(f"{rt.url}/ocpi/2.2.1/cdrs", headers=ids),
    ):
        assert response.status_code in (404, 405)
        assert (response.headers["X-Request-ID"], response.headers["X-Correlation-ID"]) == ("req-1", "corr-1")
    alone = httpx.get(f"{rt.url}/nowhere")
    assert alone.headers["X-Correlation-ID"] == alone.headers["X-Request-ID"] != ""


def test_support_keys_with_a_lone_surrogate_can_be_written_as_a_log_line() -> None:
    from roam_emp.telemetry import support_keys

    keys = support_keys({"country_code": "NL", "party_id": "S\ud800", "cdr_token": {"uid": "\udc00"}})
    assert keys == {"cpo": "NL*S\\ud800", "token_uid": "\\udc00"}
    json.dumps(keys, ensure_ascii=False).encode("utf-8")  # as Powertools writes it


def _huge_cdr(cdr_id: str, dimension: str) -> dict[str, Any]:
    """The spec's CDR with a dimension volume and a total_energy of 1e30 (issue 13: once an
    InvalidOperation in the cost check, before storage, so a 503 forever)."""
    cdr = {**example("cdr_example.json"), "id": cdr_id, "total_energy": 1e30}
    cdr["tariffs"][0]["elements"][0]["price_components"].append(
        {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}
    )
    cdr["charging_periods"][0]["dimensions"] = [
        {"type": dimension, "volume": 1e30},
        {"type": "ENERGY" if dimension != "ENERGY" else "TIME", "volume": 1.5},
    ]
    return cdr


@pytest.mark.parametrize("dimension", ["ENERGY", "TIME", "PARKING_TIME", "MAX_CURRENT"])
def test_a_cdr_with_a_volume_of_1e30_is_answered_4xx_or_stored_never_5xx(
    fresh: Local, dimension: str
) -> None:
    rt, sim = fresh
    cdr = _huge_cdr(unique("HUGE"), dimension)
    answer = hub(sim).post(f"{rt.url}/ocpi/2.2.1/cdrs", json=cdr)
    assert (answer.status_code, answer.json()["status_code"]) in ((200, 1000), (400, 2001)), answer.text
    if answer.status_code == 400:  # refused: nothing stored
        assert hub(sim).get(f"{rt.url}/ocpi/2.2.1/cdrs/{cdr['id']}").status_code == 404
        return
    assert hub(sim).get(f"{rt.url}/ocpi/2.2.1/cdrs/{cdr['id']}").json()["data"]["total_energy"] == 1e30
    # After the acknowledgement, the cost check is a verdict: OK, DISCREPANCY or UNCHECKABLE
    # with its reasons, and the CDR's facts are written (the enrichment never fails a CDR).
    facts = facts_of(rt, cdr["id"])
    assert facts["valid"] is True, facts
    check = facts["cost_check"]
    assert check["status"] in ("OK", "DISCREPANCY", "UNCHECKABLE"), check
    assert check["status"] != "UNCHECKABLE" or check["reasons"], check
    verdict = recompute(parse_inbound(Cdr, cdr)[0], Decimal("0.01"))
    assert verdict.status == check["status"], (verdict, check)


@pytest.mark.parametrize("dimension", ["ENERGY", "TIME"])
def test_the_pricing_engine_answers_a_volume_of_1e30_uncheckable_naming_it(dimension: str) -> None:
    """The engine itself, not recompute()'s catch-all: Decimal's 28 digits once overflowed on quantize
    and the verdict said 'cost engine failed: InvalidOperation'."""
    from roam_emp.domain.pricing.check import _check

    cdr = parse_inbound(Cdr, _huge_cdr("HUGE", dimension))[0]
    verdict = _check(cdr, Decimal("0.01"), None)
    assert verdict.status == "UNCHECKABLE", verdict
    assert any(f"{dimension} volume 1E+30" in reason for reason in verdict.reasons), verdict.reasons


def test_a_large_but_plausible_volume_is_still_priced() -> None:
    from roam_emp.domain.pricing.check import _check

    cdr = parse_inbound(Cdr, _huge_cdr("LARGE", "ENERGY"))[0]
    cdr.charging_periods[0].dimensions[0].volume = Decimal("99999999")
    verdict = _check(cdr, Decimal("0.01"), None)
    assert verdict.status == "DISCREPANCY" and verdict.computed_excl_vat is not None, verdict
