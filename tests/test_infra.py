"""The CDK app: synthesizes offline (local bundling from the wheelhouse, no Docker), passes every
cdk-nag AwsSolutions check (each remaining suppression carries a reason), passes cfn-lint, and
has the shape the issue asks for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

from roam_emp import grants, topology

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app as entry  # noqa: E402

pytestmark = pytest.mark.slow


CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]


@pytest.fixture(scope="module")
def environments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Template, Path]]:
    """Production (cdk.json's environment) and stage side by side in one app, as in one account."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context=CONTEXT)
    stacks = {"prod": entry.build(app), "stage": entry.build(app, "stage")}
    assembly = app.synth()
    return {
        env: (stack, Template.from_stack(stack), Path(assembly.directory)) for env, stack in stacks.items()
    }


@pytest.fixture(scope="module")
def synth(environments: dict[str, tuple[Any, Template, Path]]) -> tuple[Any, Template, Path]:
    return environments["prod"]


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
    layer = layer_dirs[0] / "python"
    cores = list(layer.glob("pydantic_core/_pydantic_core*.so"))
    assert cores and "aarch64" in cores[0].name
    assert (layer / "aws_lambda_powertools").is_dir()
    assert not zipfile.is_zipfile(cores[0])


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


def _role_statements(template: Template, function_name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if f"{function_name}Role" in json.dumps(policy["Properties"]["Roles"]):
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def _actions(statement: dict[str, Any]) -> set[str]:
    acts = statement["Action"]
    return set(acts if isinstance(acts, list) else [acts])


def test_table_grants_are_exactly_what_each_function_calls(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    for function in topology.FUNCTIONS:
        statements = _role_statements(template, function.name)
        granted = {a for s in statements for a in _actions(s) if a.startswith("dynamodb:")}
        if function.streams_consume:  # the event source mappings' own stream reads
            granted -= {
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
            }
        wanted = set().union(*grants.table_actions(function).values()) if function.tables else set()
        assert granted == wanted, function.name
    sessions = {a for s in _role_statements(template, "OcpiSessions") for a in _actions(s)}
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
            if action in {a for s in _role_statements(template, f.name) for a in _actions(s)}
        ]
        assert sorted(holders) == allowed, action
    # OcpiSessions' DynamoDB statements name the sessions table only.
    for statement in _role_statements(template, "OcpiSessions"):
        if any(a.startswith("dynamodb:") for a in _actions(statement)):
            resources = json.dumps(statement["Resource"])
            assert "SessionsTable" in resources or "sessions" in resources.lower(), resources
            for other in ("Cdrs", "Tokens", "State", "Locations", "Commands", "Authorizations"):
                assert f"{other}Table" not in resources, resources


def test_ocpi_routes_are_throttled_admin_routes_are_not(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    context = json.loads((ROOT / "cdk.json").read_text())["context"]["roam_emp"]
    stage = next(iter(template.find_resources("AWS::ApiGateway::Stage").values()))
    settings = stage["Properties"]["MethodSettings"]
    throttled = {
        (s["HttpMethod"], s["ResourcePath"][1:].replace("~1", "/"))  # "/~1ocpi~1..." in CloudFormation
        for s in settings
        if s.get("ThrottlingRateLimit") == context["ocpi_throttle_rate_per_second"]
        and s.get("ThrottlingBurstLimit") == context["ocpi_throttle_burst"]
    }
    ocpi = {(r.method, r.path) for f in topology.FUNCTIONS for r in f.routes if r.auth is topology.Auth.OCPI}
    assert throttled == ocpi
    assert context["ocpi_throttle_rate_per_second"] * 60 > 3000  # above Plugsurfing's own limit
    assert not [s for s in settings if "/admin" in s["ResourcePath"].replace("~1", "/")]
    template.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)  # off by default


def test_gateway_answers_ocpi_envelopes_echoing_request_ids(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in template.find_resources("AWS::ApiGateway::GatewayResponse").values()
    }
    assert {
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "MISSING_AUTHENTICATION_TOKEN",
        "THROTTLED",
        "ACCESS_DENIED",
        "REQUEST_TOO_LARGE",
        "BAD_REQUEST_BODY",
        "INTEGRATION_TIMEOUT",
    } <= set(responses)
    for kind, props in responses.items():
        body = props["ResponseTemplates"]["application/json"]
        rendered = json.loads(body.replace("$context.error.messageString", '"API Gateway says"'))
        assert set(rendered) == {"status_code", "status_message", "timestamp"}, kind
        assert rendered["status_code"] in (2000, 2001, 3000)
        headers = props["ResponseParameters"]
        assert headers["gatewayresponse.header.X-Request-ID"] == "method.request.header.X-Request-ID"
        assert headers["gatewayresponse.header.X-Correlation-ID"] == "method.request.header.X-Correlation-ID"
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"  # unknown route or method
    assert responses["THROTTLED"]["StatusCode"] == "429"
    assert (
        json.loads(
            responses["DEFAULT_5XX"]["ResponseTemplates"]["application/json"].replace(
                "$context.error.messageString", '""'
            )
        )["status_code"]
        == 3000
    )
    assert "StatusCode" not in responses["DEFAULT_4XX"]  # keeps API Gateway's own 4xx


def test_an_operator_web_acl_is_attached_to_the_stage() -> None:
    from aws_cdk import Stack
    from aws_cdk import aws_lambda as lambda_

    from infra.api import Api
    from infra.config import StackConfig

    arn = "arn:aws:wafv2:eu-central-1:123456789012:regional/webacl/emp/0f6a1b2c-3d4e"
    app = App(context={"roam_emp": {"waf_web_acl_arn": arn}})
    stack = Stack(app, "ApiOnly")
    functions = {
        f.name: lambda_.Function(
            stack,
            f.name,
            runtime=lambda_.Runtime.PYTHON_3_11,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context): pass"),
        )
        for f in topology.FUNCTIONS
    }
    Api(stack, "Api", functions=functions, config=StackConfig.from_context(app.node))
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {"WebACLArn": arn, "ResourceArn": Match.object_like({})},
    )


# Environments and data lifecycle (docs/operations.md) -----------------------------------------------

# Properties that give a resource its name in the account and region: two stacks may not share one.
PHYSICAL_NAMES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::ApiGateway::RestApi": "Name",
}


def physical_names(template: Template) -> dict[str, str]:
    names = {}
    for logical_id, resource in template.to_json()["Resources"].items():
        prop = PHYSICAL_NAMES.get(resource["Type"])
        value = resource.get("Properties", {}).get(prop) if prop else None
        if value is not None:
            # a token (Ref, Fn::Join) would be resolved by CloudFormation: name it as literal text
            names[logical_id] = value if isinstance(value, str) else json.dumps(value)
    return names


def test_two_environments_deploy_side_by_side(environments: dict[str, tuple[Any, Template, Path]]) -> None:
    (prod, prod_template, _), (stage, stage_template, _) = environments["prod"], environments["stage"]
    assert (prod.stack_name, stage.stack_name) == ("prod-RoamEmp", "stage-RoamEmp")
    prod_names, stage_names = physical_names(prod_template), physical_names(stage_template)
    assert prod_names and stage_names  # the check looks at something (event bus, API)
    assert set(prod_names.values()).isdisjoint(stage_names.values())
    for env, names in (("prod", prod_names), ("stage", stage_names)):
        # every explicit name carries its environment; the others CloudFormation derives from the
        # stack name, which starts with it
        assert all(env in name.lower() for name in names.values()), names
    # stage's own settings (cdk.json roam_emp_environments.stage)
    assert {
        g["Properties"]["RetentionInDays"]
        for g in stage_template.find_resources("AWS::Logs::LogGroup").values()
    } >= {14}
    stage_env = next(iter(stage_template.find_resources("AWS::Lambda::Function").values()))["Properties"]
    assert stage_env["Environment"]["Variables"]["ROAM_EMP_ENVIRONMENT"] == "stage"


def test_metrics_and_alarms_are_per_environment(synth: tuple[Any, Template, Path]) -> None:
    """Powertools' service dimension is the stack name, in the functions and in every alarm on
    our own metrics: stage's metrics never trip production's alarms in a shared account."""
    _, template, _ = synth
    stack_name = {"Ref": "AWS::StackName"}
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == stack_name
    ours = template.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"Namespace": "RoamEmp"}})
    assert ours
    for alarm in ours.values():
        assert alarm["Properties"]["Dimensions"] == [{"Name": "service", "Value": stack_name}]


def test_ttl_on_authorizations_commands_and_pull_runs(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    tables = template.find_resources("AWS::DynamoDB::Table")
    with_ttl = {
        logical_id
        for logical_id, table in tables.items()
        if table["Properties"].get("TimeToLiveSpecification")
        == {"AttributeName": "expires_at", "Enabled": True}
    }
    for key in ("Authorizations", "Commands", "State"):  # pull runs live in the state table
        assert any(i.startswith(f"Storage{key}Table") for i in with_ttl), (key, with_ttl)
    for table in tables.values():  # backups: point-in-time recovery everywhere (restore: docs)
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    retention = CONTEXT["roam_emp"]["retention"]
    variables = next(iter(template.find_resources("AWS::Lambda::Function").values()))["Properties"][
        "Environment"
    ]["Variables"]
    assert variables["AUTHORIZATIONS_RETENTION_DAYS"] == str(retention["authorizations_days"])
    assert variables["COMMANDS_RETENTION_DAYS"] == str(retention["commands_days"])
    assert variables["PULL_RUNS_RETENTION_DAYS"] == str(retention["pull_runs_days"])


def test_cdr_archive_lifecycle_from_cdk_json(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    retention = CONTEXT["roam_emp"]["retention"]
    (bucket,) = template.find_resources("AWS::S3::Bucket").values()
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == retention["cdr_archive_days"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": retention["cdr_archive_days"]}
    assert rule["Transitions"] == [
        {"StorageClass": "GLACIER_IR", "TransitionInDays": retention["cdr_archive_cold_after_days"]}
    ]
    assert "ObjectLockEnabled" not in bucket["Properties"]  # an option, off by default


def test_cdr_archive_object_lock_option() -> None:
    from aws_cdk import Stack

    from infra.archive import Archive
    from infra.config import RetentionPolicy

    stack = Stack(App(), "ArchiveOnly")
    Archive(
        stack,
        "Archive",
        retain=True,
        retention=RetentionPolicy(
            cdr_archive_object_lock="COMPLIANCE",
            cdr_archive_object_lock_days=2557,
            cdr_archive_days=0,  # kept forever
            cdr_archive_deep_archive_after_days=365,
        ),
    )
    (bucket,) = Template.from_stack(stack).find_resources("AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2557}},
    }
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert "ExpirationInDays" not in rule
    assert [t["StorageClass"] for t in rule["Transitions"]] == ["GLACIER_IR", "DEEP_ARCHIVE"]


def _stage(template: Template) -> dict[str, Any]:
    return next(iter(template.find_resources("AWS::ApiGateway::Stage").values()))["Properties"]  # type: ignore[no-any-return]


def test_cost_levers_by_default(synth: tuple[Any, Template, Path]) -> None:
    """Issue 11: no per-method API metrics, no X-Ray, two function alarms in all; the cost model
    counts the same alarms and metrics as the template holds."""
    from roam_emp import cost_model

    _, template, _ = synth
    stage = _stage(template)
    assert stage.get("TracingEnabled") is False
    everything = [s for s in stage["MethodSettings"] if s["ResourcePath"] == "/*" and s["HttpMethod"] == "*"]
    assert [s["MetricsEnabled"] for s in everything] == [False]
    assert not [s for s in stage["MethodSettings"] if s.get("MetricsEnabled")]
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == cost_model.alarm_count(cost_model.StackShape())
    for kind in ("Errors", "Throttles"):
        (alarm,) = [
            a["Properties"]
            for a in alarms.values()
            if a["Properties"].get("Namespace") == "AWS/Lambda" and a["Properties"]["MetricName"] == kind
        ]
        assert "Dimensions" not in alarm  # every function of the account at once
        assert alarm["AlarmDescription"].endswith(f"Runbook: docs/runbook.md#function{kind.lower()}")


def _api_and_alarms(context: dict[str, Any]) -> Template:
    """The Api and Observability constructs alone, on inline functions (no bundling)."""
    from aws_cdk import Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sqs as sqs

    from infra.api import Api
    from infra.config import StackConfig
    from infra.observability import Observability

    app = App(context={"roam_emp": context})
    stack = Stack(app, "Levers")
    config = StackConfig.from_context(app.node)
    functions = {
        f.name: lambda_.Function(
            stack,
            f.name,
            runtime=lambda_.Runtime.PYTHON_3_11,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context): pass"),
        )
        for f in topology.FUNCTIONS
    }
    api = Api(stack, "Api", functions=functions, config=config)
    Observability(
        stack,
        "Observability",
        config=config,
        api=api.rest_api,
        functions=functions,
        dead_letter_queues={
            "token_push": sqs.Queue(stack, "Dlq"),
            "outbox_failures": sqs.Queue(stack, "Failed"),
        },
        log_groups={f.name: logs.LogGroup(stack, f"{f.name}Logs") for f in topology.FUNCTIONS},
    )
    return Template.from_stack(stack)


def test_cost_levers_switched_on_restore_the_detail() -> None:
    from roam_emp import cost_model

    template = _api_and_alarms(
        {"api_detailed_metrics": True, "xray_tracing": True, "consolidated_alarms": False}
    )
    stage = _stage(template)
    assert stage["TracingEnabled"] is True
    assert [s["MetricsEnabled"] for s in stage["MethodSettings"] if s["ResourcePath"] == "/*"] == [True]
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    shape = cost_model.StackShape(api_detailed_metrics=True, xray_tracing=True, consolidated_alarms=False)
    assert len(alarms) == cost_model.alarm_count(shape)
    per_function = [a for a in alarms.values() if a["Properties"].get("Dimensions")]
    assert len([a for a in per_function if a["Properties"]["MetricName"] == "Errors"]) == len(
        topology.FUNCTIONS
    )
    default = _api_and_alarms({})
    assert len(default.find_resources("AWS::CloudWatch::Alarm")) == cost_model.alarm_count(
        cost_model.StackShape()
    )


def test_cost_switches_must_be_booleans() -> None:
    from infra.config import StackConfig

    for switch in ("api_detailed_metrics", "xray_tracing", "consolidated_alarms"):
        with pytest.raises(ValueError, match=switch):
            StackConfig.from_context(App(context={"roam_emp": {switch: "yes"}}).node)
    on = StackConfig.from_context(App(context={"roam_emp": {"xray_tracing": True}}).node)
    assert on.function_environment()["POWERTOOLS_TRACE_DISABLED"] == "false"


def test_status_function_reads_queue_depths_and_its_own_alarms_only(
    synth: tuple[Any, Template, Path],
) -> None:
    """GET /admin/status (issue 12): GetQueueAttributes on every queue and dead-letter queue,
    DescribeAlarms on the stack's own alarm names; no other function holds either."""
    stack, template, _ = synth
    statements: dict[str, list[dict[str, Any]]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for function in topology.FUNCTIONS:
            if f"{function.name}Role" in json.dumps(policy["Properties"]["Roles"]):
                statements.setdefault(function.name, []).extend(
                    policy["Properties"]["PolicyDocument"]["Statement"]
                )
    holders = {
        name
        for name, found in statements.items()
        if any(s["Action"] in ("sqs:GetQueueAttributes", "cloudwatch:DescribeAlarms") for s in found)
    }
    assert holders == {f.name for f in topology.FUNCTIONS if f.reads_status} == {"AdminSupport"}
    by_action = {
        s["Action"]: s["Resource"] for s in statements["AdminSupport"] if isinstance(s["Action"], str)
    }
    queues = template.find_resources("AWS::SQS::Queue")
    assert len(by_action["sqs:GetQueueAttributes"]) == len(queues)  # token queue, its DLQ, outbox failures
    alarms = json.dumps(by_action["cloudwatch:DescribeAlarms"])
    assert f":alarm:{stack.stack_name}-*" in alarms and alarms.count("*") == 1
    function = next(
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "roam_emp.handlers.admin_support.handler"
    )
    variables = function["Properties"]["Environment"]["Variables"]
    assert topology.TOKEN_PUSH_QUEUE.dead_letter_env_var in variables
    assert variables[topology.ALARM_NAME_PREFIX_ENV] == f"{stack.stack_name}-"


def test_admin_tokens_may_move_the_dead_letter_queue_back(synth: tuple[Any, Template, Path]) -> None:
    """`tokens redrive`: read the queue's redrive policy, take from its DLQ, send to the queue."""
    _, template, _ = synth
    sqs_actions = {
        a for s in _role_statements(template, "AdminTokens") for a in _actions(s) if a.startswith("sqs:")
    }
    assert {
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:SendMessage",
    } <= sqs_actions
    others = [f.name for f in topology.FUNCTIONS if f.name != "AdminTokens" and f.queues_redrive]
    assert others == []


def test_authorize_provisioned_concurrency_is_off_by_default(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    template.resource_count_is("AWS::Lambda::Alias", 0)


def test_authorize_provisioned_concurrency_puts_the_api_on_a_provisioned_alias(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["roam_emp"] = {**context["roam_emp"], "authorize_provisioned_concurrency": 2}
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context=context)
    template = Template.from_stack(entry.build(app))
    aliases = template.find_resources(
        "AWS::Lambda::Alias",
        {
            "Properties": {
                "Name": "live",
                "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 2},
            }
        },
    )
    assert len(aliases) == 1
    (alias_id,) = aliases
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "roam_emp.handlers.ocpi_authorize.handler"}}
    )
    (authorize_id,) = functions
    version = template.to_json()["Resources"][alias_id]["Properties"]["FunctionVersion"]
    versions = template.find_resources("AWS::Lambda::Version")
    assert version["Fn::GetAtt"][0] in versions
    # The authorize route's integration invokes the alias, never the unqualified function.
    methods = [
        m
        for m in template.find_resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "POST" and alias_id in json.dumps(m["Properties"]["Integration"])
    ]
    assert len(methods) == 1
    assert authorize_id not in json.dumps(methods[0]["Properties"]["Integration"])
    # and API Gateway may invoke it
    permissions = template.find_resources("AWS::Lambda::Permission")
    assert any(alias_id in json.dumps(p["Properties"]["FunctionName"]) for p in permissions.values())
