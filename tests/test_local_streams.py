"""Local mode's stand-in for Lambda's DynamoDB Streams event source mapping (local/streams.py)."""

from __future__ import annotations

import json
import threading
from typing import Any

from roam_emp import topology
from roam_emp.local.streams import StreamPoller
from roam_emp.polling import wait_for
from roam_emp.store import aws


def test_the_local_stream_event_source_retries_then_hands_the_record_to_the_failure_queue(
    moto_server: dict[str, str],
) -> None:
    """Lambda's behaviour with partial batch responses: retry from the failed record, per record
    up to max_retries, then the batch info to the on-failure destination and on with the rest."""
    table = moto_server[topology.SESSIONS_TABLE.env_var]
    failures_url = moto_server[topology.OUTBOX_FAILURES_QUEUE.env_var]
    delivered: list[str] = []
    attempts: dict[str, int] = {}

    def invoke(_function: topology.Function, event: dict[str, Any]) -> dict[str, Any]:
        for record in event["Records"]:
            pk = record["dynamodb"]["Keys"]["pk"]["S"]
            sequence = record["dynamodb"]["SequenceNumber"]
            if pk.endswith("POISON"):
                attempts[pk] = attempts.get(pk, 0) + 1
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
            delivered.append(pk)
        return {"batchItemFailures": []}

    for name in ("POISON", "AFTER"):
        aws.platform_client("dynamodb").put_item(
            TableName=table, Item={"pk": {"S": f"SESSION#{name}"}, "sk": {"S": "S"}}
        )
    stop = threading.Event()
    relay = next(f for f in topology.FUNCTIONS if f.streams_consume)
    poller = StreamPoller(
        relay, table, invoke, failures_url, stop, [], topology.StreamConsumer(max_retries=2)
    )
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: "SESSION#AFTER" in delivered, 60)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert attempts["SESSION#POISON"] == 3  # the first delivery and two retries
    messages = aws.platform_client("sqs").receive_message(QueueUrl=failures_url).get("Messages", [])
    info = json.loads(messages[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["streamArn"].split(":table/")[1].startswith(table)
    assert delivered.count("SESSION#AFTER") == 1 and "SESSION#POISON" not in delivered
