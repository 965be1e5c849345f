"""Real-time authorization: the policy table, the hook's time budget, 2004 for unknown tokens,
and the decision record (moto in-process; the hook is a real HTTP server)."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from roam_emp import topology
from roam_emp.config import settings
from roam_emp.domain.authorization import (
    Authorizer,
    HttpHook,
    LambdaHook,
    LocationReferences,
    location_references,
)
from roam_emp.ocpi.locations import Location
from roam_emp.ocpi.status import OcpiError
from roam_emp.store.locations import IncomingLocation, LocationCache
from roam_emp.store.tokens import TokenStore

from .helpers import example


class HookServer:
    """The EMP's credit-check service: answers what it is told, as slowly as it is told."""

    def __init__(self) -> None:
        self.answer: Any = {"allowed": "NO_CREDIT"}
        self.delay_s = 0.0
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/decide"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(json.loads(request.get_data()))
        time.sleep(self.delay_s)
        return Response(json.dumps(self.answer), status=self.status, content_type="application/json")(
            environ, start_response
        )

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture(scope="module")
def hook() -> Iterator[HookServer]:
    server = HookServer()
    yield server
    server.stop()


@pytest.fixture
def seeded(aws_mock: dict[str, str]) -> dict[str, str]:
    tokens = TokenStore(aws_mock[topology.TOKENS_TABLE.env_var])
    base = {**example("token_example_2_full_rfid.json"), "country_code": "NL", "party_id": "EMP"}
    tokens.save_queued({**base, "uid": "VALID", "valid": True})
    tokens.save_queued({**base, "uid": "DISABLED", "valid": False})
    location = example("location_example.json")  # country BEL
    LocationCache(aws_mock[topology.LOCATIONS_TABLE.env_var]).upsert(
        [IncomingLocation(Location.model_validate(location), location)]
    )
    return aws_mock


def authorizer(**overrides: Any) -> Authorizer:
    return Authorizer.from_settings(dataclasses.replace(settings(), **overrides))


KNOWN = LocationReferences(location_id="LOC1")
UNKNOWN = LocationReferences(location_id="NOWHERE")


@pytest.mark.parametrize(
    ("uid", "location", "policy", "expected", "reason"),
    [
        ("VALID", KNOWN, {}, "ALLOWED", "location supported"),
        ("VALID", None, {}, "ALLOWED", "no location reference (policy: allow)"),
        ("VALID", None, {"auth_unknown_location": "DENY"}, "NOT_ALLOWED", "policy: deny"),
        ("VALID", UNKNOWN, {}, "ALLOWED", "unknown (policy: allow)"),
        ("VALID", UNKNOWN, {"auth_unknown_location": "DENY"}, "NOT_ALLOWED", "unknown (policy: deny)"),
        ("VALID", KNOWN, {"supported_countries": ("BEL", "NLD")}, "ALLOWED", "location supported"),
        ("VALID", KNOWN, {"supported_countries": ("DEU",)}, "NOT_ALLOWED", "country BEL is not supported"),
        ("DISABLED", KNOWN, {}, "BLOCKED", "disabled"),
    ],
)
def test_policy_table(
    seeded: dict[str, str],
    uid: str,
    location: LocationReferences | None,
    policy: dict[str, Any],
    expected: str,
    reason: str,
) -> None:
    info = authorizer(**policy).authorize(uid, "RFID", location)
    assert info["allowed"] == expected
    assert reason in info["info"]["text"]
    assert info["token"]["uid"] == uid
    assert len(info["authorization_reference"]) <= 36
    # mod_tokens.asciidoc, AuthorizationInfo.location: only where the driver may charge
    if location and expected == "ALLOWED":
        assert info["location"] == {"location_id": location.location_id}
    else:
        assert "location" not in info


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{}", "no usable location_id"),
        ('{"location_id": null}', "no usable location_id"),
        ('{"location_id": ""}', "no usable location_id"),
        ('{"location_id": 7}', "no usable location_id"),
        ('{"evse_uids": ["BE*BEC*E041503001"]}', "no usable location_id"),
        ("[]", "not a LocationReferences object"),
        ("not json", "not JSON"),
    ],
)
def test_an_unusable_location_reference_is_a_missing_one(
    seeded: dict[str, str], body: str, problem: str
) -> None:
    location, unusable = location_references(body)
    assert location is None and unusable is not None and problem in unusable
    # ... so the policy decides: the FAQ's "full control" recipe denies
    info = authorizer(auth_unknown_location="DENY").authorize("VALID", "RFID", location)
    assert info["allowed"] == "NOT_ALLOWED" and "no location reference" in info["info"]["text"]


def test_a_usable_location_reference_keeps_what_it_can() -> None:
    assert location_references(None) == (None, None) and location_references("  ") == (None, None)
    location, unusable = location_references('{"location_id": "LOC1", "evse_uids": "E1"}')
    assert unusable is None and location is not None
    assert (location.location_id, location.evse_uids) == ("LOC1", None)
    location, _ = location_references('{"location_id": "LOC1", "evse_uids": ["E1", "E2"]}')
    assert location is not None and location.evse_uids == ["E1", "E2"]


def test_unknown_token_is_2004(seeded: dict[str, str]) -> None:
    with pytest.raises(OcpiError) as caught:
        authorizer().authorize("NOPE", "RFID", KNOWN)
    assert (int(caught.value.status), caught.value.http_status) == (2004, 404)


def test_the_hook_decides_when_the_policy_allows(seeded: dict[str, str], hook: HookServer) -> None:
    hook.answer, hook.delay_s, hook.status = {"allowed": "NO_CREDIT"}, 0.0, 200
    decide = authorizer(auth_hook_target=hook.url)
    assert decide.authorize("VALID", "RFID", KNOWN)["allowed"] == "NO_CREDIT"
    assert hook.requests[-1]["token"]["uid"] == "VALID"
    assert hook.requests[-1]["location"] == {"location_id": "LOC1"}
    # The hook is not asked when the policy already said no.
    asked = len(hook.requests)
    assert decide.authorize("DISABLED", "RFID", KNOWN)["allowed"] == "BLOCKED"
    assert len(hook.requests) == asked


@pytest.mark.parametrize(
    ("answer", "delay", "status", "reason"),
    [
        # the hook's own HTTP timeout (200 ms) and our wait (200 ms) race: one reason either way
        ({"allowed": "NO_CREDIT"}, 2.0, 200, "longer than 200 ms"),
        ({"error": "boom"}, 0.0, 500, "hook failed"),
        ({"allowed": "MAYBE"}, 0.0, 200, "hook answered 'MAYBE'"),
    ],
)
def test_a_slow_or_failing_hook_gets_the_fallback_in_time(
    seeded: dict[str, str], hook: HookServer, answer: Any, delay: float, status: int, reason: str
) -> None:
    hook.answer, hook.delay_s, hook.status = answer, delay, status
    decide = authorizer(auth_hook_target=hook.url, auth_hook_budget_ms=200, auth_hook_fallback="NOT_ALLOWED")
    started = time.monotonic()
    info = decide.authorize("VALID", "RFID", KNOWN)
    answered_after = time.monotonic() - started
    hook.delay_s = 0.0
    assert info["allowed"] == "NOT_ALLOWED"
    assert reason in info["info"]["text"]
    assert answered_after < max(delay, 1.0)  # never waits for the hook past its budget


class StubHook:
    """A hook whose own timer fires first (raises at once) or that overruns our wait."""

    def __init__(self, raises: Exception | None = None, sleep_s: float = 0.0) -> None:
        self.raises, self.sleep_s = raises, sleep_s
        self.release = threading.Event()

    def decide(self, request: dict[str, Any], budget_s: float) -> str:
        if self.raises:
            raise self.raises
        self.release.wait(self.sleep_s)
        return "NO_CREDIT"


@pytest.mark.parametrize("which", ["hook's own timeout first", "our wait first"])
def test_a_budget_overrun_has_one_reason_whichever_timer_fires(seeded: dict[str, str], which: str) -> None:
    stub = StubHook(TimeoutError("read timed out")) if which.startswith("hook") else StubHook(sleep_s=30)
    decide = authorizer(auth_hook_budget_ms=100, auth_hook_fallback="NOT_ALLOWED")
    decide.hook = stub
    try:
        info = decide.authorize("VALID", "RFID", KNOWN)
    finally:
        stub.release.set()
    assert info["allowed"] == "NOT_ALLOWED"
    assert info["info"]["text"] == "hook took longer than 100 ms (fallback)"


def test_the_http_hooks_own_timeout_is_a_timeout(hook: HookServer) -> None:
    hook.answer, hook.delay_s, hook.status = {"allowed": "NO_CREDIT"}, 1.0, 200
    try:
        with pytest.raises(TimeoutError):
            HttpHook(hook.url).decide({"token": {}}, 0.05)
    finally:
        hook.delay_s = 0.0


def test_lambda_hook_reads_the_payload_and_surfaces_function_errors() -> None:
    class FakeLambda:
        def __init__(self, answer: dict[str, Any]) -> None:
            self.answer = answer
            self.calls: list[dict[str, Any]] = []

        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            self.calls.append(kwargs)
            return self.answer

    hook = LambdaHook("arn:aws:lambda:eu-central-1:123456789012:function:credit-check")
    hook._client = FakeLambda({"Payload": io.BytesIO(b'{"allowed": "EXPIRED"}')})
    assert hook.decide({"token": {}}, 0.5) == "EXPIRED"
    assert hook._client.calls[0]["FunctionName"].endswith("credit-check")
    hook._client = FakeLambda({"FunctionError": "Unhandled", "Payload": io.BytesIO(b"{}")})
    with pytest.raises(RuntimeError, match="Unhandled"):
        hook.decide({}, 0.5)
    assert isinstance(HttpHook("http://127.0.0.1:9/x"), HttpHook)


def test_every_decision_is_recorded(seeded: dict[str, str]) -> None:
    decide = authorizer()
    info = decide.authorize("VALID", "RFID", KNOWN)
    with pytest.raises(OcpiError):
        decide.authorize("NOPE", "RFID", None)
    recorded = decide.decisions.for_token("RFID", "VALID")
    assert recorded[0]["authorization_reference"] == info["authorization_reference"]
    assert recorded[0]["allowed"] == "ALLOWED" and recorded[0]["location_id"] == "LOC1"
    assert recorded[0]["latency_ms"] >= 0
    assert decide.decisions.for_token("RFID", "NOPE")[0]["allowed"] == "UNKNOWN_TOKEN"


def test_recent_decisions_are_newest_first_within_one_second(seeded: dict[str, str]) -> None:
    store = authorizer().decisions
    for reference, decided_at in (("LATER", "2026-06-01T12:00:00.500Z"), ("EARLIER", "2026-06-01T12:00:00Z")):
        store.record(
            {"authorization_reference": reference, "token_type": "RFID", "token_uid": "SAME-SECOND"}
            | {"decided_at": decided_at, "allowed": "ALLOWED"}
        )
    assert [d["authorization_reference"] for d in store.for_token("RFID", "SAME-SECOND")] == [
        "LATER",
        "EARLIER",
    ]
    assert store.for_token("RFID", "SAME-SECOND")[0]["decided_at"] == "2026-06-01T12:00:00.500Z"
