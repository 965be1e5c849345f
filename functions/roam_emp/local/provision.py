"""Create the AWS resources of topology.py inside moto's server (CDK creates them in AWS)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .. import topology
from ..store import aws


@dataclass(frozen=True)
class LocalNames:
    prefix: str = "roam-emp"

    def table(self, table: topology.Table) -> str:
        return f"{self.prefix}-{table.key.replace('_', '-')}"

    def secret(self, secret: topology.Secret) -> str:
        return f"{self.prefix}/{secret.key.replace('_', '-')}"

    def queue(self, queue: topology.Queue, *, dlq: bool = False) -> str:
        name = f"{self.prefix}-{queue.key.replace('_', '-')}" + ("-dlq" if dlq else "")
        return name + (".fifo" if queue.fifo else "")

    @property
    def bus(self) -> str:
        return self.prefix

    def log_group(self, function: topology.Function) -> str:
        return f"/aws/lambda/{self.prefix}-{function.name}"


def provision(names: LocalNames, queue_visibility_s: int | None = None) -> dict[str, str]:
    """Create every table, secret, queue and the bus; return the environment for the handlers.

    ``queue_visibility_s`` shortens the queues' visibility timeout locally, so a failed message is
    retried within seconds instead of minutes."""
    env: dict[str, str] = {}
    ddb = aws.dynamodb()
    for table in topology.TABLES:
        name = names.table(table)
        attributes = {table.partition_key}
        keys = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
        if table.sort_key:
            attributes.add(table.sort_key)
            keys.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
        indexes = []
        for index in table.indexes:
            index_keys = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
            attributes.add(index.partition_key)
            if index.sort_key:
                attributes.add(index.sort_key)
                index_keys.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
            projection: dict[str, Any] = (
                {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.include)}
                if index.include
                else {"ProjectionType": "KEYS_ONLY"}
            )
            indexes.append({"IndexName": index.name, "KeySchema": index_keys, "Projection": projection})
        kwargs: dict[str, Any] = {"GlobalSecondaryIndexes": indexes} if indexes else {}
        if table.stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=keys,  # type: ignore[arg-type]
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
            **kwargs,
        )
        if table.ttl_attribute:
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        env[table.env_var] = name
    for secret in topology.SECRETS:
        name = names.secret(secret)
        aws.secretsmanager().create_secret(Name=name, SecretString="{}", Description=secret.description)
        env[secret.env_var] = name
    sqs = aws.client("sqs")
    for queue in topology.QUEUES:
        fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if queue.fifo else {}
        if not queue.dead_letter:
            env[queue.env_var] = sqs.create_queue(QueueName=names.queue(queue), Attributes=fifo)["QueueUrl"]
            continue
        dlq_url = sqs.create_queue(QueueName=names.queue(queue, dlq=True), Attributes=fifo)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        env[queue.dead_letter_env_var] = dlq_url
        redrive = f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{queue.max_receive_count}"}}'
        url = sqs.create_queue(
            QueueName=names.queue(queue),
            Attributes={
                **fifo,
                "VisibilityTimeout": str(queue_visibility_s or queue.visibility_timeout_s),
                "RedrivePolicy": redrive,
            },
        )["QueueUrl"]
        env[queue.env_var] = url
    for bucket in topology.BUCKETS:
        name = f"{names.prefix}-{bucket.key.replace('_', '-')}"
        aws.client("s3").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        env[bucket.env_var] = name
    aws.events().create_event_bus(Name=names.bus)
    env[topology.EVENT_BUS_ENV] = names.bus
    logs = aws.client("logs")
    for function in topology.FUNCTIONS:
        logs.create_log_group(logGroupName=names.log_group(function))
    env[topology.SUPPORT_LOG_GROUPS_ENV] = ",".join(names.log_group(f) for f in topology.FUNCTIONS)
    env[topology.ALARM_NAME_PREFIX_ENV] = f"{names.prefix}-"
    return env


def apply(env: dict[str, str]) -> None:
    os.environ.update(env)
