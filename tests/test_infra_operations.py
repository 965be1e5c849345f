"""The CDK app's operational settings: environments side by side, data lifecycle, the cost levers,
the status function's grants, token push concurrency and provisioned concurrency (docs/operations.md,
docs/cost.md, docs/performance.md), and the API stage's edge: throttling, OCPI gateway responses, WAF."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App
from aws_cdk.assertions import Match, Template

from roam_emp import topology
from tests.cdk_synth import CONTEXT, ROOT, actions, role_statements

sys.path.insert(0, str(ROOT))
import app as entry

pytestmark = pytest.mark.slow


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
        a for s in role_statements(template, "AdminTokens") for a in actions(s) if a.startswith("sqs:")
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


def test_authorize_snapstart_is_off_by_default(synth: tuple[Any, Template, Path]) -> None:
    _, template, _ = synth
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert "SnapStart" not in function["Properties"]


def test_authorize_snapstart_puts_the_api_on_a_published_version_alias(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    # The wheelhouse is built for the synth's own Python: SnapStart needs python3.12+, so this
    # synth skips asset bundling (the template, not the bundles, is under test).
    context["roam_emp"] = {**context["roam_emp"], "authorize_snapstart": True, "lambda_python": "3.12"}
    context["aws:cdk:bundling-stacks"] = []
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context=context)
    template = Template.from_stack(entry.build(app))
    snapstarted = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"SnapStart": {"ApplyOn": "PublishedVersions"}}}
    )
    assert [f["Properties"]["Handler"] for f in snapstarted.values()] == [
        "roam_emp.handlers.ocpi_authorize.handler"
    ]
    (authorize_id,) = snapstarted
    aliases = template.find_resources("AWS::Lambda::Alias", {"Properties": {"Name": "live"}})
    assert len(aliases) == 1
    (alias_id,) = aliases
    alias = aliases[alias_id]["Properties"]
    assert "ProvisionedConcurrencyConfig" not in alias  # Lambda allows one or the other
    versions = template.find_resources("AWS::Lambda::Version")
    assert alias["FunctionVersion"]["Fn::GetAtt"][0] in versions
    # SnapStart applies to published versions only: the route must invoke the alias.
    methods = [
        m
        for m in template.find_resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "POST" and alias_id in json.dumps(m["Properties"]["Integration"])
    ]
    assert len(methods) == 1
    assert authorize_id not in json.dumps(methods[0]["Properties"]["Integration"])
