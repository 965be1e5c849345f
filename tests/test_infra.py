"""The CDK app: synthesizes offline (local bundling from the wheelhouse, no Docker), passes every
cdk-nag AwsSolutions check (each remaining suppression carries a reason), passes cfn-lint, and
has the shape the issue asks for."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Annotations, Match, Template

from roam_emp import cost_model, grants, topology
from tests.cdk_synth import CONTEXT, ROOT, actions, role_statements

pytestmark = pytest.mark.slow


def test_cdk_nag_has_no_unsuppressed_findings(synth: tuple[Any, Template, Path]) -> None:
    stack, _, _ = synth
    annotations = Annotations.from_stack(stack)
    errors = annotations.find_error("*", Match.string_like_regexp(r"AwsSolutions-.*"))
    warnings = annotations.find_warning("*", Match.string_like_regexp(r"AwsSolutions-.*"))
    assert [e.entry.data for e in errors] == []
    assert [w.entry.data for w in warnings] == []


def test_every_suppression_has_a_reason(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    found = 0
    for resource in template.to_json()["Resources"].values():
        for suppression in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found += 1
            assert len(suppression["reason"]) >= 40, suppression
    assert found > 0


def test_cfn_lint_passes(synth: tuple[Any, Template, Path]) -> None:
    stack, _, outdir = synth
    assert stack.stack_name == "prod-RoamEmp"
    result = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).with_name("cfn-lint")), str(outdir / stack.template_file)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_tables_on_demand_encrypted_with_pitr(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    template.resource_count_is("AWS::DynamoDB::Table", len(topology.TABLES))
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )


def test_one_lambda_per_topology_function_arm64_untraced_by_default(
    synth: tuple[Any, Template, Path],
) -> None:
    _, template, _ = synth
    functions = template.find_resources(
        "AWS::Lambda::Function",
        {
            "Properties": {
                "Architectures": ["arm64"],
                # pinned in cdk.json, whatever Python runs the synth (docs/operations.md "Runtime")
                "Runtime": f"python{CONTEXT['roam_emp']['lambda_python']}",
            }
        },
    )
    handlers = sorted(f["Properties"]["Handler"] for f in functions.values())
    assert handlers == sorted(f.handler for f in topology.FUNCTIONS)
    # X-Ray is a cost lever, off by default (cdk.json xray_tracing): Lambda does not trace and
    # Powertools' Tracer is told so.
    for function in functions.values():
        assert function["Properties"].get("TracingConfig", {}).get("Mode") != "Active"
        assert function["Properties"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"
        # One secret read per 5 minutes per warm Lambda (docs/security.md states the window).
        assert function["Properties"]["Environment"]["Variables"]["SECRET_CACHE_S"] == "300"
        # Location documents by zstd (cdk.json location_doc_compression; docs/operations.md)
        assert function["Properties"]["Environment"]["Variables"]["LOCATION_DOC_COMPRESSION"] == "zstd"
        # Session documents written compressed (cdk.json compress_session_documents, the default).
        assert function["Properties"]["Environment"]["Variables"]["COMPRESS_SESSION_DOCUMENTS"] == "true"


def test_each_function_role_holds_only_its_own_grants(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    policies = template.find_resources("AWS::IAM::Policy")

    def actions_of(function_name: str) -> set[str]:
        found: set[str] = set()
        for policy in policies.values():
            roles = json.dumps(policy["Properties"]["Roles"])
            if f"{function_name}Role" in roles:
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    acts = statement["Action"]
                    found |= set(acts if isinstance(acts, list) else [acts])
        return found

    versions = actions_of("OcpiVersions")
    assert "secretsmanager:GetSecretValue" in versions
    assert "secretsmanager:PutSecretValue" not in versions  # read-only: it only checks tokens
    assert not {a for a in versions if a.startswith("dynamodb:") and "Put" in a}
    assert "events:PutEvents" not in versions
    credentials = actions_of("OcpiCredentials")
    assert {"secretsmanager:PutSecretValue", "events:PutEvents", "dynamodb:PutItem"} <= credentials
    # Events come from the store (the outbox): the request functions no longer publish them.
    for name in ("OcpiSessions", "OcpiCdrs", "OcpiCommands", "OcpiAuthorize", "AdminCommands"):
        assert "events:PutEvents" not in actions_of(name), name
    assert "events:PutEvents" in actions_of("OutboxRelay")
    assert "dynamodb:GetRecords" in actions_of("OutboxRelay")
    cdrs = actions_of("OcpiCdrs")  # the acknowledgement path: the archive and its own table only
    assert "s3:PutObject" in cdrs and "s3:DeleteObject" not in cdrs
    # Only the support bundle searches logs, and only the functions' own log groups.
    readers = [f.name for f in topology.FUNCTIONS if "logs:StartQuery" in actions_of(f.name)]
    assert readers == ["AdminSupport"]
    assert not any(
        "logs:GetQueryResults" in actions_of(f.name) for f in topology.FUNCTIONS if f.name != "AdminSupport"
    )


def test_support_function_searches_every_function_log_group(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    policy = next(
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if "AdminSupportRole" in json.dumps(p["Properties"]["Roles"])
    )
    start_query = next(
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "logs:StartQuery"
    )
    resources = json.dumps(start_query["Resource"])
    for function in topology.FUNCTIONS:
        assert f"{function.name}Logs" in resources, function.name
    function = next(
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "roam_emp.handlers.admin_support.handler"
    )
    groups = function["Properties"]["Environment"]["Variables"][topology.SUPPORT_LOG_GROUPS_ENV]
    assert json.dumps(groups).count("Logs") >= len(topology.FUNCTIONS)


def test_api_routes_and_auth(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    methods = template.find_resources("AWS::ApiGateway::Method")
    by_auth = {m["Properties"]["AuthorizationType"] for m in methods.values()}
    assert by_auth == {"NONE", "AWS_IAM"}
    routes = sum(len(f.routes) for f in topology.FUNCTIONS)
    assert len(methods) == routes
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": False,  # a cost lever, off by default (cdk.json xray_tracing)
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
        },
    )


def test_fifo_token_queue_with_dead_letters_and_alarm(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "FifoQueue": True,
            "ContentBasedDeduplication": True,
            "RedrivePolicy": Match.object_like(
                {"maxReceiveCount": topology.TOKEN_PUSH_QUEUE.max_receive_count}
            ),
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 0}
    )
    template.resource_count_is("AWS::Events::EventBus", 1)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_log_groups_have_retention(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert group["Properties"].get("RetentionInDays"), group


def test_bundles_are_compiled_and_built_for_lambda(synth: tuple[Any, Template, Path]) -> None:
    _, _, outdir = synth
    code_dirs = [d for d in outdir.glob("asset.*") if (d / "roam_emp").is_dir()]
    layer_dirs = [d for d in outdir.glob("asset.*") if (d / "python").is_dir()]
    assert len(code_dirs) == 1 and len(layer_dirs) == 1
    code = code_dirs[0] / "roam_emp"
    assert (code / "handlers" / "ocpi_credentials.py").exists()
    assert list((code / "handlers" / "__pycache__").glob("ocpi_credentials.*.pyc"))
    assert not (code / "local").exists() and not (code / "simulator").exists()  # moto/Flask stay out
    # botocore's data trimmed for the authorize function, written at bundling (test_botocore_data.py)
    manifest = json.loads((code / "botocore_data" / "ocpi_authorize" / "roam-emp-manifest.json").read_text())
    layer = layer_dirs[0] / "python"
    # ... from the botocore Lambda imports: the layer's (store/botocore_data.py ignores data written
    # for another version).
    layer_botocore = re.search(r"__version__ = '([^']+)'", (layer / "botocore" / "__init__.py").read_text())
    assert layer_botocore and manifest["botocore"] == layer_botocore[1]
    cores = list(layer.glob("pydantic_core/_pydantic_core*.so"))
    assert cores and "aarch64" in cores[0].name
    assert (layer / "aws_lambda_powertools").is_dir()
    assert not zipfile.is_zipfile(cores[0])
    # zstandard's C extension, built for Lambda's arm64 (store/compression.py)
    zstd = list(layer.glob("zstandard/backend_c*.so"))
    assert zstd and "aarch64" in zstd[0].name
    assert not list(layer.glob("zstandard/*cffi*"))  # its unused fallback (infra/bundling.py)


def test_zstandard_loads_without_the_dropped_cffi_backend(tmp_path: Path) -> None:
    """What the layer drops of zstandard, dropped from this machine's copy: it still imports, on
    its C extension (the layer's is built for arm64 and cannot load here)."""
    import zstandard

    from infra import bundling

    shutil.copytree(Path(zstandard.__file__).parent, tmp_path / "zstandard")
    bundling._drop_unused(tmp_path)
    assert not list(tmp_path.glob("zstandard/*cffi*"))
    loaded = subprocess.run(
        [sys.executable, "-c", "import zstandard; print(zstandard.backend)"],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "cext"


def test_location_pull_schedules_and_bus_rule(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(2 minutes)",
            "Targets": [Match.object_like({"Input": Match.serialized_json({"mode": "delta"})})],
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(30 2 * * ? *)",
            "Targets": [Match.object_like({"Input": Match.serialized_json({"mode": "full"})})],
        },
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"source": ["roam-emp"], "detail-type": ["LocationPullRequested"]},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": "roam_emp.handlers.location_pull.handler", "Timeout": 900}
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "LocationCacheAgeSeconds", "Namespace": "RoamEmp", "TreatMissingData": "breaching"},
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like(
                        {
                            "IndexName": "by_party",
                            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["summary"]},
                        }
                    )
                ]
            ),
        },
    )


def test_token_push_consumer_and_authorize_function(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    # At most token_push_max_concurrency instances push at once (cdk.json, default 3): more would
    # only wait on the shared budget (docs/tokens.md).
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 3},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "roam_emp.handlers.ocpi_authorize.handler", "Timeout": 10, "MemorySize": 1024},
    )
    template.has_resource_properties("AWS::SQS::Queue", {"FifoQueue": True, "VisibilityTimeout": 360})


def test_cdr_archive_and_credit_alarm(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": Match.object_like({"BlockPublicAcls": True}),
        },
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "CdrCredit", "Threshold": 0})


def test_operational_alarms(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    for metric in ("Hub429", "HubResponses_5xx", "CdrStoreFailures", "LocationCacheAgeSeconds"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm", {"MetricName": metric, "Namespace": "RoamEmp"}
        )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "Duration", "ExtendedStatistic": "p99", "Threshold": 800}
    )
    # issue 10: a nightly full pull may be missed once, not twice (26 h)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "LocationFullPullAgeSeconds", "Namespace": "RoamEmp", "Threshold": 26 * 3600},
    )
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert all(a["Properties"].get("AlarmActions") for a in alarms.values())  # every alarm notifies


def test_dashboard_shows_metrics_alarms_and_failed_calls(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    dashboard = next(iter(template.find_resources("AWS::CloudWatch::Dashboard").values()))
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for shown in ("Hub429", "Authorize_ALLOWED", "TokenPush_failed", "LocationCacheAgeSeconds", "alarms"):
        assert shown in body, shown
    # Logs Insights widgets over every function's log group: the failed calls, both directions.
    assert "ocpi request" in body and "http_status >= 400" in body
    assert "outbound_x_request_id" in body
    for function in topology.FUNCTIONS:
        assert f"{function.name}Logs" in body, function.name
    # Sessions: the OcpiSessions invocations (free) and the ignored updates; no metric the cost
    # model counts as cut (each would be billed: docs/cost.md).
    assert "Session PUT/PATCH/GET" in body and "SessionUpdatesIgnored" in body
    for cut in cost_model.CUT_METRICS:
        assert f'\\"{cut}\\"' not in body, cut


def test_outbox_streams_every_fact_table_to_the_relay(synth: tuple[Any, Template, Path]) -> None:
    """Delivery guarantees: each fact table streams its changes to the OutboxRelay, whose event
    source mappings retry partially, bisect, and hand what never succeeds to an alarmed queue."""
    _, template, _ = synth
    streamed = [t for t in topology.TABLES if t.stream]
    assert {t.key for t in streamed} >= {
        "cdrs",
        "sessions",
        "commands",
        "tokens",
        "authorizations",
        "locations",
    }
    tables = template.find_resources("AWS::DynamoDB::Table")
    with_streams = [
        t
        for t in tables.values()
        if t["Properties"].get("StreamSpecification") == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    ]
    assert len(with_streams) == len(streamed)
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping")
    streams = [
        m["Properties"]
        for m in mappings.values()
        if "FunctionResponseTypes" in m["Properties"] and m["Properties"].get("StartingPosition")
    ]
    assert len(streams) == len(streamed)
    settings = topology.STREAM_CONSUMER
    for mapping in streams:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == settings.max_retries
        assert mapping["MaximumRecordAgeInSeconds"] == settings.max_record_age_s
        assert mapping["StartingPosition"] == "TRIM_HORIZON"
        assert "OnFailure" in mapping["DestinationConfig"]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 0}
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "IteratorAge"})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "CdrRejected", "Threshold": 0})
    # The commands' timer runs on a schedule, with no reader needed.
    rules = template.find_resources("AWS::Events::Rule")
    assert any(
        "CommandTimeouts" in json.dumps(r) and r["Properties"].get("ScheduleExpression") == "rate(1 minute)"
        for r in rules.values()
    )


def test_every_alarm_links_its_runbook_section(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    headings = {
        line.removeprefix("## ").strip().lower()
        for line in (ROOT / "docs" / "runbook.md").read_text().splitlines()
        if line.startswith("## ")
    }
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert alarms
    for alarm in alarms.values():
        description = alarm["Properties"]["AlarmDescription"]
        assert "Runbook: docs/runbook.md#" in description, description
        assert description.rsplit("#", 1)[1] in headings, description


def test_table_grants_are_exactly_what_each_function_calls(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    for function in topology.FUNCTIONS:
        statements = role_statements(template, function.name)
        granted = {a for s in statements for a in actions(s) if a.startswith("dynamodb:")}
        if function.streams_consume:  # the event source mappings' own stream reads
            granted -= {
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            }
        wanted = set().union(*grants.table_actions(function).values()) if function.tables else set()
        assert granted == wanted, function.name
    sessions = {a for s in role_statements(template, "OcpiSessions") for a in actions(s)}
    assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= sessions
    assert (
        not {"dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem"}
        & sessions
    )
    # Only the Location pull (its cache and checkpoints) writes in batches; it deletes and scans too,
    # as do the GDPR erasure (docs/operations.md) and, scanning the tokens table for FAILED and
    # out-of-sync tokens, the token operations (docs/tokens.md).
    for action, allowed in (
        ("dynamodb:DeleteItem", ["AdminPrivacy", "LocationPull"]),
        ("dynamodb:Scan", ["AdminPrivacy", "AdminTokens", "LocationPull"]),
        ("dynamodb:BatchWriteItem", ["LocationPull"]),
    ):
        holders = [
            f.name
            for f in topology.FUNCTIONS
            if action in {a for s in role_statements(template, f.name) for a in actions(s)}
        ]
        assert sorted(holders) == allowed, action
    # OcpiSessions' DynamoDB statements name the sessions table only.
    for statement in role_statements(template, "OcpiSessions"):
        if any(a.startswith("dynamodb:") for a in actions(statement)):
            resources = json.dumps(statement["Resource"])
            assert "SessionsTable" in resources or "sessions" in resources.lower(), resources
            for other in ("Cdrs", "Tokens", "State", "Locations", "Commands", "Authorizations"):
                assert f"{other}Table" not in resources, resources
