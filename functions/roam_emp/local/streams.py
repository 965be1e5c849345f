"""Lambda's DynamoDB Streams event source mapping, played locally against moto's server
(DescribeStream, GetShardIterator, GetRecords), with the same settings as in AWS
(topology.STREAM_CONSUMER): batches in stream order, partial batch responses (retry from the first
failed record), bounded retries, then the on-failure destination (an SQS queue) with the batch's
shard and sequence numbers, as Lambda sends them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from .. import topology
from ..ocpi.timestamps import format_timestamp, utcnow
from ..store import aws

logger = Logger(child=True)
IDLE_WAIT_S = 0.2


@dataclass
class StreamPoller:
    function: topology.Function
    table_name: str
    invoke: Callable[[topology.Function, dict[str, Any]], Any]
    failure_queue_url: str | None
    stop: threading.Event
    errors: list[str]
    settings: topology.StreamConsumer = topology.STREAM_CONSUMER

    def run(self) -> None:
        streams = aws.platform_client("dynamodbstreams")
        arn = aws.platform_client("dynamodb").describe_table(TableName=self.table_name)["Table"][
            "LatestStreamArn"
        ]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
        attempts, last_failed = 0, ""
        while not self.stop.is_set():
            try:
                answer = streams.get_records(ShardIterator=iterator, Limit=self.settings.batch_size)
            except Exception as error:
                if self.stop.is_set():
                    return
                logger.warning("local stream poll failed; retrying", extra={"error": type(error).__name__})
                self.stop.wait(1.0)
                continue
            records = answer.get("Records", [])
            if not records:
                iterator = answer["NextShardIterator"]
                self.stop.wait(IDLE_WAIT_S)
                continue
            failed = self._deliver(records, arn)
            if failed is None:
                iterator, attempts = answer["NextShardIterator"], 0
                continue
            # Retries count per record, as Lambda's do: progress past a record starts afresh.
            attempts = attempts + 1 if failed == last_failed else 1
            last_failed = failed
            if attempts > self.settings.max_retries:
                self._give_up(arn, shard, failed, records)
                iterator, attempts = self._iterator(streams, arn, shard, "AFTER_SEQUENCE_NUMBER", failed), 0
                continue
            self.stop.wait(min(1.0, 0.05 * attempts))
            iterator = self._iterator(streams, arn, shard, "AT_SEQUENCE_NUMBER", failed)

    def _deliver(self, records: list[dict[str, Any]], arn: str) -> str | None:
        """The first sequence number to retry from, or None when the whole batch went through."""
        event = {"Records": [{**r, "eventSourceARN": arn} for r in records]}
        try:
            answer = self.invoke(self.function, event) or {}
        except Exception as error:  # the whole batch failed: retry it all
            self.errors.append(f"{self.function.name}: {type(error).__name__}: {error}")
            return str(records[0]["dynamodb"]["SequenceNumber"])
        failures = [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
        return min(failures, key=int) if failures else None

    @staticmethod
    def _iterator(streams: Any, arn: str, shard: str, kind: str, sequence: str) -> str:
        return str(
            streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType=kind, SequenceNumber=sequence
            )["ShardIterator"]
        )

    def _give_up(self, arn: str, shard: str, failed: str, records: list[dict[str, Any]]) -> None:
        """What Lambda sends its on-failure destination: where the record is, not the record."""
        logger.error(
            "stream record skipped after every retry", extra={"table": self.table_name, "seq": failed}
        )
        if not self.failure_queue_url:
            return
        message = {
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.settings.max_retries + 1,
                "functionArn": f"local:{self.function.name}",
            },
            "timestamp": format_timestamp(utcnow()),
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": failed,
                "endSequenceNumber": failed,
                "batchSize": 1,
                "streamArn": arn,
                "approximateArrivalOfFirstRecord": str(
                    records[0]["dynamodb"].get("ApproximateCreationDateTime")
                ),
            },
        }
        aws.platform_client("sqs").send_message(
            QueueUrl=self.failure_queue_url, MessageBody=json.dumps(message, default=str)
        )
