"""API Gateway (REST) built from topology routes.

OCPI routes carry no API Gateway authorizer: OCPI's own token auth runs inside each function
(transport_and_format.asciidoc; a Lambda authorizer would add a cold start to Plugsurfing's 1-10 s
authorize budget). Admin routes under /admin/ require IAM (SigV4). Every OCPI route is throttled;
an optional WAF web ACL is attached to the stage; what API Gateway answers itself is an OCPI envelope.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from roam_emp import topology

from .config import StackConfig

# What API Gateway answers by itself, before any function runs: OCPI envelopes too (local mode's
# gateway does the same), as (response type, HTTP status or None to keep API Gateway's, OCPI
# status_code, status_message or None for API Gateway's own message).
_GATEWAY_RESPONSES: tuple[tuple[apigateway.ResponseType, str | None, int, str | None], ...] = (
    (apigateway.ResponseType.DEFAULT_4_XX, None, 2000, None),
    (apigateway.ResponseType.DEFAULT_5_XX, None, 3000, None),
    # A REST API answers an unknown path or method as a missing (IAM) authentication token.
    (apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, "404", 2000, "no such endpoint or method"),
    (apigateway.ResponseType.RESOURCE_NOT_FOUND, "404", 2000, "no such endpoint"),
    (apigateway.ResponseType.ACCESS_DENIED, "403", 2000, None),
    (apigateway.ResponseType.THROTTLED, "429", 2000, "too many requests: retry later"),
    (apigateway.ResponseType.QUOTA_EXCEEDED, "429", 2000, "too many requests: retry later"),
    (apigateway.ResponseType.BAD_REQUEST_BODY, "400", 2001, None),
    (apigateway.ResponseType.BAD_REQUEST_PARAMETERS, "400", 2001, None),
    (apigateway.ResponseType.REQUEST_TOO_LARGE, "413", 2000, "request too large"),
    (apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE, "415", 2000, None),
    (apigateway.ResponseType.WAF_FILTERED, "403", 2000, "refused by the web application firewall"),
    (apigateway.ResponseType.INTEGRATION_TIMEOUT, "504", 3000, "the function did not answer in time"),
)
# Echoed when the caller sent them (transport_and_format.asciidoc); API Gateway cannot make one up.
_ECHOED_HEADERS = {name: f"method.request.header.{name}" for name in ("X-Request-ID", "X-Correlation-ID")}
# Gateway response templates allow only plain variable substitution (no VTL, no clock formatting):
# the envelope's required timestamp is the epoch, as local mode's gateway sends it.
_EPOCH = "1970-01-01T00:00:00Z"


def _envelope_template(status_code: int, message: str | None) -> str:
    text = json.dumps(message) if message is not None else "$context.error.messageString"
    return f'{{"status_code":{status_code},"status_message":{text},"timestamp":"{_EPOCH}"}}'


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],  # a function or its alias (provisioned concurrency)
        config: StackConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        # Each OCPI route is throttled on its own (stage method settings); admin routes are IAM.
        throttled = {
            f"{route.path}/{route.method}": apigateway.MethodDeploymentOptions(
                throttling_rate_limit=config.ocpi_throttle_rate_per_second,
                throttling_burst_limit=config.ocpi_throttle_burst,
            )
            for spec in topology.FUNCTIONS
            for route in spec.routes
            if route.auth is topology.Auth.OCPI
        }
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=Stack.of(self).stack_name,  # stage-RoamEmp, prod-RoamEmp: one per environment
            description="roam-emp: OCPI 2.2.1 EMSP endpoints for Plugsurfing, and the admin API",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigateway.StageOptions(
                stage_name="prod",
                method_options=throttled,
                # Cost levers (cdk.json, docs/cost.md): per-method metrics are custom metrics.
                tracing_enabled=config.xray_tracing,
                metrics_enabled=config.api_detailed_metrics,
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # bodies carry tokens and personal data
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )
        # Basic validation at the edge (cdk-nag APIG2); OCPI bodies are validated field by
        # field in the functions, where a precise 2001 message can name the field.
        validator = self.rest_api.add_request_validator(
            "RequestValidation", validate_request_parameters=True, validate_request_body=True
        )
        integrations: dict[str, apigateway.LambdaIntegration] = {}
        for spec in topology.FUNCTIONS:
            for route in spec.routes:
                integration = integrations.setdefault(
                    spec.name, apigateway.LambdaIntegration(functions[spec.name])
                )
                resource = self._resource(route.path)
                resource.add_method(
                    route.method,
                    integration,
                    authorization_type=(
                        apigateway.AuthorizationType.IAM
                        if route.auth is topology.Auth.IAM
                        else apigateway.AuthorizationType.NONE
                    ),
                    request_validator=validator,
                )
        for response_type, http_status, status_code, message in _GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                f"Ocpi{response_type.response_type}",
                type=response_type,
                status_code=http_status,
                response_headers={**_ECHOED_HEADERS, "Content-Type": "'application/json'"},
                templates={"application/json": _envelope_template(status_code, message)},
            )
        if config.waf_web_acl_arn:
            wafv2.CfnWebACLAssociation(
                self,
                "WebAcl",
                resource_arn=self.rest_api.deployment_stage.stage_arn,
                web_acl_arn=config.waf_web_acl_arn,
            )
        self.admin_policy = iam.ManagedPolicy(
            self,
            "AdminAccess",
            description="Call the roam-emp admin API (roam-emp register/status/...)",
            statements=[
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    resources=[self.rest_api.arn_for_execute_api("*", "/admin/*", "prod")],
                )
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.rest_api,
            [
                NagPackSuppression(
                    id="AwsSolutions-APIG4",
                    reason="OCPI routes authenticate with the OCPI credentials token inside the "
                    "function (constant-time compare, Secrets Manager); admin routes use IAM.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-COG4",
                    reason="Plugsurfing authenticates with OCPI credentials tokens, not Cognito.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-APIG3",
                    reason="WAF is optional and priced per request: an EMP names its own web ACL in "
                    "cdk.json (waf_web_acl_arn) to attach it to the stage (docs/security.md).",
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="API Gateway's account-level CloudWatch role uses the AWS managed policy "
                    "AmazonAPIGatewayPushToCloudWatchLogs, the documented way to enable logs.",
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                ),
            ],
            apply_to_children=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.admin_policy,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Scoped to the admin/* paths of this API's prod stage, every method.",
                )
            ],
        )

    def _resource(self, path: str) -> apigateway.IResource:
        resource: apigateway.IResource = self.rest_api.root
        for part in (p for p in path.split("/") if p):
            resource = resource.get_resource(part) or resource.add_resource(part)
        return resource
