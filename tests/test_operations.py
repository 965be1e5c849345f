"""Data lifecycle on moto (docs/operations.md): the TTL each store writes from its configured
retention, the GDPR erasure of one driver (what goes, what accounting keeps, what is published),
a point-in-time restore into a new table, and the CLI finding an environment's stack."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest

from roam_emp import cli, operations
from roam_emp.admin_client import AdminClient, AdminError
from roam_emp.config import settings
from roam_emp.domain.forget import FORGOTTEN_EVENT, Forgetter, StillValidAtHub
from roam_emp.domain.outbox import OutboxRelay
from roam_emp.store import doc_codec
from roam_emp.store.authorizations import AuthorizationStore
from roam_emp.store.cdrs import CdrStore
from roam_emp.store.commands import CommandStore
from roam_emp.store.pull_state import PullMode, PullRun, PullStateStore
from roam_emp.store.sessions import SessionStore
from roam_emp.store.streams import Change
from roam_emp.store.tokens import PushState, TokenStore

SCHEMAS = Path(__file__).resolve().parents[1] / "events" / "schemas"
DAY = 86400


def ddb() -> Any:
    return boto3.client("dynamodb")


def expires_at(table: str, key: dict[str, Any]) -> int:
    return int(ddb().get_item(TableName=table, Key=key)["Item"]["expires_at"]["N"])


# Retention ------------------------------------------------------------------------------------


def test_stores_write_ttl_from_the_configured_retention(aws_mock: dict[str, str]) -> None:
    config = settings()
    os.environ |= {
        "AUTHORIZATIONS_RETENTION_DAYS": "30",
        "COMMANDS_RETENTION_DAYS": "7",
        "PULL_RUNS_RETENTION_DAYS": "2",
    }
    before = time.time()
    AuthorizationStore(config.authorizations_table).record(decision("R1", "UID1"))
    CommandStore(config.commands_table).create({"command_id": "C1", "command": "STOP_SESSION"}, "SENT")
    state = PullStateStore(config.state_table)
    assert state.acquire("me", 60)
    run = PullRun(run_id="run1", mode=PullMode.FULL, started_at=datetime.now(UTC), pages=1)
    state.save_run(run, "me", 60, seen=["LOC1"])
    after = time.time()
    for table, key, days in (
        (config.authorizations_table, {"pk": {"S": "AUTH#R1"}, "sk": {"S": "D"}}, 30),
        (config.commands_table, {"pk": {"S": "CMD#C1"}, "sk": {"S": "C"}}, 7),
        (config.state_table, {"pk": {"S": "PULLRUN#run1"}, "sk": {"S": "PAGE#000001"}}, 2),
    ):
        assert int(before) + days * DAY <= expires_at(table, key) <= after + days * DAY, table
        ttl = ddb().describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires_at", "ENABLED")


def test_default_retention_without_configuration(aws_mock: dict[str, str]) -> None:
    os.environ.pop("AUTHORIZATIONS_RETENTION_DAYS", None)
    config = settings()
    now = time.time()
    AuthorizationStore(config.authorizations_table).record(decision("R2", "UID1"))
    stamp = expires_at(config.authorizations_table, {"pk": {"S": "AUTH#R2"}, "sk": {"S": "D"}})
    assert abs(stamp - (now + 400 * DAY)) < 120


def test_a_bad_retention_setting_fails_loudly(aws_mock: dict[str, str]) -> None:
    os.environ["COMMANDS_RETENTION_DAYS"] = "0"
    with pytest.raises(RuntimeError, match="COMMANDS_RETENTION_DAYS"):
        CommandStore(settings().commands_table).create(
            {"command_id": "C2", "command": "STOP_SESSION"}, "SENT"
        )


# GDPR erasure ---------------------------------------------------------------------------------

DRIVER, OTHER = "04AA0000DRIVER", "04BB00000OTHER"
DRIVER_CONTRACT, OTHER_CONTRACT = "NL-EMP-C00000001-4", "NL-EMP-C00000002-2"


def decision(reference: str, uid: str) -> dict[str, Any]:
    return {
        "authorization_reference": reference,
        "token_uid": uid,
        "token_type": "RFID",
        "decided_at": datetime.now(UTC),
        "allowed": "ALLOWED",
    }


def token(uid: str, contract_id: str, valid: bool = True) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "EMP",
        "uid": uid,
        "type": "RFID",
        "contract_id": contract_id,
        "issuer": "Example EMP",
        "valid": valid,
        "whitelist": "ALLOWED",
        "last_updated": "2026-11-01T10:00:00Z",
    }


def session(session_id: str, uid: str, contract_id: str) -> dict[str, Any]:
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": session_id,
        "start_date_time": "2026-11-20T10:00:00Z",
        "kwh": 12.5,
        "cdr_token": {"uid": uid, "type": "RFID", "contract_id": contract_id},
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "currency": "EUR",
        "status": "COMPLETED",
        "last_updated": "2026-11-20T11:00:00Z",
    }


def cdr(cdr_id: str, uid: str, contract_id: str) -> dict[str, Any]:
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": cdr_id,
        "session_id": cdr_id,
        "start_date_time": "2026-11-20T10:00:00Z",
        "end_date_time": "2026-11-20T11:00:00Z",
        "cdr_token": {"uid": uid, "type": "RFID", "contract_id": contract_id},
        "cdr_location": {"id": "LOC1", "evse_uid": "3256", "connector_id": "1"},
        "currency": "EUR",
        "total_cost": {"excl_vat": 4.5, "incl_vat": 5.36},
        "total_energy": 12.5,
        "last_updated": "2026-11-20T11:00:00Z",
    }


class Published:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, json.loads(json.dumps(detail, default=str))))


def seed(valid_at_hub: bool = False) -> None:
    """Two drivers' tokens, authorizations, sessions, CDRs (one with a conflict) and commands."""
    config = settings()
    tokens = TokenStore(config.tokens_table)
    for uid, contract_id in ((DRIVER, DRIVER_CONTRACT), (OTHER, OTHER_CONTRACT)):
        version = tokens.save_queued(token(uid, contract_id, valid=valid_at_hub or uid == OTHER))
        assert tokens.mark("RFID", uid, version, PushState.PUSHED)
    authorizations = AuthorizationStore(config.authorizations_table)
    for reference, uid in (("A1", DRIVER), ("A2", DRIVER), ("B1", OTHER)):
        authorizations.record(decision(reference, uid))
    sessions = SessionStore(config.sessions_table)
    cdrs = CdrStore(config.cdrs_table, config.cdr_archive_bucket)
    for ident, uid, contract_id in (
        ("S-DRIVER", DRIVER, DRIVER_CONTRACT),
        ("S-OTHER", OTHER, OTHER_CONTRACT),
    ):
        body = session(ident, uid, contract_id)
        assert sessions.save(body, datetime(2026, 11, 20, 11, tzinfo=UTC), None)
        doc = cdr(ident, uid, contract_id)
        cdrs.put_new(ident, cdrs.item_for(doc, f"digest-{ident}", f"cdrs/BE/BEC/{ident}/d.json", None))
        cdrs.save_facts(
            {"pk": {"S": f"CDR#{ident}"}, "sk": {"S": "CDR"}},
            1,
            {"token_match": {"method": "uid", "token_uid": uid, "token_type": "RFID"}},
        )
    # a different body under the driver's CDR id: a conflict item, personal data too
    changed = {**cdr("S-DRIVER", DRIVER, DRIVER_CONTRACT), "total_energy": 13.0}
    cdrs.put_new("S-DRIVER", cdrs.item_for(changed, "digest-2", "cdrs/BE/BEC/S-DRIVER/d2.json", None))
    commands = CommandStore(config.commands_table)
    commands.create(
        {
            "command_id": "CMD-DRIVER",
            "command": "START_SESSION",
            "request": {"token": token(DRIVER, DRIVER_CONTRACT)},
        },
        "SENT",
    )
    commands.create(
        {"command_id": "CMD-OTHER", "command": "STOP_SESSION", "request": {"session_id": "S-OTHER"}}, "SENT"
    )


def forgetter(published: Published) -> Forgetter:
    forget = Forgetter.from_settings(settings())
    forget.events = published  # type: ignore[assignment]
    return forget


def items(table: str) -> list[dict[str, Any]]:
    """Every item, its compressed documents (a session's, a CDR's) decoded: a search of the text
    looks inside them."""
    return [
        {
            name: {"JSON": doc_codec.loads(item, name)} if "B" in value else value
            for name, value in item.items()
        }
        for item in ddb().scan(TableName=table)["Items"]
    ]


def test_forget_by_token_uid_erases_the_driver_and_keeps_the_accounts(aws_mock: dict[str, str]) -> None:
    seed()
    config = settings()
    cdrs = CdrStore(config.cdrs_table, config.cdr_archive_bucket)
    published = Published()
    report = forgetter(published).forget(token_uid=DRIVER)

    assert report["counts"] == {
        "tokens_deleted": 1,
        "authorizations_deleted": 2,
        "sessions_pseudonymised": 1,
        "cdrs_pseudonymised": 1,  # one CDR id: its item and its conflict item
        "commands_pseudonymised": 1,
        "cdr_archive_bodies_kept": 2,  # the billing evidence, one body per item
    }
    pseudonym = report["pseudonym"]
    # Nothing of the driver is left in any table; the other driver is untouched.
    for table in (
        config.tokens_table,
        config.authorizations_table,
        config.sessions_table,
        config.commands_table,
    ):
        text = json.dumps(items(table))
        assert DRIVER not in text and "C00000001" not in text, table
        assert OTHER in text or table == config.commands_table, table
    stored = cdrs.get("S-DRIVER")
    assert stored is not None
    assert stored["cdr"]["cdr_token"] == {"uid": pseudonym, "type": "RFID", "contract_id": pseudonym}
    assert stored["facts"]["token_match"]["token_uid"] == pseudonym
    conflict = cdrs.get("S-DRIVER", f"CONFLICT#{'digest-2'}")
    assert conflict is not None and conflict["cdr"]["cdr_token"]["uid"] == pseudonym
    # What accounting keeps: amounts, energy, times, location, the body's digest and archive key.
    assert stored["cdr"]["total_cost"] == {"excl_vat": 4.5, "incl_vat": 5.36}
    assert stored["cdr"]["total_energy"] == 12.5
    assert stored["cdr"]["start_date_time"] == "2026-11-20T10:00:00Z"
    assert stored["cdr"]["cdr_location"]["id"] == "LOC1"
    assert (stored["digest"], stored["archive_key"]) == ("digest-S-DRIVER", "cdrs/BE/BEC/S-DRIVER/d.json")
    other = cdrs.get("S-OTHER")
    assert other is not None and other["cdr"]["cdr_token"]["uid"] == OTHER
    sessions = SessionStore(config.sessions_table)
    assert sessions.for_token("RFID", DRIVER) == []  # gone from the by_token index
    kept = sessions.get("BE", "BEC", "S-DRIVER")
    assert kept is not None and kept["cdr_token"]["uid"] == pseudonym and kept["kwh"] == 12.5
    assert [s["session_id"] for s in sessions.for_token("RFID", OTHER)] == ["S-OTHER"]
    assert TokenStore(config.tokens_table).get("RFID", OTHER) is not None

    # One event, valid against its schema, naming no personal data.
    ((detail_type, detail),) = published.events
    assert detail_type == FORGOTTEN_EVENT
    schema = json.loads((SCHEMAS / f"{FORGOTTEN_EVENT}.v1.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(detail)
    assert (detail["session_ids"], detail["cdr_ids"]) == (["S-DRIVER"], ["S-DRIVER"])
    assert DRIVER not in json.dumps(detail) and "C00000001" not in json.dumps(detail)

    # Again: nothing left to change.
    again = forgetter(Published()).forget(token_uid=DRIVER)
    assert set(again["counts"].values()) == {0}


def test_forget_by_contract_id_in_another_form(aws_mock: dict[str, str]) -> None:
    seed()
    # a CPO's session that writes the driver's contract_id without separators, lower case
    undashed = session("S-UNDASHED", "04CC0000NOTOURS", "nlempc000000014")
    assert SessionStore(settings().sessions_table).save(undashed, datetime(2026, 11, 21, tzinfo=UTC), None)
    report = forgetter(Published()).forget(contract_id="NLEMPC000000014")
    assert report["counts"]["tokens_deleted"] == 1
    assert report["counts"]["sessions_pseudonymised"] == 2
    assert report["counts"]["authorizations_deleted"] == 2  # found through the contract's token
    sessions = json.dumps(items(settings().sessions_table))
    assert DRIVER not in sessions and "c000000014" not in sessions.lower()
    assert "04CC0000NOTOURS" in sessions  # a uid that is not the driver's stays


def test_a_token_still_valid_at_plugsurfing_is_not_forgotten_without_force(aws_mock: dict[str, str]) -> None:
    seed(valid_at_hub=True)
    published = Published()
    with pytest.raises(StillValidAtHub, match="valid=false first"):
        forgetter(published).forget(token_uid=DRIVER)
    assert published.events == []
    assert TokenStore(settings().tokens_table).get("RFID", DRIVER) is not None  # nothing touched
    assert forgetter(published).forget(token_uid=DRIVER, force=True)["counts"]["tokens_deleted"] == 1


def test_the_outbox_does_not_republish_a_forgotten_session(aws_mock: dict[str, str]) -> None:
    seed()
    config = settings()
    key = {"pk": {"S": "SESSION#BE#BEC#S-DRIVER"}, "sk": {"S": "S"}}
    before = ddb().get_item(TableName=config.sessions_table, Key=key)["Item"]
    forgetter(Published()).forget(token_uid=DRIVER)
    after = ddb().get_item(TableName=config.sessions_table, Key=key)["Item"]
    relay = OutboxRelay.from_settings(config)

    def change(old: dict[str, Any], new: dict[str, Any]) -> Change:
        return Change(config.sessions_table, "MODIFY", key, old, new, "1")

    assert relay.translate(change(before, after)) == []
    # a later update of the forgotten session (a resend from the CPO) is news again, pseudonymised
    doc = doc_codec.loads(after)
    assert doc["kwh"] == 12.5
    newer = {**after, "doc": doc_codec.packed({**doc, "kwh": 13.0}, after["doc"])}
    ((detail_type, detail),) = relay.translate(change(after, newer))
    assert detail_type == "SessionUpdated" and detail["token_uid"].startswith("FORGOTTEN-")


# Backup and restore -----------------------------------------------------------------------------


def test_restore_to_a_point_in_time_into_a_new_table(aws_mock: dict[str, str]) -> None:
    """moto copies the table as it is (it ignores the time): this checks the call, the window
    check and the new table, not DynamoDB's point-in-time semantics."""
    seed()
    source = settings().cdrs_table
    with pytest.raises(AdminError, match="point-in-time recovery is not enabled"):
        operations.restore(source, datetime.now(UTC))
    ddb().update_continuous_backups(
        TableName=source, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    window = ddb().describe_continuous_backups(TableName=source)["ContinuousBackupsDescription"]
    latest = window["PointInTimeRecoveryDescription"]["LatestRestorableDateTime"]
    with pytest.raises(AdminError, match=r"outside .* restorable window"):
        operations.restore(source, latest + timedelta(days=1))
    result = operations.restore(source, latest)
    assert result["target"] == f"{source}-restored-{latest.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    assert len(items(result["target"])) == len(items(source)) == 3
    assert any("TTL" in step for step in result["next_steps"])
    with pytest.raises(Exception, match=r"already exists|TableAlreadyExists"):
        operations.restore(source, latest)  # never over an existing table


# Environments in the CLI --------------------------------------------------------------------------


def test_the_cli_finds_an_environments_stack(
    aws_mock: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    template = {
        "Resources": {
            "StorageCdrsTable0A1B2C3D": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": "stage-RoamEmp-StorageCdrsTable-XYZ",
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                },
            }
        },
        "Outputs": {"ApiUrl": {"Value": "https://stage.execute-api.example.com/prod/"}},
    }
    boto3.client("cloudformation").create_stack(StackName="stage-RoamEmp", TemplateBody=json.dumps(template))
    assert operations.api_url("stage") == "https://stage.execute-api.example.com/prod/"
    assert operations.table_name("stage", "cdrs") == "stage-RoamEmp-StorageCdrsTable-XYZ"
    with pytest.raises(AdminError, match="no stack prod-RoamEmp"):
        operations.api_url("prod")
    called: list[tuple[str, str, Any]] = []

    def call(self: AdminClient, method: str, path: str, body: Any = None) -> Any:
        called.append((self.api_url, path, body))
        return {"counts": {}}

    monkeypatch.setattr(AdminClient, "call", call)
    assert cli.main(["forget", "--env", "stage", "--contract-id", DRIVER_CONTRACT]) == 0
    assert called == [
        (
            "https://stage.execute-api.example.com/prod/",
            "/admin/privacy/forget",
            {"force": False, "contract_id": DRIVER_CONTRACT},
        )
    ]
    assert cli.main(["status", "--env", "prod"]) == 1  # no such stack: a clear error, no call
    assert len(called) == 1
