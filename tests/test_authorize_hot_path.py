"""The authorize hot path (issue 11): what its cold start imports, and which AWS calls a warm
authorization makes, in which order. Plugsurfing waits 1-10 s for the answer (FAQ "How does
real-time authorization work?"); docs/performance.md has the measurements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from roam_emp import topology
from roam_emp.ocpi.status import OcpiError
from roam_emp.ocpi.tokens import LocationReferences
from roam_emp.store import aws

from .test_authorize import authorizer, seeded  # noqa: F401 - the fixture, reused

FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"

# Loaded by nothing the authorize answer needs (measured: docs/performance.md).
NOT_ON_THE_PATH = (
    "boto3",  # botocore alone: boto3 adds its resource layer and s3transfer
    "s3transfer",
    "aws_lambda_powertools.utilities.parameters",  # and with it AppConfig's and SSM's code
    "roam_emp.ocpi.locations",  # one attribute is read by key, no model
    "roam_emp.ocpi.tariffs",
    "httpx",  # only for the EMP's optional HTTP hook
    "aws_xray_sdk",  # Lambda's active tracing instead (handlers/_runtime.py)
    "orjson",  # the location pull's canonical encoding (store/locations.py)
)


def test_importing_the_authorize_handler_loads_only_what_answering_needs() -> None:
    probe = (
        "import json, sys, roam_emp.handlers.ocpi_authorize as h\n"
        "from roam_emp.ocpi import tokens\n"
        f"print(json.dumps({{'loaded': [m for m in {NOT_ON_THE_PATH!r} if m in sys.modules],"
        " 'token_model_built': tokens.Token.__pydantic_complete__}))"
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
    # defer_build: a model the answer does not validate is not built at import
    assert seen["token_model_built"] is False


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
