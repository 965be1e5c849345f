"""DynamoDB tables from topology.TABLES: on demand, encrypted, point-in-time recovery, TTL."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from roam_emp import topology

_S = dynamodb.AttributeType.STRING
_INCLUDE = dynamodb.ProjectionType.INCLUDE
_KEYS_ONLY = dynamodb.ProjectionType.KEYS_ONLY


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in topology.TABLES:
            table = dynamodb.Table(
                self,
                _logical(spec.key),
                partition_key=dynamodb.Attribute(name=spec.partition_key, type=_S),
                sort_key=dynamodb.Attribute(name=spec.sort_key, type=_S) if spec.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                # The transactional outbox reads committed changes from here (infra/delivery.py).
                stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if spec.stream else None,
                removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=dynamodb.Attribute(name=index.partition_key, type=_S),
                    sort_key=dynamodb.Attribute(name=index.sort_key, type=_S) if index.sort_key else None,
                    projection_type=(
                        dynamodb.ProjectionType.INCLUDE
                        if index.include
                        else dynamodb.ProjectionType.KEYS_ONLY
                    ),
                    non_key_attributes=list(index.include) or None,
                )
            self.tables[spec.key] = table


def _logical(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_")) + "Table"
