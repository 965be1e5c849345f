"""Local stand-ins for what invokes functions in AWS besides API Gateway:

- EventBridge schedules: a timer per topology Schedule (``rate(N minutes)`` from the setting; cron
  expressions run once a day locally), invoking the handler with the schedule's payload;
- rules on our bus: provisioned in moto as a rule whose target is an SQS queue (moto delivers
  matching events there), and a poller that hands each event to the function, as EventBridge would;
- SQS event sources (queue consumers) use the same poller with SQS batch events.
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

logger = Logger(child=True)


def trigger_queue_name(function: topology.Function) -> str:
    return f"roam-emp-local-events-{function.name}"


def provision_event_rules(bus_name: str) -> dict[str, str]:
    """For each function with ``on_events``: a moto rule on our bus targeting an SQS queue.
    Returns function name -> queue URL."""
    sqs = aws.client("sqs")
    urls: dict[str, str] = {}
    for function in topology.FUNCTIONS:
        if not function.on_events:
            continue
        url = sqs.create_queue(QueueName=trigger_queue_name(function))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = f"local-{function.name}"
        aws.events().put_rule(
            Name=rule,
            EventBusName=bus_name,
            EventPattern=json.dumps(
                {"source": [topology.EVENT_SOURCE], "detail-type": list(function.on_events)}
            ),
        )
        aws.events().put_targets(
            Rule=rule, EventBusName=bus_name, Targets=[{"Id": "local-poller", "Arn": arn}]
        )
        urls[function.name] = url
    return urls


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


@dataclass
class LocalTriggers:
    invoker: Invoker
    event_queues: dict[str, str]
    setting: Callable[[str], Any]
    run_schedules: bool = True
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def start(self) -> LocalTriggers:
        functions = {f.name: f for f in topology.FUNCTIONS}
        for name, url in self.event_queues.items():
            self._spawn(f"events-{name}", lambda f=functions[name], u=url: self._poll_events(f, u))
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
        sqs = aws.client("sqs")
        while not self._stop.is_set():
            try:
                answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
            except Exception:  # moto stopping underneath us at shutdown
                if self._stop.is_set():
                    return
                raise
            for message in answer.get("Messages", []):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                self._safe_invoke(function, json.loads(message["Body"]))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
