"""One Lambda per concern from topology.FUNCTIONS, each with its own role holding exactly the
grants its topology entry declares (least privilege), its own log group and X-Ray tracing."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from roam_emp import grants, topology

from . import bundling
from .config import StackConfig
from .messaging import Messaging

AUTHORIZE = "OcpiAuthorize"  # topology.FUNCTIONS: the real-time authorization function


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        tables: dict[str, dynamodb.Table],
        secrets: dict[str, secretsmanager.Secret],
        buckets: dict[str, s3.Bucket],
        messaging: Messaging,
    ) -> None:
        super().__init__(scope, construct_id)
        self.functions: dict[str, lambda_.Function] = {}
        # What API Gateway invokes: the function, or its alias with provisioned concurrency.
        self.api_targets: dict[str, lambda_.IFunction] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        code = bundling.code(config.lambda_python)
        runtime = bundling.runtime(config.lambda_python)
        dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=bundling.dependencies(config.lambda_python),
            compatible_runtimes=[runtime],
            compatible_architectures=[bundling.ARCHITECTURE],
            description="roam-emp runtime dependencies (functions/requirements.txt)",
        )
        environment = {
            **config.function_environment(),
            **{spec.env_var: tables[spec.key].table_name for spec in topology.TABLES},
            **{spec.env_var: secrets[spec.key].secret_name for spec in topology.SECRETS},
            **{spec.env_var: messaging.queues[spec.key].queue_url for spec in topology.QUEUES},
            **{spec.env_var: buckets[spec.key].bucket_name for spec in topology.BUCKETS},
            topology.EVENT_BUS_ENV: messaging.bus.event_bus_name,
        }
        for spec in topology.FUNCTIONS:
            log_group = logs.LogGroup(
                self,
                f"{spec.name}Logs",
                retention=_retention(config.log_retention_days),
                removal_policy=RemovalPolicy.DESTROY,
            )
            role = iam.Role(
                self,
                f"{spec.name}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"roam-emp {spec.name}: {spec.description}",
            )
            # Instead of the AWS managed AWSLambdaBasicExecutionRole: write to its own group only.
            log_group.grant_write(role)
            function = lambda_.Function(
                self,
                spec.name,
                description=spec.description,
                runtime=runtime,
                architecture=bundling.ARCHITECTURE,
                code=code,
                layers=[dependencies],
                handler=spec.handler,
                memory_size=spec.memory_mb,
                timeout=Duration.seconds(spec.timeout_s),
                tracing=lambda_.Tracing.ACTIVE if config.xray_tracing else lambda_.Tracing.DISABLED,
                environment=environment,
                log_group=log_group,
                role=role,
                snap_start=(
                    lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS
                    if spec.name == AUTHORIZE and config.authorize_snapstart
                    else None
                ),
            )
            self._grant(spec, function, tables, secrets, messaging)
            for key, actions in spec.buckets.items():
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=list(actions),
                        resources=[buckets[key].arn_for_objects(f"{p}*") for p in topology.ARCHIVE_PREFIXES],
                    )
                )
            if spec.queue_consume:
                function.add_event_source(messaging.event_source(spec.queue_consume, spec, config))
            if spec.invokes_auth_hook and config.authorization.hook_function_arn:
                function.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["lambda:InvokeFunction"], resources=[config.authorization.hook_function_arn]
                    )
                )
            NagSuppressions.add_resource_suppressions(
                role,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="X-Ray PutTraceSegments/PutTelemetryRecords and Logs Insights "
                        "GetQueryResults/StopQuery (a query id, no resource) support no resource-level "
                        "permissions; log stream names are created by Lambda at run time.",
                        applies_to=["Resource::*", {"regex": "/^Resource::<.*Logs.*\\.Arn>:\\*$/g"}],
                    ),
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="Archive objects are keyed by CPO and CDR id under cdrs/ (refused bodies "
                        "by digest under rejected/): the grants are the S3 actions the function calls "
                        "(never delete) on those prefixes of the one bucket.",
                        applies_to=[{"regex": "/^Resource::<Archive.*\\.Arn>\\/(cdrs|rejected)\\/\\*$/g"}],
                    ),
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="GET /admin/status lists the stack's own open alarms: CloudFormation "
                        "names them '<stack name>-<logical id>-<suffix>', so the grant is the stack "
                        "name's prefix (alarm names cannot be passed in without a dependency cycle).",
                        applies_to=[
                            {"regex": "/^Resource::arn:<AWS::Partition>:cloudwatch:.*:alarm:.*\\*$/g"}
                        ],
                    ),
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason="Table grants cover the table's own global secondary indexes "
                        "(table/index/*), which only the granted table has.",
                        applies_to=[{"regex": "/^Resource::<Storage.*Table.*\\.Arn>\\/index\\/\\*$/g"}],
                    ),
                ],
                apply_to_children=True,
            )
            NagSuppressions.add_resource_suppressions(
                function,
                [
                    NagPackSuppression(
                        id="AwsSolutions-L1",
                        reason="The runtime is pinned in cdk.json (lambda_python, checked against the "
                        "supported versions at synth) and the bundled .pyc match it (infra/bundling.py).",
                    )
                ],
            )
            self.functions[spec.name] = function
            self.api_targets[spec.name] = function
            self.log_groups[spec.name] = log_group
        if config.authorize_provisioned_concurrency > 0 or config.authorize_snapstart:
            self.api_targets[AUTHORIZE] = self._live(
                self.functions[AUTHORIZE], config.authorize_provisioned_concurrency or None
            )
        for spec in topology.FUNCTIONS:
            if spec.reads_logs:
                self._grant_log_search(self.functions[spec.name], list(self.log_groups.values()))
            if spec.reads_status:
                self._grant_status(self.functions[spec.name], messaging)

    def _live(self, function: lambda_.Function, instances: int | None) -> lambda_.Alias:
        """An alias of the current version, which API Gateway invokes: with ``instances``
        pre-initialised environments (provisioned concurrency), the authorize answer never waits
        for a cold start; with SnapStart (only on published versions), a cold start resumes from
        the snapshot. Plugsurfing's timeout can be 1 s; cost and measurements in
        docs/performance.md."""
        return lambda_.Alias(
            self,
            f"{function.node.id}Live",
            alias_name="live",
            version=function.current_version,
            provisioned_concurrent_executions=instances,
        )

    @staticmethod
    def _grant_log_search(function: lambda_.Function, log_groups: list[logs.LogGroup]) -> None:
        """Logs Insights over every function's log group (the support bundle, store/logs.py)."""
        function.add_environment(
            topology.SUPPORT_LOG_GROUPS_ENV, ",".join(group.log_group_name for group in log_groups)
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["logs:StartQuery"], resources=[group.log_group_arn for group in log_groups]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["logs:GetQueryResults", "logs:StopQuery"], resources=["*"])
        )

    @staticmethod
    def _grant_status(function: lambda_.Function, messaging: Messaging) -> None:
        """GET /admin/status (domain/status.py): every queue's and dead-letter queue's depth, and
        the stack's alarms in state ALARM (CloudFormation names them "<stack name>-...")."""
        for spec in topology.QUEUES:
            if spec.dead_letter:
                function.add_environment(
                    spec.dead_letter_env_var, messaging.dead_letter_queues[spec.key].queue_url
                )
        queues = {*messaging.queues.values(), *messaging.dead_letter_queues.values()}
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sqs:GetQueueAttributes"], resources=sorted(q.queue_arn for q in queues)
            )
        )
        stack = Stack.of(function)
        prefix = f"{stack.stack_name}-"
        function.add_environment(topology.ALARM_NAME_PREFIX_ENV, prefix)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=f"{prefix}*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )

    @staticmethod
    def _grant(
        spec: topology.Function,
        function: lambda_.Function,
        tables: dict[str, dynamodb.Table],
        secrets: dict[str, secretsmanager.Secret],
        messaging: Messaging,
    ) -> None:
        # Exactly the DynamoDB actions the function's code calls (topology.table_actions), on the
        # table and, where it has any, its indexes: not CDK's grant_read_write_data.
        indexed = {spec.key for spec in topology.TABLES if spec.indexes}
        for key, actions in grants.table_actions(spec).items():
            table = tables[key]
            resources = [table.table_arn]
            if key in indexed and actions & {grants.QUERY, grants.SCAN}:
                resources.append(f"{table.table_arn}/index/*")
            function.add_to_role_policy(iam.PolicyStatement(actions=sorted(actions), resources=resources))
        for key, access in spec.secrets.items():
            secrets[key].grant_read(function)
            if access is topology.Access.WRITE:
                secrets[key].grant_write(function)
        for key in spec.queues_send:
            messaging.queues[key].grant_send_messages(function)
        if spec.queue_consume:
            messaging.queues[spec.queue_consume].grant_consume_messages(function)
        for key in spec.queues_redrive:
            messaging.grant_redrive(key, function)
        if spec.publishes_events:
            messaging.bus.grant_put_events_to(function)


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    if days not in _RETENTION:
        raise ValueError(f"log_retention_days must be one of {sorted(_RETENTION)}, got {days}")
    return _RETENTION[days]
