"""Delivery guarantees: the transactional outbox. Each table that holds facts streams its committed
changes (NEW_AND_OLD_IMAGES, infra/storage.py) to the stream consumer (topology ``streams_consume``),
which puts domain events on the bus and enriches CDRs after acknowledgement.

Why a stream-triggered Lambda rather than EventBridge Pipes: turning an item change into a domain
event (which change is news, which event it is, its idempotency key) and the CDR enrichment need our
code anyway, and Pipes would call that code as an enrichment Lambda for every record plus a pipe to
pay for. The event source mapping gives what Pipes gives: ordered batches, partial batch responses,
bisect on error, bounded retries, an on-failure destination (alarmed), and the same code runs in
local mode against moto's streams (local/streams.py).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as lambda_events
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from roam_emp import topology


class Delivery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: dict[str, lambda_.Function],
        tables: dict[str, dynamodb.Table],
        failures: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = topology.STREAM_CONSUMER
        for spec in topology.FUNCTIONS:
            function = functions[spec.name]
            for key in spec.streams_consume:
                table = tables[key]
                # DynamoEventSource grants the stream reads (and sending to the destination).
                function.add_event_source(
                    lambda_events.DynamoEventSource(
                        table,
                        starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                        batch_size=settings.batch_size,
                        bisect_batch_on_error=settings.bisect_on_error,
                        retry_attempts=settings.max_retries,
                        max_record_age=Duration.seconds(settings.max_record_age_s),
                        report_batch_item_failures=True,
                        on_failure=lambda_events.SqsDlq(failures),
                    )
                )
