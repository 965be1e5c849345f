"""The EventBridge bus for our domain events and the SQS queues (each with its dead-letter queue)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from roam_emp import topology


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
