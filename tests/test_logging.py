"""Log audit: every line of every Lambda carries the fields Plugsurfing's support asks for (FAQ
"What information should partners include when raising support issues?"), per-request keys never
leak into the next invocation, and no credentials token is ever written, at any level."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.handlers._runtime import logger
from roam_emp.local.invoker import context_for, load_handler
from roam_emp.store.credentials import CredentialsVault, HubTokens
from roam_emp.store.registration import Connection, ConnectionStatus, ConnectionStore
from roam_emp.telemetry import support_keys

from .helpers import example
from .test_events import EVENTS, EXPECTED, SAMPLE_TOKEN, UNREACHABLE

OUTBOUND_TOKEN = "ours-for-the-hub-secret"
SECRETS = (
    SAMPLE_TOKEN,
    base64.b64encode(SAMPLE_TOKEN.encode()).decode(),
    OUTBOUND_TOKEN,
    base64.b64encode(OUTBOUND_TOKEN.encode()).decode(),
)
# On every line an HTTP function writes (support fields + our request and correlation ids).
EVERY_LINE = ("environment", "x_request_id", "x_correlation_id", "request_method", "request_path")


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.raw: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.raw.append(self.format(record))

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw]


@pytest.fixture
def logs(aws_mock: dict[str, str]) -> Iterator[Collected]:
    CredentialsVault(aws_mock[topology.HUB_CREDENTIALS.env_var]).put(
        HubTokens(inbound=SAMPLE_TOKEN, outbound=OUTBOUND_TOKEN)
    )
    ConnectionStore(aws_mock[topology.STATE_TABLE.env_var]).put(
        Connection(status=ConnectionStatus.REGISTERED, versions_url=f"{UNREACHABLE}/ocpi/versions")
    )
    collected = Collected()
    collected.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(collected)
    logger.setLevel(logging.DEBUG)  # the strictest case for secrets: bodies are logged
    try:
        yield collected
    finally:
        logger.removeHandler(collected)
        logger.setLevel(level)


def invoke(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
    function = next(f for f in topology.FUNCTIONS if f.name == function_name)
    return load_handler(function.handler)(event, context_for(function))  # type: ignore[no-any-return]


def sample(function_name: str, file_name: str) -> dict[str, Any]:
    raw = (EVENTS / function_name / file_name).read_text().replace("https://hub.example.com", UNREACHABLE)
    return json.loads(raw)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("function_name", "file_name"), sorted(EXPECTED))
def test_every_route_logs_the_support_fields_and_no_secret(
    logs: Collected, function_name: str, file_name: str
) -> None:
    result = invoke(function_name, sample(function_name, file_name))
    lines = logs.lines
    assert lines, "an HTTP request always writes its access line"
    for line in lines:
        missing = [k for k in EVERY_LINE if not line.get(k)]
        assert not missing, f"{line['message']!r} lacks {missing}"
        assert line["environment"] == "local"
        assert line["x_request_id"] == "3f1c2b7e-sample"
        assert line["x_correlation_id"] == "9d8e7f6a-sample"
        assert line["function_name"]
    access = [line for line in lines if line["message"] == "ocpi request"]
    assert len(access) == 1
    body = json.loads(result["body"])
    assert access[0]["http_status"] == result["statusCode"]
    assert access[0]["status_code"] == body["status_code"]
    assert access[0]["request_method"] == sample(function_name, file_name)["httpMethod"]
    for raw in logs.raw:
        leaked = [s for s in SECRETS if s in raw]
        assert not leaked, f"a credentials token was logged: {raw[:200]}"


def test_credentials_bodies_are_never_logged_even_at_debug(logs: Collected) -> None:
    event = sample("OcpiCredentials", "put_ocpi_221_credentials.json")
    body = json.loads(event["body"])
    body["token"] = "brand-new-token-c-never-logged"
    event["body"] = json.dumps(body)
    invoke("OcpiCredentials", event)
    assert not any("brand-new-token-c-never-logged" in raw for raw in logs.raw)
    # ...while other bodies are, at debug level only.
    invoke("OcpiCdrs", sample("OcpiCdrs", "post_ocpi_221_cdrs.json"))
    assert [line for line in logs.lines if line["message"] == "request body"]


def test_cdr_lines_name_token_cpo_location_and_evse(logs: Collected) -> None:
    event = sample("OcpiCdrs", "post_ocpi_221_cdrs.json")
    event["headers"]["X-Original-Protocol"] = "OCPI-2.1.1"
    assert invoke("OcpiCdrs", event)["statusCode"] == 200
    cdr = json.loads(event["body"])
    access = next(line for line in logs.lines if line["message"] == "ocpi request")
    assert (
        access
        | {
            "cdr_id": cdr["id"],
            "token_uid": cdr["cdr_token"]["uid"],
            "contract_id": cdr["cdr_token"]["contract_id"],
            "cpo": f"{cdr['country_code']}*{cdr['party_id']}",
            "location_id": cdr["cdr_location"]["id"],
            "evse_uid": cdr["cdr_location"]["evse_uid"],
            "x_original_protocol": "OCPI-2.1.1",
        }
        == access
    )


def test_keys_of_one_request_never_reach_the_next(logs: Collected) -> None:
    """Lambda reuses the logger: a warm container must not tag a later request with an earlier
    request's session or CDR."""
    invoke("OcpiCdrs", sample("OcpiCdrs", "post_ocpi_221_cdrs.json"))
    event = sample("OcpiSessions", "put_ocpi_221_sessions_country_code_party_id_session_id.json")
    event["headers"] = {**event["headers"], "X-Request-ID": "second-request"}
    event["multiValueHeaders"] = {**event["multiValueHeaders"], "X-Request-ID": ["second-request"]}
    invoke("OcpiSessions", event)
    second = [line for line in logs.lines if line["x_request_id"] == "second-request"]
    assert second
    assert all("cdr_id" not in line for line in second)
    access = next(line for line in second if line["message"] == "ocpi request")
    assert access["session_id"] == json.loads(event["body"])["id"]


def test_queue_consumer_lines_carry_environment_and_the_token(logs: Collected) -> None:
    event = json.loads((EVENTS / "TokenPush" / "sqs_batch.json").read_text())
    invoke("TokenPush", event)
    lines = logs.lines
    assert lines
    assert all(line["environment"] == "local" and line["function_name"] for line in lines)
    refused = [line for line in lines if line["message"] == "token on the queue refused"]
    assert refused and all(line.get("token_uid") for line in refused)


def test_support_keys_read_sessions_and_cdrs_leniently() -> None:
    session = example("session_example_1_simple_start.json")
    assert support_keys(session) == {
        "cpo": f"{session['country_code']}*{session['party_id']}",
        "token_uid": session["cdr_token"]["uid"],
        "contract_id": session["cdr_token"]["contract_id"],
        "location_id": session["location_id"],
        "evse_uid": session["evse_uid"],
    }
    assert support_keys({"cdr_token": "not an object", "country_code": "NL"}) == {}
    assert support_keys(["not", "an", "object"]) == {}
