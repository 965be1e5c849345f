"""Injected AWS failures (`roam-emp local --aws-faults RATE[:SEED]`, the fault-injection tests).

A seeded share of the functions' S3, DynamoDB, EventBridge and SQS calls fails, half of them
*before* the call reaches AWS (a connection error: nothing happened) and half *after* it took
effect (a read timeout: the write landed, the caller does not know). The second kind is what makes
delivery guarantees hard, and what the transactional outbox (DynamoDB Streams) is for.

Faults are botocore hooks on the clients of ``store.aws.client``; the local event source pollers and
test assertions use ``store.aws.platform_client`` and never see them, as AWS's own pollers would not.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from ..store import aws

FAULTY_SERVICES = ("s3", "dynamodb", "events", "sqs")
_AFTER = "roam_emp_fault_after"


def parse_faults(text: str) -> tuple[float, int]:
    """``RATE[:SEED]``, e.g. ``0.2`` or ``0.2:7``; RATE in [0, 1)."""
    rate_text, _, seed_text = text.partition(":")
    rate = float(rate_text)
    if not 0 <= rate < 1:
        raise ValueError(f"fault rate must be in [0, 1), got {rate}")
    return rate, int(seed_text) if seed_text else 1


@dataclass
class AwsFaults:
    rate: float
    seed: int = 1
    services: tuple[str, ...] = FAULTY_SERVICES
    injected: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def install(self) -> AwsFaults:
        aws.add_client_hook("faults", self._attach)
        return self

    def uninstall(self) -> None:
        aws.remove_client_hook("faults")

    def _attach(self, client: Any, service: str) -> None:
        if service not in self.services:
            return
        client.meta.events.register("before-call.*", self._before)
        client.meta.events.register("after-call.*", self._after)

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            roll = self._random.random()
            self.calls[model.name] += 1
        if roll < self.rate / 2:
            with self._lock:
                self.injected[f"before:{model.name}"] += 1
            raise EndpointConnectionError(endpoint_url=f"injected-fault/{model.name}")
        if roll < self.rate:
            context[_AFTER] = True

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if context.pop(_AFTER, False):
            with self._lock:
                self.injected[f"after:{model.name}"] += 1
            raise ReadTimeoutError(endpoint_url=f"injected-fault/{model.name}")
