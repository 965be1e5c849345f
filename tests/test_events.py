"""Every route has a sample event in events/, and each one runs through its real handler (moto)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.local.invoker import context_for, load_handler
from roam_emp.store.credentials import CredentialsVault, HubTokens
from roam_emp.store.registration import Connection, ConnectionStatus, ConnectionStore

EVENTS = Path(__file__).resolve().parents[1] / "events"
SAMPLE_TOKEN = "events-sample-token"
UNREACHABLE = "http://127.0.0.1:9"  # refused at once: the sample hub is never really called

# (function, event file) -> (HTTP status, OCPI status_code) when we are registered.
EXPECTED: dict[tuple[str, str], tuple[int, int]] = {
    ("OcpiVersions", "get_ocpi_versions.json"): (200, 1000),
    ("OcpiVersions", "get_ocpi_221.json"): (200, 1000),
    ("OcpiCredentials", "get_ocpi_221_credentials.json"): (200, 1000),
    ("OcpiCredentials", "post_ocpi_221_credentials.json"): (405, 2000),  # already registered
    ("OcpiCredentials", "put_ocpi_221_credentials.json"): (502, 3001),  # hub unreachable here
    ("OcpiCredentials", "delete_ocpi_221_credentials.json"): (200, 1000),
    ("AdminRegistration", "get_admin_registration.json"): (200, 1000),
    ("AdminRegistration", "post_admin_registration.json"): (409, 2000),  # already registered
    ("AdminRegistration", "post_admin_registration_token-a.json"): (200, 1000),
    ("AdminRegistration", "delete_admin_registration.json"): (502, 3001),  # hub unreachable: kept
    ("AdminLocations", "post_admin_locations_pull.json"): (202, 1000),
    ("AdminLocations", "post_admin_locations_pull_reset.json"): (202, 1000),
    ("AdminLocations", "get_admin_locations_pull.json"): (200, 1000),
    ("AdminLocations", "get_admin_locations.json"): (200, 1000),
    ("AdminLocations", "get_admin_locations_location_id.json"): (404, 2003),  # empty cache
    ("AdminLocations", "get_admin_locations_location_id_estimate.json"): (404, 2003),  # empty cache
    ("OcpiAuthorize", "post_ocpi_221_tokens_token_uid_authorize.json"): (404, 2004),  # no tokens yet
    ("OcpiTokens", "get_ocpi_221_tokens.json"): (200, 1000),
    ("AdminTokens", "post_admin_tokens.json"): (202, 1000),
    ("AdminTokens", "patch_admin_tokens_uid.json"): (404, 2004),  # each event runs on a fresh stack
    ("AdminTokens", "get_admin_tokens_uid.json"): (404, 2004),
    ("AdminTokens", "get_admin_tokens.json"): (200, 1000),  # no FAILED token on a fresh stack
    ("AdminTokens", "post_admin_tokens_redrive.json"): (202, 1000),  # nothing to redrive, DLQ empty
    ("AdminTokens", "post_admin_tokens_resync.json"): (202, 1000),
    ("AdminTokens", "post_admin_tokens_import.json"): (202, 1000),  # one queued, one refused line
    ("OcpiSessions", "put_ocpi_221_sessions_country_code_party_id_session_id.json"): (200, 1000),
    ("OcpiSessions", "patch_ocpi_221_sessions_country_code_party_id_session_id.json"): (404, 2001),
    ("OcpiSessions", "get_ocpi_221_sessions_country_code_party_id_session_id.json"): (404, 2000),
    ("OcpiCdrs", "post_ocpi_221_cdrs.json"): (200, 1000),
    ("OcpiCdrs", "get_ocpi_221_cdrs_cdr_id.json"): (404, 2000),
    ("OcpiCommands", "post_ocpi_221_commands_command_command_id.json"): (404, 2000),  # unknown id
    ("AdminCommands", "post_admin_commands_command.json"): (404, 2004),  # no tokens yet
    ("AdminCommands", "get_admin_commands_command.json"): (404, 2000),
    ("AdminSupport", "get_admin_support.json"): (200, 1000),  # an (almost) empty bundle
    ("AdminSupport", "get_admin_status.json"): (200, 1000),  # registered, no pulls, empty queues
    ("AdminCdrs", "get_admin_cdrs_cdr_id.json"): (404, 2000),
    ("AdminCdrs", "post_admin_cdrs_reprocess.json"): (404, 2000),  # nothing archived yet
    ("AdminCdrs", "post_admin_cdrs_check.json"): (200, 1000),  # the spec's example CDR, checked
    ("AdminPrivacy", "post_admin_privacy_forget.json"): (200, 1000),  # nothing to forget: all counts 0
}


def test_every_route_has_a_sample_event() -> None:
    for function in topology.FUNCTIONS:
        for route in function.routes:
            matching = [
                p
                for p in (EVENTS / function.name).glob("*.json")
                if json.loads(p.read_text())["resource"] == route.path
                and json.loads(p.read_text())["httpMethod"] == route.method
            ]
            assert matching, f"no sample event for {route.method} {route.path}"
    assert len(EXPECTED) == sum(len(f.routes) for f in topology.FUNCTIONS)
    for function in topology.FUNCTIONS:
        if function.schedules or function.on_events or function.queue_consume or function.streams_consume:
            assert list((EVENTS / function.name).glob("*.json")), f"no sample event for {function.name}"


@pytest.mark.parametrize(("function_name", "file_name"), sorted(EXPECTED))
def test_sample_event_runs_through_its_handler(
    aws_mock: dict[str, str], function_name: str, file_name: str
) -> None:
    CredentialsVault(aws_mock[topology.HUB_CREDENTIALS.env_var]).put(
        HubTokens(inbound=SAMPLE_TOKEN, outbound="ours-for-the-hub")
    )
    ConnectionStore(aws_mock[topology.STATE_TABLE.env_var]).put(
        Connection(status=ConnectionStatus.REGISTERED, versions_url=f"{UNREACHABLE}/ocpi/versions")
    )
    raw = (EVENTS / function_name / file_name).read_text().replace("https://hub.example.com", UNREACHABLE)
    event: dict[str, Any] = json.loads(raw)
    function = next(f for f in topology.FUNCTIONS if f.name == function_name)
    result = load_handler(function.handler)(event, context_for(function))
    body = json.loads(result["body"])
    assert (result["statusCode"], body["status_code"]) == EXPECTED[(function_name, file_name)], body
    assert result["multiValueHeaders"]["X-Request-ID"] == ["3f1c2b7e-sample"]


@pytest.mark.parametrize(
    ("file_name", "mode"),
    [
        ("schedule_delta.json", "delta"),
        ("schedule_full.json", "full"),
        ("location_pull_requested.json", "full"),
    ],
)
def test_location_pull_events_reach_the_puller(aws_mock: dict[str, str], file_name: str, mode: str) -> None:
    from roam_emp.handlers.location_pull import requested_mode

    event = json.loads((EVENTS / "LocationPull" / file_name).read_text())
    assert requested_mode(event) == mode
    function = next(f for f in topology.FUNCTIONS if f.name == "LocationPull")
    result = load_handler(function.handler)(event, context_for(function))
    assert result["status"] == "not_registered"  # no Plugsurfing endpoints in this bare stack


def test_token_push_batch_reports_no_failure_for_unprocessable_messages(aws_mock: dict[str, str]) -> None:
    event = json.loads((EVENTS / "TokenPush" / "sqs_batch.json").read_text())
    function = next(f for f in topology.FUNCTIONS if f.name == "TokenPush")
    result = load_handler(function.handler)(event, context_for(function))
    # An unknown token and an AD_HOC_USER token cannot succeed later: no retry, no DLQ.
    assert result == {"batchItemFailures": []}


def test_command_timer_event_runs(aws_mock: dict[str, str]) -> None:
    event = json.loads((EVENTS / "CommandTimeouts" / "schedule_sweep.json").read_text())
    function = next(f for f in topology.FUNCTIONS if f.name == "CommandTimeouts")
    assert load_handler(function.handler)(event, context_for(function)) == {"timed_out": []}


def test_stream_batch_becomes_events_and_cdr_facts(aws_mock: dict[str, str]) -> None:
    """A Lambda DynamoDB Streams batch (Lambda's JSON: binary attributes in base64): the session
    becomes a SessionUpdated event, the CDR gets its facts written back."""
    from roam_emp.store import aws
    from roam_emp.store.cdrs import CdrStore, cdr_key

    table = aws_mock[topology.CDRS_TABLE.env_var]
    event = json.loads((EVENTS / "OutboxRelay" / "ddb_stream_batch.json").read_text())
    item = event["Records"][1]["dynamodb"]["NewImage"]
    aws.dynamodb().put_item(TableName=table, Item={**item, "doc": {"B": base64.b64decode(item["doc"]["B"])}})
    function = next(f for f in topology.FUNCTIONS if f.name == "OutboxRelay")
    result = load_handler(function.handler)(event, context_for(function))
    assert result == {"batchItemFailures": []}
    stored = CdrStore(table, aws_mock[topology.CDR_ARCHIVE.env_var]).get("12345")
    assert stored is not None and stored["facts_round"] == 1
    assert stored["facts"]["token_match"]["method"] == "none" and stored["facts"]["session_linked"] is False
    assert cdr_key("12345") == event["Records"][1]["dynamodb"]["Keys"]
