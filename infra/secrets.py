"""Secrets Manager secrets from topology.SECRETS (the OCPI credentials tokens)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from roam_emp import topology


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        for spec in topology.SECRETS:
            secret = secretsmanager.Secret(
                self,
                "".join(p.capitalize() for p in spec.key.split("_")),
                description=spec.description,
                # An empty JSON object: the tokens are written by the credentials handshake.
                secret_string_value=SecretValue.unsafe_plain_text("{}"),
                removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            )
            NagSuppressions.add_resource_suppressions(
                secret,
                [
                    NagPackSuppression(
                        id="AwsSolutions-SMG4",
                        reason="OCPI credentials tokens are rotated through the OCPI credentials module "
                        "(PUT /credentials, `roam-emp rotate-credentials`), which must change both "
                        "parties at once; a Secrets Manager rotation Lambda cannot do that.",
                    )
                ],
            )
            self.secrets[spec.key] = secret
