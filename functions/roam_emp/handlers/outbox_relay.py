"""DynamoDB Streams consumer (the transactional outbox): committed changes of the fact tables
become domain events on the bus, and CDRs get their facts after acknowledgement. Lambda's event
source mapping: ordered per shard, partial batch responses (the first failed record), bisect on
error, bounded retries, then the on-failure destination (topology.STREAM_CONSUMER)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..config import per_settings
from ..domain.outbox import OutboxRelay
from ._runtime import event_entry, metrics


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


relay = per_settings(lambda config: OutboxRelay.from_settings(config).counting(_count))


@event_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = relay().process(event.get("Records", []))
    if answer["batchItemFailures"]:
        _count("OutboxRecordRetried")
    return answer
