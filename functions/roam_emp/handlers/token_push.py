"""SQS FIFO consumer: pushes queued token changes to Plugsurfing. Partial batch responses: a
message that may succeed later (429, 5xx) is retried, and the rest of its token's group in the
batch waits with it, so one token's changes never overtake each other.

The limiter never sleeps past the invocation's remaining time (issue 11): once the bulk share of
the minute is spent and the next minute starts after the deadline, the rest of the batch is handed
back as batch item failures, visible again when that minute starts, instead of the function timing
out and every message of the batch counting a failed delivery toward the dead-letter queue."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..config import per_settings
from ..domain.tokens import HandBack, TokenPusher
from ..store import aws
from ..topology import TOKEN_PUSH_QUEUE
from ._runtime import event_entry, logger, metrics

pusher = per_settings(lambda config: TokenPusher.from_settings(config, TOKEN_PUSH_QUEUE.max_receive_count))


def push_one(record: SQSRecord, consumer: TokenPusher | None = None) -> str:
    # Every line about this message names its token (FAQ support fields), then forgets it.
    with logger.append_context_keys(**_token_keys(record.body)):
        outcome = (consumer or pusher()).handle(
            record.body, int(record.attributes.approximate_receive_count or 1)
        )
    metrics.add_metric(name=f"TokenPush_{outcome}", unit="Count", value=1)
    return outcome


def _token_keys(body: str) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except ValueError:
        return {}  # the pusher refuses it, with its own line
    if not isinstance(message, dict):
        return {}
    keys = {
        "token_uid": message.get("uid"),
        "token_type": message.get("type"),
        "contract_id": message.get("contract_id"),
    }
    return {k: v for k, v in keys.items() if isinstance(v, str)}


@dataclass
class _Batch:
    """One invocation's batch: which records were handed back, and until when."""

    consumer: TokenPusher
    retry_at: float | None = None
    handed_back: dict[str, str] = field(default_factory=dict)  # message id -> receipt handle
    groups: set[str] = field(default_factory=set)  # message groups handed back

    def record(self, record: SQSRecord) -> str:
        if self.retry_at is None:
            try:
                return push_one(record, self.consumer)
            except HandBack as back:
                self.retry_at = back.retry_at
        # Budget spent until after the deadline: the rest is not even tried.
        self.handed_back[record.message_id] = record.receipt_handle
        self.groups.add(record.attributes.message_group_id or "")
        raise HandBack(self.retry_at)


def handle_batch(
    event: dict[str, Any], context: LambdaContext, consumer: TokenPusher, queue_url: str
) -> dict[str, Any]:
    batch = _Batch(consumer)
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    with consumer.within(context.get_remaining_time_in_millis()):
        response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
            event=event, record_handler=batch.record, processor=processor, context=context
        )
    if batch.retry_at is not None:
        # Records of a handed-back group that the processor skipped come back with it.
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for raw in event.get("Records", []):
            record = SQSRecord(raw)
            if record.message_id in failed and (record.attributes.message_group_id or "") in batch.groups:
                batch.handed_back.setdefault(record.message_id, record.receipt_handle)
        seconds = min(43_200, max(0, math.ceil(batch.retry_at - consumer.now())))
        _visible_again_in(queue_url, batch.handed_back, seconds)
    return response


def _visible_again_in(queue_url: str, handles: dict[str, str], seconds: int) -> None:
    """Handed-back messages come back when the next minute's budget opens, not after the queue's
    whole visibility timeout. Best effort: if this fails they come back after that timeout."""
    metrics.add_metric(name="TokenPush_handed_back", unit="Count", value=len(handles))
    logger.info(
        "token pushes handed back until the next minute", extra={"count": len(handles), "seconds": seconds}
    )
    entries = [
        {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
        for i, handle in enumerate(handles.values())
    ]
    sqs = aws.client("sqs")
    for start in range(0, len(entries), 10):
        try:
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries[start : start + 10])
        except Exception as error:  # the queue's own visibility timeout still applies
            logger.warning(
                "could not shorten the handed-back messages' visibility", extra={"error": str(error)}
            )


@event_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    consumer = pusher()
    return handle_batch(event, context, consumer, consumer.config.token_push_queue_url)
