"""Local stand-ins for what invokes functions in AWS besides API Gateway:

- EventBridge schedules: a timer per topology Schedule (``rate(N minutes)`` from the setting; cron
  expressions run once a day locally), invoking the handler with the schedule's payload;
- rules on our bus: provisioned in moto as a rule whose target is an SQS queue (moto delivers
  matching events there), and a poller that hands each event to the function, as EventBridge would;
- SQS event sources (queue consumers) use the same poller with SQS batch events;
- DynamoDB Streams event sources: local/streams.py.

Pollers use ``aws.platform_client``: AWS's own pollers never see the faults injected into our
functions' calls (local/faults.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from .. import topology
from ..store import aws
from .invoker import Invoker
from .streams import StreamPoller

logger = Logger(child=True)
CONSUMER_POLLERS = 4


def trigger_queue_name(function: topology.Function) -> str:
    return f"roam-emp-local-events-{function.name}"


def provision_event_rules(bus_name: str) -> dict[str, str]:
    """For each function with ``on_events``: a moto rule on our bus targeting an SQS queue.
    Returns function name -> queue URL."""
    sqs = aws.platform_client("sqs")
    urls: dict[str, str] = {}
    for function in topology.FUNCTIONS:
        if not function.on_events:
            continue
        url = sqs.create_queue(QueueName=trigger_queue_name(function))["QueueUrl"]
        rule = f"local-{function.name}"
        pattern = {"source": [topology.EVENT_SOURCE], "detail-type": list(function.on_events)}
        urls[function.name] = _rule_to_queue(bus_name, rule, pattern, url)
    return urls


def _rule_to_queue(bus_name: str, rule: str, pattern: dict[str, Any], url: str) -> str:
    sqs, events = aws.platform_client("sqs"), aws.platform_client("events")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventBusName=bus_name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, EventBusName=bus_name, Targets=[{"Id": "local-poller", "Arn": arn}])
    return url


def schedule_interval_s(
    function: topology.Function, schedule: topology.Schedule, settings: Callable[[str], Any]
) -> float:
    value = settings(schedule.setting)
    if isinstance(value, (int, float)):
        return float(value) * 60
    text = str(value).strip()
    if text.startswith("rate("):
        amount, unit = text[5:-1].split()
        return (
            float(amount)
            * {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}[unit]
        )
    return 86400.0  # cron: once a day locally


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source hands a consumer."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "eu-central-1",
            }
            for m in messages
        ]
    }


@dataclass
class LocalTriggers:
    invoker: Invoker
    event_queues: dict[str, str]
    setting: Callable[[str], Any]
    run_schedules: bool = True
    consumer_queues: dict[str, str] = field(default_factory=dict)  # queue key -> URL
    stream_tables: dict[str, str] = field(default_factory=dict)  # table key -> table name
    failure_queue_url: str | None = None  # the stream consumer's on-failure destination
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def start(self) -> LocalTriggers:
        functions = {f.name: f for f in topology.FUNCTIONS}
        for name, url in self.event_queues.items():
            self._spawn(f"events-{name}", lambda f=functions[name], u=url: self._poll_events(f, u))
        for function in topology.FUNCTIONS:
            if function.queue_consume and function.queue_consume in self.consumer_queues:
                self._spawn(
                    f"consumer-{function.name}",
                    self._poll_queue,
                    function,
                    self.consumer_queues[function.queue_consume],
                )
        for function in topology.FUNCTIONS:
            for table in function.streams_consume:
                poller = StreamPoller(
                    function,
                    self.stream_tables[table],
                    self.invoker.invoke,
                    self.failure_queue_url,
                    self._stop,
                    self.errors,
                )
                self._spawn(f"stream-{table}", poller.run)
        if self.run_schedules:
            for function in topology.FUNCTIONS:
                for schedule in function.schedules:
                    interval = schedule_interval_s(function, schedule, self.setting)
                    self._spawn(
                        f"schedule-{schedule.name}",
                        lambda f=function, s=schedule, i=interval: self._tick(f, s, i),
                    )
        return self

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _safe_invoke(self, function: topology.Function, event: dict[str, Any]) -> None:
        try:
            self.invoker.invoke(function, event)
        except Exception as error:  # a failed invocation must not stop the trigger
            self.errors.append(f"{function.name}: {type(error).__name__}: {error}")
            logger.exception("local invocation failed", extra={"function": function.name})

    def _tick(self, function: topology.Function, schedule: topology.Schedule, interval: float) -> None:
        while not self._stop.wait(interval):
            self._safe_invoke(function, dict(schedule.payload))

    def _poll_events(self, function: topology.Function, url: str) -> None:
        sqs = aws.platform_client("sqs")
        while not self._stop.is_set():
            try:
                answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
            except Exception as error:
                if self._stop.is_set():  # moto stopping underneath us at shutdown
                    return
                self._transient(function, error)
                continue
            for message in answer.get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                self._safe_invoke(function, json.loads(message["Body"]))

    def _poll_queue(self, function: topology.Function, url: str) -> None:
        """Lambda's SQS event source: batches in, partial batch failures back, the rest deleted.
        Failed messages reappear after the queue's visibility timeout; moto applies the redrive
        policy (dead-letter queue after max receives)."""
        sqs = aws.platform_client("sqs")
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        while not self._stop.is_set():
            try:
                answer = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=function.queue_batch_size,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                )
            except Exception as error:
                if self._stop.is_set():
                    return
                self._transient(function, error)
                continue
            messages = answer.get("Messages", [])
            if not messages:
                continue
            try:
                result = self.invoker.invoke(function, sqs_event(messages, arn)) or {}
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except Exception as error:  # the whole batch failed: every message is retried
                self.errors.append(f"{function.name}: {type(error).__name__}: {error}")
                failed = {m["MessageId"] for m in messages}
            done = [m for m in messages if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done[start : start + 10])
                    ],
                )

    def _transient(self, function: topology.Function, error: Exception) -> None:
        """A poll failed (e.g. moto slow under load): note it, wait a little, poll again, as
        Lambda's pollers do; a poller thread must never die."""
        logger.warning(
            "local poll failed; retrying", extra={"function": function.name, "error": type(error).__name__}
        )
        self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
