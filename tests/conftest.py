"""Shared fixtures: moto in-process for store tests, real local mode + simulator for HTTP tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from roam_emp import config, topology
from roam_emp.store import aws, credentials


def _reset_process_caches() -> None:
    aws.reset()
    config.reset()
    credentials.clear_cache()


@pytest.fixture
def restore_env() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _reset_process_caches()


# The environment of every moto-backed fixture (credentials that can reach no real account).
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_REGION": "eu-central-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "PUBLIC_BASE_URL": "https://emp.example.com",
}
# ROAM_EMP_TEST_DYNAMODB=local runs every ``aws_mock`` test with DynamoDB in DynamoDB Local (the
# rest stays moto): how docs/dynamodb-local.md's differences were found. Off in CI (slower).


@pytest.fixture
def aws_mock(request: pytest.FixtureRequest, restore_env: None) -> Iterator[dict[str, str]]:
    """moto in-process with every resource of topology.py created; yields the handler env."""
    from moto import mock_aws

    from roam_emp.local.provision import LocalNames, apply, provision

    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(TEST_ENV)
    local_dynamodb = os.environ.get("ROAM_EMP_TEST_DYNAMODB") == "local"
    if local_dynamodb:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = request.getfixturevalue("dynamodb_local")
    _reset_process_caches()
    with mock_aws():
        env = provision(LocalNames())
        apply(env)
        _reset_process_caches()
        try:
            yield env
        finally:
            if local_dynamodb:  # one server for the session: the next test makes them anew
                for table in topology.TABLES:
                    aws.platform_client("dynamodb").delete_table(TableName=env[table.env_var])


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Local mode (moto server + local gateway + real handlers) and the simulator, per module.
    Every event reaching the bus lands in ``runtime.events_out`` (tests/helpers.py ``published``)."""
    from roam_emp.local.runtime import LocalRuntime
    from roam_emp.simulator import RoamSimulator

    saved = dict(os.environ)
    runtime = LocalRuntime(
        log_level="ERROR",
        schedules=False,
        events_out=str(tmp_path_factory.mktemp("events") / "events.jsonl"),
        # tests share contract_ids between tokens: an organisation configured for 25 (FAQ maximum)
        extra_env={
            "LOCATION_PULL_MIN_INTERVAL_S": "0",
            "CONTRACT_ID_PREFIXES": "NLEMP,DE8PS",
            "MAX_TOKENS_PER_CONTRACT_ID": "25",
        },
    ).start()
    simulator = RoamSimulator().start()
    try:
        yield runtime, simulator
    finally:
        simulator.stop()
        runtime.stop()
        os.environ.clear()
        os.environ.update(saved)
        _reset_process_caches()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[dict[str, str]]:
    """moto's real HTTP server (thread-safe, like DynamoDB) with topology's resources."""
    from roam_emp.local.moto_server import MotoServer
    from roam_emp.local.provision import LocalNames, apply, provision

    saved = dict(os.environ)
    server = MotoServer().start()
    env = provision(LocalNames(prefix=f"t{server.port}"))
    apply(env)
    _reset_process_caches()
    try:
        yield env
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        _reset_process_caches()


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """One DynamoDB Local (in memory) for the whole session; yields its endpoint URL. Fails the
    tests that need it when it cannot start, unless ROAM_EMP_SKIP_DYNAMODB_LOCAL=1."""
    from .dynamodb_local import DynamoDbLocal, DynamoDbLocalUnavailable, skipped

    if skipped():
        pytest.skip("ROAM_EMP_SKIP_DYNAMODB_LOCAL=1")
    server = DynamoDbLocal()
    try:
        server.start()
    except DynamoDbLocalUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


# The synthesized CDK app (tests/test_infra*.py) -------------------------------------------------


@pytest.fixture(scope="session")
def environments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Production (cdk.json's environment) and stage side by side in one app, as in one account;
    synthesized once per test process (seconds: local bundling from the wheelhouse). CDK is
    imported here, not at the top: most test processes never synthesize."""
    import sys
    from pathlib import Path

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from tests.cdk_synth import CONTEXT, ROOT

    sys.path.insert(0, str(ROOT))
    import app as entry

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context=CONTEXT)
    stacks = {"prod": entry.build(app), "stage": entry.build(app, "stage")}
    assembly = app.synth()
    return {
        env: (stack, Template.from_stack(stack), Path(assembly.directory)) for env, stack in stacks.items()
    }


@pytest.fixture(scope="session")
def synth(environments: dict[str, Any]) -> Any:
    return environments["prod"]
