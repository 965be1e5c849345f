"""SQS FIFO consumer: pushes queued token changes to Plugsurfing. Partial batch responses: a
message that may succeed later (429, 5xx) is retried, and the rest of its token's group in the
batch waits with it, so one token's changes never overtake each other."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..config import per_settings
from ..domain.tokens import TokenPusher
from ..topology import TOKEN_PUSH_QUEUE
from ._runtime import event_entry, logger, metrics

pusher = per_settings(lambda config: TokenPusher.from_settings(config, TOKEN_PUSH_QUEUE.max_receive_count))


def push_one(record: SQSRecord) -> str:
    # Every line about this message names its token (FAQ support fields), then forgets it.
    with logger.append_context_keys(**_token_keys(record.body)):
        outcome = pusher().handle(record.body, int(record.attributes.approximate_receive_count or 1))
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


@event_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    return process_partial_response(
        event=event, record_handler=push_one, processor=processor, context=context
    )  # type: ignore[return-value]
