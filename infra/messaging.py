"""The EventBridge bus for our domain events and the SQS queues (each with its dead-letter queue)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as lambda_events
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from roam_emp import topology

from .config import StackConfig

# Queues whose consumers may run only so many at once (StackConfig field per queue key): the token
# pushes share Plugsurfing's budget, so more instances than fill its bulk share only wait on it.
_MAX_CONCURRENCY = {topology.TOKEN_PUSH_QUEUE.key: "token_push_max_concurrency"}


class Messaging(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "DomainEvents", description="roam-emp domain events")
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for spec in topology.QUEUES:
            name = "".join(p.capitalize() for p in spec.key.split("_"))
            if not spec.dead_letter:
                # Itself where failures land (an on-failure destination): alarmed on its depth.
                failures = self._dead_letters(name, fifo=spec.fifo)
                self.queues[spec.key] = failures
                self.dead_letter_queues[spec.key] = failures
                continue
            dlq = self._dead_letters(f"{name}DeadLetters", fifo=spec.fifo)
            queue = sqs.Queue(
                self,
                name,
                fifo=spec.fifo or None,
                content_based_deduplication=True if spec.fifo else None,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
            )
            self.queues[spec.key] = queue
            self.dead_letter_queues[spec.key] = dlq

    def event_source(
        self, key: str, consumer: topology.Function, config: StackConfig
    ) -> lambda_events.SqsEventSource:
        """The consumer's SQS event source: partial batch responses, and a maximum concurrency
        where the queue has one (docs/tokens.md)."""
        setting = _MAX_CONCURRENCY.get(key)
        return lambda_events.SqsEventSource(
            self.queues[key],
            batch_size=consumer.queue_batch_size,
            report_batch_item_failures=True,
            max_concurrency=getattr(config, setting) if setting else None,
        )

    def grant_redrive(self, key: str, grantee: iam.IGrantable) -> None:
        """Move the dead-letter queue's messages back: read the queue's redrive policy (to find
        its dead-letter queue), take messages off the dead-letter queue, send them to the queue."""
        self.queues[key].grant(grantee, "sqs:GetQueueAttributes")
        self.queues[key].grant_send_messages(grantee)
        self.dead_letter_queues[key].grant_consume_messages(grantee)

    def _dead_letters(self, construct_id: str, *, fifo: bool) -> sqs.Queue:
        """A queue where what failed every retry waits for an operator (14 days, alarmed)."""
        queue = sqs.Queue(
            self,
            construct_id,
            fifo=fifo or None,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        NagSuppressions.add_resource_suppressions(
            queue,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3", reason="This queue is itself the dead-letter queue."
                )
            ],
        )
        return queue
