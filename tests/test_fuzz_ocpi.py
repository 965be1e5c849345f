"""Property-based fuzzing of every inbound OCPI route (issue 13), over real HTTP into local mode,
with a valid token: mutated bodies, headers, path segments and query strings.

For every request: never a 5xx (it tells Plugsurfing to retry the same bad request forever), always
an OCPI envelope carrying the request ids, and never 2xx + 1000 for a body the spec refuses (the
mutation knows when it made one: a required field dropped, a value of the wrong JSON type, an
invalid timestamp, not a JSON object, not JSON at all). Afterwards the canary objects (a session,
a CDR, a command, our credentials) are unchanged. Seeded (``derandomize``) and bounded
(``max_examples``), so CI runs the same few hundred requests every time.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote as _quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roam_emp import topology
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.simulator import RoamSimulator
from roam_emp.store.commands import CommandStore

from .helpers import example
from .test_sessions_cdrs import pushed_token, spec_cdr

Local = tuple[LocalRuntime, RoamSimulator]


def quote(text: str, safe: str = "") -> str:
    """Percent-encoded as a hostile client may send it: lone surrogates as their UTF-8-style bytes."""
    return _quote(text, safe=safe, errors="surrogatepass")


_ids = itertools.count()

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# --- what we send ---------------------------------------------------------------------------

_printable = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
HOSTILE_STRINGS = [
    "",
    " ",
    "\ud800",
    "a\udfffb",
    "\x00",
    "line\r\nbreak",
    "x" * 3000,
    "ä" * 100,
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+01:00",
    "2026-02-30T00:00:00Z",
    "NaN",
    "1e999",
    "../CANARY",
    "%00",
    "{}",
]
hostile_text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=24))
numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, hostile_text),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
BAD_STAMPS = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+01:00",
    "2026-02-30T10:00:00Z",
    "yesterday",
    "",
]


def _wrong_type(value: Any, required: bool) -> list[Any]:
    """JSON values no lenient reading can take for ``value``'s field (null only where required)."""
    wrong: list[Any] = [{"x": 1}, "text"] if isinstance(value, list) else [[1], "text"]
    if not isinstance(value, (list, dict)):
        wrong = [{"x": 1}, [1]]
    return [*wrong, None] if required else wrong


@dataclass(frozen=True)
class Body:
    text: str
    refused: bool  # the spec refuses it: must never be answered 2xx + 1000
    kind: str


@st.composite
def mutated(
    draw: st.DrawFn,
    seed: dict[str, Any],
    *,
    required: frozenset[str],
    stamps: frozenset[str],
) -> Body:
    """``seed`` (a valid body) or one mutation of it."""
    body = copy.deepcopy(seed)
    kind = draw(
        st.sampled_from(
            [
                "valid",
                "drop",
                "wrong_type",
                "bad_stamp",
                "hostile_value",
                "nested",
                "extra",
                "not_object",
                "raw",
            ]
        )
    )
    refused = False
    if kind == "drop":
        key = draw(st.sampled_from(sorted(body)))
        del body[key]
        refused = key in required
    elif kind == "wrong_type":
        key = draw(st.sampled_from(sorted(body)))
        body[key] = draw(st.sampled_from(_wrong_type(body[key], key in required)))
        refused = True
    elif kind == "bad_stamp" and stamps:
        body[draw(st.sampled_from(sorted(stamps)))] = draw(st.sampled_from(BAD_STAMPS))
        refused = True
    elif kind == "hostile_value":
        body[draw(st.sampled_from(sorted(body)))] = draw(json_values)
    elif kind == "nested":
        _set_nested(body, draw(st.randoms(use_true_random=False)), draw(hostile_text))
    elif kind == "extra":
        body[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    elif kind == "not_object":
        return Body(
            json.dumps(draw(st.one_of(st.lists(json_values, max_size=2), numbers, hostile_text))), True, kind
        )
    elif kind == "raw":
        text = json.dumps(body)
        raw = draw(
            st.sampled_from(
                [
                    text.replace(":", ': NaN, "_":', 1),
                    text.replace(":", ': -Infinity, "_":', 1),
                    "[" * 2000 + text + "]" * 2000,
                    '{"a":' * 500 + text + "}" * 500,
                    text[: len(text) // 2],
                    text + "}",
                    text.replace('"', "'"),
                    "",
                ]
            )
        )
        return Body(raw, True, kind)
    return Body(json.dumps(body), refused, kind)


def _set_nested(doc: Any, rng: Any, value: Any) -> None:
    """Replace one string somewhere inside ``doc`` (a random walk down its objects and lists)."""
    node = doc
    for _ in range(6):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return
        key = rng.choice(keys)
        child = node[key]
        if isinstance(child, (dict, list)) and child:
            node = child
            continue
        if isinstance(child, str):
            node[key] = value
        return


request_ids = st.one_of(st.none(), st.text(alphabet=_printable, min_size=1, max_size=80))
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "application/xml", "", None]
)
segments = st.one_of(st.sampled_from(HOSTILE_STRINGS[:8]), st.text(min_size=1, max_size=40))


@dataclass(frozen=True)
class Headers:
    request_id: str | None
    correlation_id: str | None
    content_type: str | None
    original_protocol: str | None

    def build(self, token: str) -> dict[str, str]:
        headers = {"Authorization": encode_token(token)}
        for name, value in (
            ("X-Request-ID", self.request_id),
            ("X-Correlation-ID", self.correlation_id),
            ("Content-Type", self.content_type),
            ("X-Original-Protocol", self.original_protocol),
        ):
            if value is not None:
                headers[name] = value
        return headers


headers_strategy = st.builds(
    Headers,
    request_id=request_ids,
    correlation_id=request_ids,
    content_type=content_types,
    original_protocol=st.one_of(st.none(), st.sampled_from(["OCPI-2.1.1", "OCPI-2.2", "x" * 100])),
)


# --- the target -----------------------------------------------------------------------------


@dataclass
class Target:
    rt: LocalRuntime
    sim: RoamSimulator
    token: str
    token_uid: str
    canaries: dict[str, tuple[str, Any]]  # what -> (url, data as first read)
    patch_session_url: str
    command_id: str

    def __repr__(self) -> str:
        return f"Target({self.rt.url})"

    def call(self, method: str, url: str, headers: Headers, content: str | None = None) -> httpx.Response:
        return httpx.request(
            method,
            url,
            content=content.encode("utf-8", "surrogatepass") if content is not None else None,
            headers=headers.build(self.token),
            timeout=60,
        )

    def read(self, url: str) -> Any:
        answer = httpx.get(url, headers={"Authorization": encode_token(self.token)}, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]


def _session(session_id: str, **changes: Any) -> dict[str, Any]:
    return {**example("session_example_1_simple_start.json"), "id": session_id, **changes}


@pytest.fixture(scope="module")
def target(local: Local) -> Iterator[Target]:
    rt, sim = local
    httpx.post(f"{sim.url}/_sim/chaos", json={})
    if not sim.state.registered:
        rt.admin(
            "POST", "/admin/registration", {"versions_url": sim.versions_url, "token_a": sim.state.token_a}
        ).raise_for_status()
    token = sim.state.our_token_for_emp or ""
    auth = {"Authorization": encode_token(token)}
    base = f"{rt.url}/ocpi/2.2.1"
    canaries: dict[str, tuple[str, Any]] = {}
    for name, session_id in (("session", "CANARY"), ("patch", f"FUZZPATCH{next(_ids)}")):
        url = f"{base}/sessions/NL/STK/{session_id}"
        assert httpx.put(url, json=_session(session_id), headers=auth).json()["status_code"] == 1000
        canaries[name] = (url, None)
    cdr = spec_cdr("CANARYCDR")
    assert httpx.post(f"{base}/cdrs", json=cdr, headers=auth).json()["status_code"] == 1000
    canaries["cdr"] = (f"{base}/cdrs/CANARYCDR", None)
    commands = CommandStore(rt.env[topology.COMMANDS_TABLE.env_var])
    for command_id in ("CANARYCMD", "FUZZCMD"):
        commands.create({"command_id": command_id, "command": "STOP_SESSION"}, "SENDING")
        commands.save_response(command_id, "ACCEPTED", response={"result": "ACCEPTED", "timeout": 30})
    canaries["credentials"] = (f"{base}/credentials", None)
    fuzz = Target(
        rt, sim, token, pushed_token(rt, sim, "FUZZ"), canaries, canaries.pop("patch")[0], "FUZZCMD"
    )
    fuzz.canaries = {name: (url, fuzz.read(url)) for name, (url, _) in canaries.items()}
    yield fuzz


# --- the properties -------------------------------------------------------------------------


def check(
    response: httpx.Response, headers: Headers, body: Body | None, *, allow: tuple[int, int] | None = None
) -> None:
    where = f"{response.request.method} {response.request.url} {body!r:.300}"
    assert response.status_code < 500 or (response.status_code, _code(response)) == allow, (
        where,
        response.status_code,
        response.text[:300],
    )
    assert response.headers.get_list("content-type") == ["application/json"], where
    envelope = response.json()
    assert isinstance(envelope.get("status_code"), int) and isinstance(envelope.get("timestamp"), str), where
    if headers.request_id is not None:
        assert response.headers["X-Request-ID"] == headers.request_id, where
    assert response.headers["X-Request-ID"], where
    expected_correlation = headers.correlation_id or response.headers["X-Request-ID"]
    assert response.headers["X-Correlation-ID"] == expected_correlation, where
    if body is not None and body.refused:
        assert not (response.status_code < 300 and envelope["status_code"] == 1000), (
            where,
            response.text[:300],
        )


def _code(response: httpx.Response) -> int | None:
    try:
        return int(response.json()["status_code"])
    except (ValueError, KeyError, TypeError):
        return None


SESSION_REQUIRED = frozenset(
    {"start_date_time", "kwh", "cdr_token", "auth_method", "location_id", "evse_uid", "connector_id"}
    | {"currency", "status", "last_updated"}
)  # country_code, party_id and id come from the URL when the body leaves them out


@FUZZ
@given(
    data=st.data(),
    country_code=st.one_of(st.just("NL"), segments),
    party_id=st.one_of(st.just("STK"), segments),
    session_id=st.one_of(st.none(), segments),
    headers=headers_strategy,
)
def test_session_put(
    target: Target,
    data: st.DataObject,
    country_code: str,
    party_id: str,
    session_id: str | None,
    headers: Headers,
) -> None:
    session_id = f"FZ{next(_ids)}" if session_id is None else session_id
    seed = _session(session_id, country_code=country_code, party_id=party_id)
    body = data.draw(
        mutated(seed, required=SESSION_REQUIRED, stamps=frozenset({"start_date_time", "last_updated"}))
    )
    path = "/".join(quote(p) for p in (country_code, party_id, session_id))
    check(
        target.call("PUT", f"{target.rt.url}/ocpi/2.2.1/sessions/{path}", headers, body.text), headers, body
    )


@FUZZ
@given(data=st.data(), headers=headers_strategy, minute=st.integers(min_value=0, max_value=10**6))
def test_session_patch(target: Target, data: st.DataObject, headers: Headers, minute: int) -> None:
    stamp = "2030-01-01T00:00:00Z" if minute % 2 else f"2031-{1 + minute % 12:02d}-01T00:00:00Z"
    seed = {
        "kwh": 5,
        "status": "ACTIVE",
        "last_updated": stamp,
        "charging_periods": example("session_patch_example_charging_period.json")["charging_periods"],
    }
    body = data.draw(mutated(seed, required=frozenset({"last_updated"}), stamps=frozenset({"last_updated"})))
    check(target.call("PATCH", target.patch_session_url, headers, body.text), headers, body)


@FUZZ
@given(
    data=st.data(),
    headers=headers_strategy,
    uid=st.one_of(st.none(), segments),
    query=st.dictionaries(st.sampled_from(["type", "x", "date_from"]), hostile_text, max_size=2),
)
def test_authorize(
    target: Target, data: st.DataObject, headers: Headers, uid: str | None, query: dict[str, str]
) -> None:
    seed = {"location_id": "LOC1", "evse_uids": ["3256"]}
    body = data.draw(
        st.one_of(st.none(), mutated(seed, required=frozenset({"location_id"}), stamps=frozenset()))
    )
    token_uid = quote(uid if uid is not None else target.token_uid)
    url = f"{target.rt.url}/ocpi/2.2.1/tokens/{token_uid}/authorize"
    query = {"type": "RFID", **query} if uid is None and "type" not in query else query
    response = target.call(
        "POST",
        url + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items()),
        headers,
        body.text if body else None,
    )
    check(response, headers, body)


@FUZZ
@given(
    data=st.data(),
    headers=headers_strategy,
    command=st.one_of(st.just("STOP_SESSION"), segments),
    command_id=st.one_of(st.none(), segments),
)
def test_command_result(
    target: Target, data: st.DataObject, headers: Headers, command: str, command_id: str | None
) -> None:
    seed = {"result": "ACCEPTED", "message": [{"language": "en", "text": "ok"}]}
    body = data.draw(mutated(seed, required=frozenset({"result"}), stamps=frozenset()))
    path = quote(command) + "/" + quote(command_id if command_id is not None else target.command_id)
    check(
        target.call("POST", f"{target.rt.url}/ocpi/2.2.1/commands/{path}", headers, body.text), headers, body
    )


@settings(FUZZ, max_examples=25)
@given(data=st.data(), headers=headers_strategy, method=st.sampled_from(["PUT", "POST"]))
def test_credentials(target: Target, data: st.DataObject, headers: Headers, method: str) -> None:
    seed = {
        **example("credentials_example.json"),
        "token": "fuzz-token",
        "url": f"{target.sim.url}/_nowhere/versions",
    }
    body = data.draw(mutated(seed, required=frozenset({"token", "url", "roles"}), stamps=frozenset()))
    url = f"{target.rt.url}/ocpi/2.2.1/credentials"
    # A valid body makes us call its versions URL, which fails here: 502 + 3001 is OCPI's answer
    # ("unable to use the client's API", credentials.asciidoc), and a retry can succeed.
    check(target.call(method, url, headers, body.text), headers, body, allow=(502, 3001))


CDR_REQUIRED = frozenset(
    {"country_code", "party_id", "id", "start_date_time", "end_date_time", "cdr_token", "auth_method"}
    | {
        "cdr_location",
        "currency",
        "charging_periods",
        "total_cost",
        "total_energy",
        "total_time",
        "last_updated",
    }
)


@settings(FUZZ, max_examples=50)
@given(data=st.data(), headers=headers_strategy)
def test_cdr_post(target: Target, data: st.DataObject, headers: Headers) -> None:
    seed = spec_cdr(f"FZCDR{next(_ids)}")
    body = data.draw(
        mutated(
            seed,
            required=CDR_REQUIRED,
            stamps=frozenset({"start_date_time", "end_date_time", "last_updated"}),
        )
    )
    check(target.call("POST", f"{target.rt.url}/ocpi/2.2.1/cdrs", headers, body.text), headers, body)


def test_cdr_with_a_lone_surrogate_is_stored(target: Target) -> None:
    cdr = spec_cdr(f"SURCDR{next(_ids)}")
    cdr["cdr_location"]["name"] = "MARK"
    text = json.dumps(cdr).replace('"MARK"', '"\\ud800"')
    answer = target.call("POST", f"{target.rt.url}/ocpi/2.2.1/cdrs", Headers(None, None, None, None), text)
    assert (answer.status_code, answer.json()["status_code"]) == (200, 1000), answer.text


# An id over S3's 1,024-byte key limit alone passes here: moto does not enforce that limit.
@pytest.mark.parametrize("cdr_id", ["C" * 2100, "CDR\r\nWITH-LINES"])
def test_cdr_with_an_id_that_is_no_storage_key_is_stored(target: Target, cdr_id: str) -> None:
    answer = target.call(
        "POST",
        f"{target.rt.url}/ocpi/2.2.1/cdrs",
        Headers(None, None, None, None),
        json.dumps(spec_cdr(cdr_id)),
    )
    assert (answer.status_code, answer.json()["status_code"]) == (200, 1000), answer.text


@FUZZ
@given(
    headers=headers_strategy,
    route=st.sampled_from(["sessions/NL/STK/{}", "cdrs/{}", "tokens", "credentials", "../versions", "{}"]),
    segment=segments,
    query=st.dictionaries(
        st.sampled_from(["date_from", "date_to", "offset", "limit", "x"]), hostile_text, max_size=3
    ),
)
def test_reads(target: Target, headers: Headers, route: str, segment: str, query: dict[str, str]) -> None:
    url = f"{target.rt.url}/ocpi/2.2.1/{route.format(quote(segment))}"
    query_text = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
    check(target.call("GET", f"{url}?{query_text}" if query_text else url, headers), headers, None)


def test_canaries_unchanged_after_the_fuzzing(target: Target) -> None:
    """Runs last (file order): nothing above reached the canaries, whatever ids and paths it sent."""
    for name, (url, before) in target.canaries.items():
        assert target.read(url) == before, f"canary {name} changed"
    stored = CommandStore(target.rt.env[topology.COMMANDS_TABLE.env_var]).get("CANARYCMD")
    assert stored is not None and stored["state"] == "ACCEPTED" and "result" not in stored
