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
from roam_emp.domain.authorization import Authorizer, HttpHook, LambdaHook
from roam_emp.ocpi.locations import Location
from roam_emp.ocpi.status import OcpiError
from roam_emp.ocpi.tokens import LocationReferences
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
    if location:
        assert info["location"] == {"location_id": location.location_id}


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
