"""The authorize hot path (issue 11): what its cold start imports, and which AWS calls a warm
authorization makes, in which order. Plugsurfing waits 1-10 s for the answer (FAQ "How does
real-time authorization work?"); docs/performance.md has the measurements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roam_emp import topology
from roam_emp.domain import authorization
from roam_emp.domain.authorization import ALLOWED_TYPES, LocationReferences, location_references
from roam_emp.handlers import ocpi_authorize
from roam_emp.local.invoker import context_for
from roam_emp.ocpi.jsondoc import has_lone_surrogate
from roam_emp.ocpi.status import OcpiError
from roam_emp.store import aws

from .test_authorize import authorizer, seeded  # noqa: F401 - the fixture, reused

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"
AUTHORIZE = next(f for f in topology.FUNCTIONS if f.name == "OcpiAuthorize")

# Loaded by nothing the authorize answer needs (measured: docs/performance.md).
NOT_ON_THE_PATH = (
    "boto3",  # botocore alone: boto3 adds its resource layer and s3transfer
    "s3transfer",
    "aws_lambda_powertools.utilities.parameters",  # and with it AppConfig's and SSM's code
    "roam_emp.ocpi.locations",  # one attribute is read by key, no model
    "roam_emp.ocpi.tariffs",
    "httpx",  # only for the EMP's optional HTTP hook
    "aws_xray_sdk",  # Lambda's active tracing instead (handlers/_runtime.py)
    # The one route is answered by api/rest.py: the resolver package loads every resolver kind
    # (AppSync, Bedrock, VPC Lattice) and asyncio.
    "aws_lambda_powertools.event_handler",
    "asyncio",
    "roam_emp.api.http",
    # No pydantic: LocationReferences checked by hand, token and location read by key.
    "pydantic",
    "pydantic_core",
    "roam_emp.ocpi.leniency",
    "roam_emp.ocpi.tokens",
    "roam_emp.ocpi.enums",
    "roam_emp.store.tokens",
    "roam_emp.store.locations",
    "orjson",  # the location pull's canonical encoding (store/locations.py)
    "zstandard",  # the location documents' compression (store/compression.py)
    # config.py reads the environment variables' names from env_names.py: topology's resource
    # dataclasses (resources.py) are not built on this path.
    "roam_emp.topology",
    "roam_emp.resources",
)


def test_importing_the_authorize_handler_loads_only_what_answering_needs() -> None:
    probe = (
        "import json, sys, roam_emp.handlers.ocpi_authorize as h\n"
        f"print(json.dumps({{'loaded': [m for m in {NOT_ON_THE_PATH!r} if m in sys.modules]}}))"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(FUNCTIONS)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["loaded"] == []


def test_every_resource_takes_its_environment_variable_from_env_names() -> None:
    """One source of truth for the names: config.py reads env_names, topology (and with it CDK
    and local mode) gives each resource the same constant, never a literal of its own."""
    from roam_emp import env_names

    names = {value for key, value in vars(env_names).items() if key.isupper()}
    resources = (*topology.TABLES, *topology.QUEUES, *topology.BUCKETS, *topology.SECRETS)
    assert {r.env_var for r in resources} | {
        topology.EVENT_BUS_ENV,
        topology.SUPPORT_LOG_GROUPS_ENV,
        topology.ALARM_NAME_PREFIX_ENV,
    } == names


class CallLog:
    """Every DynamoDB call of this process in order, with the table, via botocore's events. The
    token read waits (bounded) until the location read has started: sequential reads fail this."""

    def __init__(self, tables: dict[str, str]) -> None:
        self.names = {name: key for key, name in tables.items()}
        self.calls: list[tuple[str, str]] = []  # (operation, table key)
        self.location_read_started = threading.Event()
        self.overlapped: list[bool] = []
        self._lock = threading.Lock()
        self.expect_location = True

    def before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        table = self.names.get(params.get("TableName", ""), "?")
        with self._lock:
            self.calls.append((model.name, table))
        if model.name == "GetItem" and table == topology.LOCATIONS_TABLE.key:
            self.location_read_started.set()
        if model.name == "GetItem" and table == topology.TOKENS_TABLE.key and self.expect_location:
            self.overlapped.append(self.location_read_started.wait(timeout=20))

    def install(self) -> None:
        aws.dynamodb().meta.events.register("provide-client-params.dynamodb.*", self.before)

    def operations(self) -> list[tuple[str, str]]:
        return list(self.calls)


@pytest.fixture
def calls(seeded: dict[str, str]) -> CallLog:  # noqa: F811 - the imported fixture
    log = CallLog({t.key: seeded[t.env_var] for t in topology.TABLES})
    log.install()
    return log


READS = {("GetItem", topology.TOKENS_TABLE.key), ("GetItem", topology.LOCATIONS_TABLE.key)}
WRITE = ("PutItem", topology.AUTHORIZATIONS_TABLE.key)


def test_a_warm_authorization_reads_token_and_location_concurrently_then_writes_once(calls: CallLog) -> None:
    decide = authorizer()
    decide.authorize("VALID", "RFID", LocationReferences(location_id="LOC1"))  # warm: clients made
    calls.calls.clear()
    calls.location_read_started.clear()
    calls.overlapped.clear()
    info = decide.authorize("VALID", "RFID", LocationReferences(location_id="LOC1"))
    assert info["allowed"] == "ALLOWED"
    done = calls.operations()
    assert len(done) == 3
    assert set(done[:2]) == READS  # both reads first, in either order
    assert done[2] == WRITE  # then the decision record, the only write
    assert calls.overlapped == [True]  # the token read was in flight when the location read began


@pytest.mark.parametrize("uid", ["NOPE", "DISABLED"])
def test_an_unknown_or_disabled_token_still_records_last(calls: CallLog, uid: str) -> None:
    decide = authorizer()
    try:
        decide.authorize(uid, "RFID", LocationReferences(location_id="LOC1"))
    except OcpiError:
        assert uid == "NOPE"
    done = calls.operations()
    assert len(done) == 3 and set(done[:2]) == READS and done[2] == WRITE


def test_without_a_location_reference_one_read_and_one_write(calls: CallLog) -> None:
    calls.expect_location = False
    authorizer().authorize("VALID", "RFID", None)
    assert calls.operations() == [("GetItem", topology.TOKENS_TABLE.key), WRITE]


# --- The hand-written parts must answer exactly what the models and the resolver answered ---

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
# Text with lone surrogates too: a JSON escape can carry one (ocpi/jsondoc.py, issue 13).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    ["", " ", "LOC1", "\ud800", "x" * 40]
)
json_values = st.recursive(
    json_scalars | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
reference_like = st.fixed_dictionaries(
    {},
    optional={
        "location_id": json_values | any_text,
        "evse_uids": json_values | st.lists(any_text, max_size=3),
    },
).flatmap(
    lambda known: st.dictionaries(any_text, json_values, max_size=3).map(lambda extra: {**extra, **known})
)


def _by_the_model(body: str) -> tuple[dict[str, Any] | None, str | None]:
    """What authorize did before issue 11: the same pre-checks, then the lenient pydantic model
    (``{"failed": ...}`` where the model refused the body or could not echo it)."""
    from pydantic import ValidationError

    from roam_emp.ocpi import jsondoc
    from roam_emp.ocpi.leniency import parse_inbound
    from roam_emp.ocpi.tokens import LocationReferences as Model

    try:
        data = jsondoc.parse(body)
    except ValueError:
        return None, "body is not JSON"
    if not isinstance(data, dict):
        return None, "body is not a LocationReferences object"
    location_id = data.get("location_id")
    if not isinstance(location_id, str) or not location_id.strip():
        return None, "no usable location_id"
    usable = dict(data)
    evse_uids = data.get("evse_uids")
    if evse_uids is not None and not (
        isinstance(evse_uids, list) and all(isinstance(e, str) for e in evse_uids)
    ):
        usable.pop("evse_uids")
    try:
        model = parse_inbound(Model, usable)[0]
        dump = model.model_dump(mode="json", exclude_none=True)
    except (ValidationError, UnicodeEncodeError) as error:  # was 400 + 2001, or 503
        return {"failed": error, "data": data}, None
    return {"dump": dump, "evse_uids": model.evse_uids}, None


def _names(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(n for v in value.values() for n in _names(v))]
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=reference_like | json_values)
def test_the_hand_check_of_location_references_is_the_model(doc: Any) -> None:
    body = json.dumps(doc)
    location, unusable = location_references(body)
    expected, expected_unusable = _by_the_model(body)
    assert unusable == expected_unusable
    if expected is None:
        assert location is None
        return
    assert location is not None
    if "failed" in expected:
        # The one difference: a lone surrogate in a field name. The model refused the body or
        # could not echo it; the reference is kept without those fields.
        assert any(has_lone_surrogate(n) for n in _names(expected["data"]))
        assert not any(has_lone_surrogate(n) for n in _names(location.as_json()))
        assert location.location_id == expected["data"]["location_id"]
        return
    assert location.as_json() == expected["dump"]
    assert list(location.as_json()) == list(expected["dump"])  # same key order in the answer
    assert location.evse_uids == expected["evse_uids"]


@settings(max_examples=300, deadline=None)
@given(uid=any_text, tail=st.sampled_from(["", "/", "//", "/x", "?"]))
def test_the_route_matches_what_the_resolver_matched(uid: str, tail: str) -> None:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    theirs = APIGatewayRestResolver._compile_regex("/ocpi/2.2.1/tokens/<token_uid>/authorize")
    path = f"/ocpi/2.2.1/tokens/{uid}/authorize{tail}"
    ours, before = ocpi_authorize.ROUTE.match(path), theirs.match(path)
    assert (ours and ours.groupdict()) == (before and before.groupdict())


def test_the_allowed_types_are_ocpis() -> None:
    from roam_emp.ocpi.enums import AllowedType

    assert {*ALLOWED_TYPES} == {t.value for t in AllowedType}


INBOUND = "hot-path-inbound-token"


def _resolver_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The authorize function as it was before issue 11: a Powertools resolver with the route."""
    from aws_lambda_powertools.event_handler import Response

    from roam_emp.api.auth import Scope, require
    from roam_emp.api.http import create_resolver, respond
    from roam_emp.handlers._runtime import http_entry, logger, metrics

    app = create_resolver()

    @app.post("/ocpi/2.2.1/tokens/<token_uid>/authorize", middlewares=[require(Scope.CONNECTED)])
    def authorize(token_uid: str) -> Response[str]:
        token_type = (app.current_event.query_string_parameters or {}).get("type", "RFID")
        location, unusable = location_references(app.current_event.body)
        logger.thread_safe_append_keys(token_uid=token_uid)
        if unusable:
            metrics.add_metric(name="AuthorizeUnusableLocation", unit="Count", value=1)
        info = ocpi_authorize.authorizer().authorize(token_uid, token_type, location)
        return respond(app, info)

    return http_entry(app, traced=False)


def _event(method: str, path: str, body: str | None, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "resource": "/ocpi/2.2.1/tokens/{token_uid}/authorize",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "queryStringParameters": {"type": "RFID"},
        "requestContext": {"stage": "test", "requestId": "r"},
        "body": body,
        "isBase64Encoded": False,
    }


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(answer["body"])
    body.pop("timestamp")
    if isinstance(body.get("data"), dict):
        body["data"].pop("authorization_reference", None)
    return {
        "statusCode": answer["statusCode"],
        "isBase64Encoded": answer.get("isBase64Encoded"),
        "multiValueHeaders": dict(answer["multiValueHeaders"]),
        "body": body,
    }


def test_the_hand_written_entry_answers_what_the_resolver_answered(
    seeded: dict[str, str],  # noqa: F811 - the imported fixture
) -> None:
    from roam_emp.config import settings as current
    from roam_emp.ocpi.auth_header import encode_token
    from roam_emp.store.credentials import CredentialsVault, HubTokens

    CredentialsVault(current().credentials_secret).put(HubTokens(inbound=INBOUND))
    before = _resolver_handler()
    good = {"Authorization": encode_token(INBOUND), "X-Request-ID": "req-1"}
    path = "/ocpi/2.2.1/tokens/VALID/authorize"
    cases = [
        ("POST", path, None, good),
        ("POST", path, '{"location_id": "LOC1", "evse_uids": ["E1"], "x": {"y": null}}', good),
        ("POST", path, '{"location_id": "NOWHERE"}', {**good, "x-correlation-id": "corr-1"}),
        ("POST", path, "{not json", good),
        ("POST", path, "[]", good),
        ("POST", path + "/", '{"location_id": ""}', good),
        ("POST", "/ocpi/2.2.1/tokens/DISABLED/authorize", None, good),
        ("POST", "/ocpi/2.2.1/tokens/NOPE/authorize", None, good),  # 404 + 2004
        ("POST", path, None, {"X-Request-ID": "req-2"}),  # no token: 401
        ("POST", path, None, {"authorization": "Token d3Jvbmc=", "X-Request-ID": "req-3"}),  # 401
        ("GET", path, None, good),  # the resolver had no such route: 404
        ("POST", '/ocpi/2.2.1/tokens/a"b/authorize', None, good),  # not a path parameter: 404
        ("POST", "/ocpi/2.2.1/tokens/VALID/authorize/more", None, good),
    ]
    for method, where, body, headers in cases:
        answers = [
            _comparable(entry(_event(method, where, body, headers), context_for(AUTHORIZE)))
            for entry in (before, ocpi_authorize.handler)
        ]
        assert answers[1] == answers[0], (method, where, body, headers)


def test_a_storage_failure_is_503_as_before(seeded: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from roam_emp.config import settings as current
    from roam_emp.ocpi.auth_header import encode_token
    from roam_emp.store.credentials import CredentialsVault, HubTokens

    CredentialsVault(current().credentials_secret).put(HubTokens(inbound=INBOUND))
    before = _resolver_handler()

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("storage down")

    monkeypatch.setattr(authorization, "token_document", broken)
    event = _event(
        "POST", "/ocpi/2.2.1/tokens/VALID/authorize", None, {"Authorization": encode_token(INBOUND)}
    )
    answers = [
        _comparable(
            entry(dict(event, headers={**event["headers"], "X-Request-ID": "same"}), context_for(AUTHORIZE))
        )
        for entry in (before, ocpi_authorize.handler)
    ]
    assert answers[0]["statusCode"] == 503 and answers[1] == answers[0]


def test_a_client_built_in_background_is_the_one_used_and_built_once(
    aws_mock: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.reset()
    started: list[threading.Thread] = []
    real_thread = threading.Thread

    def recorded(*args: Any, **kwargs: Any) -> threading.Thread:
        thread = real_thread(*args, **kwargs)
        started.append(thread)
        return thread

    monkeypatch.setattr(aws.threading, "Thread", recorded)
    aws.build_in_background("dynamodb")
    assert len(started) == 1
    started[0].join(timeout=60)
    assert [key[0] for key in aws._clients] == ["dynamodb"]  # built by the thread, not below
    built = aws.dynamodb()
    aws.build_in_background("dynamodb")  # it exists: no second thread, the same client
    assert len(started) == 1 and aws.dynamodb() is built
