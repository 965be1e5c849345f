"""What the OCPI fuzzing sends and how it judges the answers (issue 13), shared by the seeded run
in the suite (tests/test_fuzz_ocpi.py) and the long run outside it (`make fuzz`, bench/fuzz.py).

For every request: never a 5xx (it tells Plugsurfing to retry the same bad request forever), always
an OCPI envelope carrying the request ids, and never 2xx + 1000 for a body the spec refuses (the
mutation knows when it made one: a required field dropped, a value of the wrong JSON type, an
invalid timestamp, not a JSON object, not JSON at all).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote as _quote

import httpx
from hypothesis import strategies as st

from roam_emp import topology
from roam_emp.local.runtime import LocalRuntime
from roam_emp.ocpi.auth_header import encode_token
from roam_emp.simulator import RoamSimulator
from roam_emp.store.commands import CommandStore

from .helpers import example, register
from .test_sessions_cdrs import pushed_token, spec_cdr

# --- what we send ---------------------------------------------------------------------------


def quote(text: str, safe: str = "") -> str:
    """Percent-encoded as a hostile client may send it: lone surrogates as their UTF-8-style bytes."""
    return _quote(text, safe=safe, errors="surrogatepass")


_ids = itertools.count()

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

    @property
    def base(self) -> str:
        return f"{self.rt.url}/ocpi/2.2.1"

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


def make_target(rt: LocalRuntime, sim: RoamSimulator) -> Target:
    """Registered with the simulator, one pushed token, and the canaries read once."""
    httpx.post(f"{sim.url}/_sim/chaos", json={})
    if not sim.state.registered:
        register(rt, sim).raise_for_status()
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
    return fuzz


def canaries_changed(target: Target) -> list[str]:
    """The canaries whose state differs from when the target was made."""
    changed = [name for name, (url, before) in target.canaries.items() if target.read(url) != before]
    stored = CommandStore(target.rt.env[topology.COMMANDS_TABLE.env_var]).get("CANARYCMD")
    if stored is None or stored["state"] != "ACCEPTED" or "result" in stored:
        changed.append("command")
    return changed


# --- one request per route, and its verdict -----------------------------------------------------


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    url: str
    headers: Headers
    body: Body | None = None
    allow: tuple[int, int] | None = None  # a 5xx the route may answer (a retry can succeed)

    def send(self, target: Target) -> httpx.Response:
        return target.call(self.method, self.url, self.headers, self.body.text if self.body else None)


def _code(response: httpx.Response) -> int | None:
    try:
        return int(response.json()["status_code"])
    except (ValueError, KeyError, TypeError):
        return None


def problems(response: httpx.Response, request: FuzzRequest) -> dict[str, str]:
    """What is wrong with the answer, by kind (empty: nothing): ``5xx``, ``wrongly_accepted``
    (2xx + 1000 for a body the spec refuses), ``not_an_envelope``, ``request_ids``."""
    where = f"{request.method} {response.request.url} {request.body!r:.300}: {response.status_code}"
    found: dict[str, str] = {}
    if response.status_code >= 500 and (response.status_code, _code(response)) != request.allow:
        found["5xx"] = f"{where} {response.text[:300]}"
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if (
        response.headers.get_list("content-type") != ["application/json"]
        or not isinstance(envelope, dict)
        or not isinstance(envelope.get("status_code"), int)
        or not isinstance(envelope.get("timestamp"), str)
    ):
        return {**found, "not_an_envelope": f"{where} {response.headers} {response.text[:300]}"}
    sent = request.headers
    request_id = response.headers.get("X-Request-ID", "")
    if not request_id or (sent.request_id is not None and request_id != sent.request_id):
        found["request_ids"] = f"{where} X-Request-ID {request_id!r}"
    if response.headers.get("X-Correlation-ID") != (sent.correlation_id or request_id):
        found["request_ids"] = f"{where} X-Correlation-ID {response.headers.get('X-Correlation-ID')!r}"
    refused = request.body is not None and request.body.refused
    if refused and response.status_code < 300 and envelope["status_code"] == 1000:
        found["wrongly_accepted"] = f"{where} {response.text[:300]}"
    return found


SESSION_REQUIRED = frozenset(
    {"start_date_time", "kwh", "cdr_token", "auth_method", "location_id", "evse_uid", "connector_id"}
    | {"currency", "status", "last_updated"}
)  # country_code, party_id and id come from the URL when the body leaves them out
CDR_REQUIRED = frozenset(
    {"country_code", "party_id", "id", "start_date_time", "end_date_time", "cdr_token", "auth_method"}
    | {"cdr_location", "currency", "charging_periods", "total_cost", "total_energy", "total_time"}
    | {"last_updated"}
)


def _path(*parts: str) -> str:
    return "/".join(quote(p) for p in parts)


def _query(query: dict[str, str]) -> str:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())


@st.composite
def session_put(draw: st.DrawFn, target: Target) -> FuzzRequest:
    country_code = draw(st.one_of(st.just("NL"), segments))
    party_id = draw(st.one_of(st.just("STK"), segments))
    session_id = draw(st.one_of(st.none(), segments))
    session_id = f"FZ{next(_ids)}" if session_id is None else session_id
    seed = _session(session_id, country_code=country_code, party_id=party_id)
    stamps = frozenset({"start_date_time", "last_updated"})
    body = draw(mutated(seed, required=SESSION_REQUIRED, stamps=stamps))
    url = f"{target.base}/sessions/{_path(country_code, party_id, session_id)}"
    return FuzzRequest("PUT", url, draw(headers_strategy), body)


@st.composite
def session_patch(draw: st.DrawFn, target: Target) -> FuzzRequest:
    minute = draw(st.integers(min_value=0, max_value=10**6))
    stamp = "2030-01-01T00:00:00Z" if minute % 2 else f"2031-{1 + minute % 12:02d}-01T00:00:00Z"
    seed = {
        "kwh": 5,
        "status": "ACTIVE",
        "last_updated": stamp,
        "charging_periods": example("session_patch_example_charging_period.json")["charging_periods"],
    }
    only_stamp = frozenset({"last_updated"})
    body = draw(mutated(seed, required=only_stamp, stamps=only_stamp))
    return FuzzRequest("PATCH", target.patch_session_url, draw(headers_strategy), body)


@st.composite
def authorize(draw: st.DrawFn, target: Target) -> FuzzRequest:
    uid = draw(st.one_of(st.none(), segments))
    query = draw(st.dictionaries(st.sampled_from(["type", "x", "date_from"]), hostile_text, max_size=2))
    seed = {"location_id": "LOC1", "evse_uids": ["3256"]}
    body = draw(st.one_of(st.none(), mutated(seed, required=frozenset({"location_id"}), stamps=frozenset())))
    if body is not None:
        # The LocationReferences are optional: one we cannot use counts as none and the policy
        # answers (issue 10, "full control"; tests/test_hostile_input.py), so no body is refused.
        body = replace(body, refused=False)
    query = {"type": "RFID", **query} if uid is None and "type" not in query else query
    url = f"{target.base}/tokens/{quote(uid if uid is not None else target.token_uid)}/authorize"
    return FuzzRequest("POST", f"{url}?{_query(query)}", draw(headers_strategy), body)


@st.composite
def command_result(draw: st.DrawFn, target: Target) -> FuzzRequest:
    command = draw(st.one_of(st.just("STOP_SESSION"), segments))
    command_id = draw(st.one_of(st.none(), segments))
    seed = {"result": "ACCEPTED", "message": [{"language": "en", "text": "ok"}]}
    body = draw(mutated(seed, required=frozenset({"result"}), stamps=frozenset()))
    command_id = target.command_id if command_id is None else command_id
    url = f"{target.base}/commands/{_path(command, command_id)}"
    return FuzzRequest("POST", url, draw(headers_strategy), body)


@st.composite
def credentials(draw: st.DrawFn, target: Target) -> FuzzRequest:
    seed = {
        **example("credentials_example.json"),
        "token": "fuzz-token",
        "url": f"{target.sim.url}/_nowhere/versions",
    }
    body = draw(mutated(seed, required=frozenset({"token", "url", "roles"}), stamps=frozenset()))
    method = draw(st.sampled_from(["PUT", "POST"]))
    # A valid body makes us call its versions URL, which fails here: 502 + 3001 is OCPI's answer
    # ("unable to use the client's API", credentials.asciidoc), and a retry can succeed.
    return FuzzRequest(method, f"{target.base}/credentials", draw(headers_strategy), body, allow=(502, 3001))


@st.composite
def cdr_post(draw: st.DrawFn, target: Target) -> FuzzRequest:
    stamps = frozenset({"start_date_time", "end_date_time", "last_updated"})
    body = draw(mutated(spec_cdr(f"FZCDR{next(_ids)}"), required=CDR_REQUIRED, stamps=stamps))
    return FuzzRequest("POST", f"{target.base}/cdrs", draw(headers_strategy), body)


@st.composite
def reads(draw: st.DrawFn, target: Target) -> FuzzRequest:
    route = draw(
        st.sampled_from(["sessions/NL/STK/{}", "cdrs/{}", "tokens", "credentials", "../versions", "{}"])
    )
    query = draw(
        st.dictionaries(
            st.sampled_from(["date_from", "date_to", "offset", "limit", "x"]), hostile_text, max_size=3
        )
    )
    url = f"{target.base}/{route.format(quote(draw(segments)))}"
    return FuzzRequest("GET", f"{url}?{_query(query)}" if query else url, draw(headers_strategy))


ROUTES: dict[str, Callable[[Target], st.SearchStrategy[FuzzRequest]]] = {
    "session PUT": session_put,
    "session PATCH": session_patch,
    "authorize": authorize,
    "command result": command_result,
    "credentials": credentials,
    "cdr POST": cdr_post,
    "reads": reads,
}
