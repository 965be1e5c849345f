"""Plugsurfing's request budget, shared by every Lambda, enforced *before* sending.

FAQ "Rate limiting / fair usage": at most 3,000 requests per clock minute (12:07:00-12:07:59) and
1,000,000 per calendar day (00:00-23:59 UTC). Each outbound request takes one unit from a
per-minute and a per-day counter in DynamoDB with an atomic conditional ``ADD`` (``n < limit``), so
a fleet of concurrent Lambdas can never send more than the budget and never trips a 429.

Two single-item conditional updates (not a transaction) per request: plain UpdateItem calls on one
hot item serialise inside DynamoDB, while transactions on it would fail with TransactionConflict
under load. When the day counter refuses after the minute counter accepted, the minute unit is
given back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ..store import aws
from ..store.dynamo import is_conditional_failure
from .errors import RateBudgetExhausted

_metrics = Metrics(namespace="RoamEmp")  # one metric set per process, flushed by the handler


class Limiter(Protocol):
    def acquire(self) -> None: ...


class NoLimit:
    """For calls that are not made to Plugsurfing (e.g. a partner's versions URL in tests)."""

    def acquire(self) -> None:
        return None


class HubRateLimiter:
    def __init__(
        self,
        table_name: str,
        *,
        per_minute: int,
        per_day: int,
        max_wait_s: float = 65.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self.per_minute = per_minute
        self.per_day = per_day
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.sleep = sleep
        self.waited_s = 0.0  # time spent waiting for a new minute (reported as a metric)

    def acquire(self) -> None:
        """Take one request unit, waiting for the next clock minute when this one is spent."""
        deadline = self.clock() + self.max_wait_s
        while True:
            now = self.clock()
            minute_start = int(now // 60 * 60)
            if self._take(f"MINUTE#{_minute(minute_start)}", self.per_minute, minute_start + 120):
                day = _day(now)
                if self._take(f"DAY#{day}", self.per_day, minute_start + 2 * 86400):
                    return
                self._give_back(f"MINUTE#{_minute(minute_start)}")
                raise RateBudgetExhausted(
                    f"daily budget of {self.per_day} requests to Plugsurfing is spent for {day} (UTC)"
                )
            next_minute = minute_start + 60
            if next_minute > deadline:
                raise RateBudgetExhausted(
                    f"per-minute budget of {self.per_minute} requests to Plugsurfing is spent"
                )
            wait = max(0.0, next_minute - now) + 0.01
            self.waited_s += wait
            _metrics.add_metric(name="RateLimiterWaitSeconds", unit=MetricUnit.Seconds, value=wait)
            self.sleep(wait)

    def _take(self, sk: str, limit: int, expires_at: int) -> bool:
        try:
            aws.dynamodb().update_item(
                TableName=self.table_name,
                Key={"pk": {"S": "HUB_RATE"}, "sk": {"S": sk}},
                UpdateExpression="ADD n :one SET expires_at = if_not_exists(expires_at, :exp)",
                ConditionExpression="attribute_not_exists(n) OR n < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":exp": {"N": str(expires_at)},
                },
            )
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True

    def _give_back(self, sk: str) -> None:
        aws.dynamodb().update_item(
            TableName=self.table_name,
            Key={"pk": {"S": "HUB_RATE"}, "sk": {"S": sk}},
            UpdateExpression="ADD n :minus",
            ExpressionAttributeValues={":minus": {"N": "-1"}},
        )

    def used(self, now: float | None = None) -> tuple[int, int]:
        """(requests this minute, requests today): for status pages and tests."""
        at = self.clock() if now is None else now
        minute_start = int(at // 60 * 60)
        return (
            self._count(f"MINUTE#{_minute(minute_start)}"),
            self._count(f"DAY#{_day(at)}"),
        )

    def _count(self, sk: str) -> int:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=self.table_name,
                Key={"pk": {"S": "HUB_RATE"}, "sk": {"S": sk}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return int(item["n"]["N"]) if item and "n" in item else 0


def _minute(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M")


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")
