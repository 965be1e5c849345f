"""START_SESSION checked against the cached location before anything goes to Plugsurfing
(mod_commands.asciidoc, StartSession; issue 10): the EVSE exists, is not REMOVED, is
REMOTE_START_STOP_CAPABLE; connector_id when the EVSE has START_SESSION_CONNECTOR_REQUIRED; evse_uid
whenever connector_id is given. Refusals are 400 + 2001 naming the field (moto in-process)."""

from __future__ import annotations

from typing import Any

import pytest

from roam_emp import topology
from roam_emp.config import settings
from roam_emp.domain.commands import CommandService
from roam_emp.ocpi.locations import Location
from roam_emp.ocpi.status import OcpiError, StatusCode
from roam_emp.store import aws
from roam_emp.store.locations import IncomingLocation
from roam_emp.store.tokens import PushState

from .helpers import example

UID = "START-ME"


def _evse(uid: str, capabilities: list[str], status: str = "AVAILABLE") -> dict[str, Any]:
    connector = {**example("location_example.json")["evses"][0]["connectors"][0], "id": "c1"}
    return {
        "uid": uid,
        "status": status,
        "capabilities": capabilities,
        "connectors": [connector],
        "last_updated": "2026-06-01T12:00:00Z",
    }


@pytest.fixture
def service(aws_mock: dict[str, str]) -> CommandService:
    commands = CommandService.from_settings(settings())
    token = {
        **example("token_example_2_full_rfid.json"),
        "country_code": "NL",
        "party_id": "EMP",
        "uid": UID,
        "valid": True,
    }
    version = commands.tokens.save_queued(token)
    commands.tokens.mark("RFID", UID, version, PushState.PUSHED)
    raw = {
        **example("location_example.json"),
        "id": "Loc-Start",
        "evses": [
            _evse("Evse-Ok", ["REMOTE_START_STOP_CAPABLE"]),
            _evse("EVSE-LOCAL", ["RFID_READER"]),
            _evse("EVSE-GONE", ["REMOTE_START_STOP_CAPABLE"], status="REMOVED"),
            _evse("EVSE-CONN", ["REMOTE_START_STOP_CAPABLE", "START_SESSION_CONNECTOR_REQUIRED"]),
        ],
    }
    commands.locations.upsert([IncomingLocation(Location.model_validate(raw), raw)])
    return commands


def _start(service: CommandService, **fields: Any) -> dict[str, Any]:
    body = {"token_uid": UID, "location_id": "LOC-START", **fields}
    return service._request("START_SESSION", body, "https://emp.example.com/r")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"evse_uid": "NOPE"}, "evse_uid", "is not an EVSE of location"),
        ({"evse_uid": "evse-gone"}, "evse_uid", "is REMOVED"),
        ({"evse_uid": "evse-local"}, "evse_uid", "is not REMOTE_START_STOP_CAPABLE"),
        ({"evse_uid": "evse-conn"}, "connector_id", "START_SESSION_CONNECTOR_REQUIRED"),
        ({"connector_id": "c1"}, "evse_uid", "required when connector_id is given"),
        ({"evse_uid": "evse-ok", "connector_id": "c9"}, "connector_id", "is not a connector of"),
    ],
)
def test_refusals_name_the_field_and_send_nothing(
    service: CommandService, aws_mock: dict[str, str], fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(OcpiError) as refused:
        service.send("START_SESSION", {"token_uid": UID, "location_id": "loc-start", **fields}, "https://e")
    assert refused.value.status is StatusCode.INVALID_OR_MISSING_PARAMETERS
    assert refused.value.http_status == 400
    assert refused.value.message.startswith(field) and words in refused.value.message
    # refused before anything was recorded (a command record precedes every call to Plugsurfing)
    table = aws_mock[topology.COMMANDS_TABLE.env_var]
    assert aws.dynamodb().scan(TableName=table, Select="COUNT")["Count"] == 0


def test_an_unknown_location_is_2003(service: CommandService) -> None:
    with pytest.raises(OcpiError) as refused:
        _start(service, location_id="NOWHERE")
    assert (refused.value.status, refused.value.http_status) == (StatusCode.UNKNOWN_LOCATION, 404)


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        ({}, (None, None)),  # no EVSE: the CPO picks one (StartSession.evse_uid is optional)
        ({"evse_uid": "EVSE-OK"}, ("Evse-Ok", None)),
        ({"evse_uid": "evse-conn", "connector_id": "C1"}, ("EVSE-CONN", "c1")),
    ],
)
def test_a_start_sends_the_ids_as_the_cache_spells_them(
    service: CommandService, fields: dict[str, Any], sent: tuple[str | None, str | None]
) -> None:
    request = _start(service, **fields)
    assert request["location_id"] == "Loc-Start"
    assert (request.get("evse_uid"), request.get("connector_id")) == sent
