"""The authorization hook's contract (docs/authorization-hook.md, events/schemas/hooks/): the
example hook, asked through our own hook-calling code (Lambda and HTTP), sees requests that match
the request schema and gives answers that match the response schema; the fallback rules hold."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from werkzeug.serving import make_server

from roam_emp import topology
from roam_emp.config import settings
from roam_emp.domain.authorization import Authorizer, LambdaHook, LocationReferences
from roam_emp.ocpi.enums import AllowedType
from roam_emp.ocpi.locations import Location
from roam_emp.store.locations import IncomingLocation, LocationCache
from roam_emp.store.tokens import TokenStore

from .helpers import example

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "events" / "schemas" / "hooks"
DOC = ROOT / "docs" / "authorization-hook.md"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "example_hook", ROOT / "events" / "hooks" / "example_hook.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example_hook = _load_example()


def schema(name: str) -> jsonschema.Draft202012Validator:
    document = json.loads((SCHEMAS / f"{name}.v1.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document, format_checker=jsonschema.FormatChecker())


REQUEST, RESPONSE = schema("AuthorizationHookRequest"), schema("AuthorizationHookResponse")


class InProcessLambda:
    """Lambda's Invoke for LambdaHook: the payload bytes as sent, the example hook's handler, the
    answer bytes as returned; both checked against the contract on the way."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        request = json.loads(Payload)
        REQUEST.validate(request)
        self.requests.append(request)
        try:
            answer = example_hook.handler(request, None)
        except Exception:
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b"{}")}
        RESPONSE.validate(answer)
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


@pytest.fixture
def seeded(aws_mock: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    tokens = TokenStore(aws_mock[topology.TOKENS_TABLE.env_var])
    base = {**example("token_example_2_full_rfid.json"), "country_code": "NL", "party_id": "EMP"}
    tokens.save_queued({**base, "uid": "RICH", "contract_id": "NLEMPC0000001", "valid": True})
    tokens.save_queued({**base, "uid": "BROKE", "contract_id": "NLEMPC0000002", "valid": True})
    tokens.save_queued({**base, "uid": "OFF", "contract_id": "NLEMPC0000003", "valid": False})
    location = example("location_example.json")  # LOC1, country BEL
    LocationCache(aws_mock[topology.LOCATIONS_TABLE.env_var]).upsert(
        [IncomingLocation(Location.model_validate(location), location)]
    )
    monkeypatch.setenv("EXAMPLE_HOOK_NO_CREDIT", "NLEMPC0000002")
    monkeypatch.setenv("EXAMPLE_HOOK_BARRED_LOCATIONS", "LOC1")
    return aws_mock


def with_lambda_hook(**overrides: Any) -> tuple[Authorizer, InProcessLambda]:
    config = dataclasses.replace(settings(), auth_hook_target=None, **overrides)
    authorizer = Authorizer.from_settings(config)
    hook = LambdaHook("arn:aws:lambda:eu-central-1:123456789012:function:example-hook")
    lambda_client = InProcessLambda()
    hook._client = lambda_client
    authorizer.hook = hook
    return authorizer, lambda_client


def test_the_example_hook_through_the_lambda_path(seeded: dict[str, str]) -> None:
    authorizer, lambda_client = with_lambda_hook()
    assert authorizer.authorize("RICH", "RFID", None)["allowed"] == "ALLOWED"
    assert lambda_client.requests[-1]["location"] is None
    broke = authorizer.authorize("BROKE", "RFID", None)
    assert broke["allowed"] == "NO_CREDIT" and broke["info"]["text"] == "decided by the EMP's hook"
    here = authorizer.authorize(
        "RICH", "RFID", LocationReferences(location_id="LOC1", evse_uids=["BE*BEC*E041503001"])
    )
    assert here["allowed"] == "NOT_ALLOWED"
    assert lambda_client.requests[-1]["location"] == {
        "location_id": "LOC1",
        "evse_uids": ["BE*BEC*E041503001"],
    }
    assert lambda_client.requests[-1]["token"]["uid"] == "RICH"
    # The hook is asked only when our own policy allowed: a disabled token never reaches it.
    asked = len(lambda_client.requests)
    assert authorizer.authorize("OFF", "RFID", None)["allowed"] == "BLOCKED"
    assert len(lambda_client.requests) == asked


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"allowed": "MAYBE"}, "hook answered 'MAYBE' (fallback)"),
        ({"decision": "ALLOWED"}, "hook failed: KeyError (fallback)"),
        (RuntimeError("billing down"), "hook failed: RuntimeError (fallback)"),
    ],
)
def test_an_answer_outside_the_contract_gets_the_fallback(
    seeded: dict[str, str], monkeypatch: pytest.MonkeyPatch, answer: Any, reason: str
) -> None:
    def misbehaving(request: dict[str, Any]) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(example_hook, "decide", misbehaving)
    authorizer, _ = with_lambda_hook(auth_hook_fallback="NOT_ALLOWED")
    # What the contract refuses, the response schema refuses too.
    if isinstance(answer, dict):
        assert not RESPONSE.is_valid(answer)
        monkeypatch.setattr(InProcessLambda, "invoke", _unchecked_invoke)
    info = authorizer.authorize("RICH", "RFID", None)
    assert (info["allowed"], info["info"]["text"]) == ("NOT_ALLOWED", reason)


def _unchecked_invoke(self: InProcessLambda, FunctionName: str, Payload: bytes) -> dict[str, Any]:
    try:
        answer = example_hook.handler(json.loads(Payload), None)
    except Exception:
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b"{}")}
    return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


@pytest.fixture
def http_hook() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, example_hook.wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()


def test_the_example_hook_over_http(seeded: dict[str, str], http_hook: str) -> None:
    authorizer = Authorizer.from_settings(dataclasses.replace(settings(), auth_hook_target=http_hook))
    assert authorizer.authorize("RICH", "RFID", None)["allowed"] == "ALLOWED"
    assert authorizer.authorize("BROKE", "RFID", None)["allowed"] == "NO_CREDIT"


def test_the_schemas_and_the_code_agree() -> None:
    """The response enum is OCPI's AllowedType, which is what our code accepts from a hook; the
    example hook's values are the same; the doc names each."""
    allowed = RESPONSE.schema["properties"]["allowed"]["enum"]
    assert sorted(allowed) == sorted(AllowedType) == sorted(example_hook.ALLOWED_VALUES)
    text = DOC.read_text()
    for value in allowed:
        assert f"`{value}`" in text
    for setting in ("hook_function_arn", "hook_budget_ms", "hook_fallback"):
        assert setting in text
