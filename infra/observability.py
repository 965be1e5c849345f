"""Alarms (to one SNS topic) and the CloudWatch dashboard.

The foundation watches the infrastructure itself: dead-letter queues, API 5xx, function errors and
throttles. Module issues add their own business alarms and widgets here.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .config import StackConfig

NAMESPACE = "RoamEmp"  # Powertools Metrics namespace (POWERTOOLS_METRICS_NAMESPACE)
# The dimension Powertools adds to every metric: the stack name (POWERTOOLS_SERVICE_NAME, infra/config.py),
# so that two environments in one account never alarm on each other's metrics.
SERVICE = {"service": Aws.STACK_NAME}


RUNBOOK = "docs/runbook.md"
_CONSOLIDATED = {
    "Errors": "raised unhandled errors (the dashboard's Function errors widget names it)",
    "Throttles": "was throttled (account concurrency)",
}


def runbook_link(alarm: str) -> str:
    """Every alarm names its runbook section (docs/runbook.md, one heading per alarm)."""
    return f"Runbook: {RUNBOOK}#{alarm.lower()}"


def app_metric(name: str, statistic: str = "Sum", minutes: int = 5) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map=SERVICE,
        statistic=statistic,
        period=Duration.minutes(minutes),
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        api: apigateway.RestApi,
        functions: dict[str, lambda_.Function],
        dead_letter_queues: dict[str, sqs.Queue],
        log_groups: dict[str, logs.LogGroup],
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self, "AlarmTopicKey", enable_key_rotation=True, description="roam-emp alarm topic encryption"
        )
        # CloudWatch alarms publish to an encrypted topic only if the key lets CloudWatch use it.
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name=f"roam-emp {config.environment} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        for key_name, dlq in dead_letter_queues.items():
            self._alarm(
                f"{key_name}DeadLetters",
                dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=0,
                description=f"Messages in the {key_name} dead-letter queue: they failed every "
                "retry and need an operator",
            )
        self._alarm(
            "Api5xx",
            api.metric_server_error(period=Duration.minutes(5), statistic="Sum"),
            threshold=5,
            description="API Gateway answered 5xx more than 5 times in 5 min",
        )
        if config.consolidated_alarms:
            # Every function of the account and region at once (Lambda's metrics without a
            # FunctionName dimension): two alarms instead of two per function. The dashboard's
            # "Function errors" widget names the function; deploy into an account of its own.
            for kind in ("Errors", "Throttles"):
                self._alarm(
                    f"Function{kind}",
                    cloudwatch.Metric(
                        namespace="AWS/Lambda", metric_name=kind, statistic="Sum", period=Duration.minutes(5)
                    ),
                    threshold=0,
                    description=f"A function in this account and region {_CONSOLIDATED[kind]}",
                )
        else:
            for name, function in functions.items():
                self._alarm(
                    f"{name}Errors",
                    function.metric_errors(period=Duration.minutes(5)),
                    threshold=0,
                    description=f"{name} raised unhandled errors",
                    runbook="FunctionErrors",
                )
                self._alarm(
                    f"{name}Throttles",
                    function.metric_throttles(period=Duration.minutes(5)),
                    threshold=0,
                    description=f"{name} was throttled",
                    runbook="FunctionThrottles",
                )
        # Locations cache freshness: the pull Lambda reports the cache's age after every run; no
        # data at all means no pull ran, which is just as stale.
        stale = app_metric("LocationCacheAgeSeconds", "Maximum").create_alarm(
            self,
            "LocationCacheStale",
            threshold=config.location_cache_max_age_minutes * 60,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            alarm_description="No Location pull completed recently: the cache is getting stale. "
            + runbook_link("LocationCacheStale"),
        )
        stale.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(stale)
        # The nightly full pull is the only way removals reach the cache (FAQ "How are removed
        # Locations handled?"); one missed night is tolerated, a second is not (issue 10).
        self._alarm(
            "LocationFullPullStale",
            app_metric("LocationFullPullAgeSeconds", "Maximum", minutes=60),
            threshold=26 * 3600,
            description="No full Location pull completed in the last 26 h: removed locations stay cached",
        )
        # A CDR we could not store was not acknowledged: Plugsurfing resends it, but find out why.
        self._alarm(
            "CdrStoreFailures",
            app_metric("CdrStoreFailures"),
            threshold=0,
            description="CDRs could not be archived/stored (answered 503; Plugsurfing resends nightly)",
        )
        # Our shared limiter should keep Plugsurfing from ever answering 429.
        self._alarm(
            "Hub429",
            app_metric("Hub429"),
            threshold=0,
            description="Plugsurfing answered 429: the shared rate limiter budget is too high",
        )
        self._alarm(
            "Hub5xx",
            app_metric("HubResponses_5xx"),
            threshold=10,
            description="Plugsurfing answered 5xx more than 10 times in 5 minutes",
        )
        authorize = functions.get("OcpiAuthorize")
        if authorize is not None:
            self._alarm(
                "AuthorizeSlow",
                authorize.metric_duration(period=Duration.minutes(5), statistic="p99"),
                threshold=config.authorize_p99_alarm_ms,
                description="Real-time authorization p99 approaches Plugsurfing's timeout (1-10 s)",
            )
        # A refused CDR is archived under rejected/ and answered 400: Plugsurfing resends it for 7
        # days, then stops. Look before then: if our rule is wrong, fix it and reprocess.
        self._alarm(
            "CdrRejected",
            app_metric("CdrRejected"),
            threshold=0,
            description="A CDR was refused (400 + 2001) and archived under rejected/: review it "
            "within 7 days; `roam-emp cdrs reprocess --key ...` after a fix",
        )
        relay = functions.get("OutboxRelay")
        if relay is not None:
            # Events wait while the stream consumer lags (retrying a record, or throttled).
            self._alarm(
                "OutboxLag",
                relay.metric("IteratorAge", period=Duration.minutes(5), statistic="Maximum"),
                threshold=15 * 60 * 1000,
                description="Domain events lag more than 15 min behind the tables (OutboxRelay "
                "IteratorAge): a record keeps failing, or the consumer is throttled",
            )
        # Credit CDRs are not supported by Roam OCPI (FAQ): each one needs a human.
        self._alarm(
            "CreditCdr",
            app_metric("CdrCredit"),
            threshold=0,
            description="A credit CDR arrived (not supported by Roam OCPI): stored flagged, review it",
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=None)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Location pulls: changes per 5 min",
                left=[
                    app_metric(n)
                    for n in (
                        "LocationsCreated",
                        "LocationsUpdated",
                        "LocationsRemoved",
                        "LocationsRejected",
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Location cache age (s)",
                left=[app_metric("LocationCacheAgeSeconds", "Maximum")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    api.metric_count(period=Duration.minutes(1)),
                    api.metric_client_error(period=Duration.minutes(1)),
                    api.metric_server_error(period=Duration.minutes(1)),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency p99 (ms)",
                left=[api.metric_latency(period=Duration.minutes(1), statistic="p99")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[f.metric_errors(period=Duration.minutes(5)) for f in functions.values()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function duration p99 (ms)",
                left=[
                    f.metric_duration(period=Duration.minutes(5), statistic="p99") for f in functions.values()
                ],
                width=12,
            ),
        )
        # Session traffic: the OcpiSessions function's invocations (free), in place of the cut
        # custom metric of applied updates (docs/cost.md). An upper bound of the updates, not the
        # same count: it also counts GETs, 401s and refused bodies. Ignored (older) updates are
        # counted on their own; the refusals are in the access log lines (status_code 2001).
        sessions = functions.get("OcpiSessions")
        session_metrics: list[cloudwatch.IMetric] = [app_metric("SessionUpdatesIgnored")]
        if sessions is not None:
            session_metrics.insert(
                0,
                sessions.metric_invocations(
                    period=Duration.minutes(5), label="Session PUT/PATCH/GET (all answers)"
                ),
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Hub responses and 429s",
                left=[
                    app_metric(n)
                    for n in (
                        "HubResponses_2xx",
                        "HubResponses_4xx",
                        "HubResponses_5xx",
                        "Hub429",
                        "HubTransportErrors",
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="CDRs and authorizations",
                left=[
                    app_metric(n)
                    for n in (
                        "Cdr_stored",
                        "Cdr_duplicate",
                        "Cdr_conflict",
                        "CdrCostDiscrepancy",
                        "CdrStoreFailures",
                        "Authorize_ALLOWED",
                        "Authorize_NOT_ALLOWED",
                        "Authorize_BLOCKED",
                        "TokenPush_pushed",
                        "TokenPush_failed",
                    )
                ]
                + session_metrics,
                width=12,
            ),
        )
        # The calls that went wrong, with the fields Plugsurfing's support asks for (the access
        # and hub call lines: handlers/_runtime.py, api/http.py, hub/client.py).
        groups = [group.log_group_name for group in log_groups.values()]
        self.dashboard.add_widgets(
            cloudwatch.LogQueryWidget(
                title="Failed OCPI requests to us (latest 50)",
                log_group_names=groups,
                query_lines=[
                    "fields @timestamp, request_method, request_path, http_status, status_code, "
                    "status_message, x_request_id, session_id, cdr_id, token_uid",
                    'filter message = "ocpi request" and http_status >= 400',
                    "sort @timestamp desc",
                    "limit 50",
                ],
                width=12,
            ),
            cloudwatch.LogQueryWidget(
                title="Refused or failed calls to Plugsurfing (latest 50)",
                log_group_names=groups,
                query_lines=[
                    "fields @timestamp, method, url, http_status, status_code, status_message, "
                    "error, outbound_x_request_id",
                    "filter message like /^hub call/ and (http_status >= 400 or ispresent(error))",
                    "sort @timestamp desc",
                    "limit 50",
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.Metric,
        *,
        threshold: float,
        description: str,
        runbook: str | None = None,
    ) -> None:
        alarm = metric.create_alarm(
            self,
            name,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{description}. {runbook_link(runbook or name)}",
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
