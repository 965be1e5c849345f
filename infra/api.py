"""API Gateway (REST) built from topology routes.

OCPI routes carry no API Gateway authorizer: OCPI's own token auth runs inside each function
(transport_and_format.asciidoc; a Lambda authorizer would add a cold start to Plugsurfing's 1-10 s
authorize budget). Admin routes under /admin/ require IAM (SigV4).
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from roam_emp import topology


class Api(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, functions: dict[str, lambda_.Function]
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            description="roam-emp: OCPI 2.2.1 EMSP endpoints for Plugsurfing, and the admin API",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,
            deploy_options=apigateway.StageOptions(
                stage_name="prod",
                tracing_enabled=True,
                metrics_enabled=True,
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
                    reason="WAF is optional and priced per request; an EMP attaches its own web ACL "
                    "to the stage if it wants one (README, Security).",
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
