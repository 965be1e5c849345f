"""Plugsurfing's request budget, shared by every Lambda, enforced *before* sending.

FAQ "Rate limiting / fair usage": at most 3,000 requests per clock minute (12:07:00-12:07:59) and
1,000,000 per calendar day (00:00-23:59 UTC). Each outbound request takes one unit from a
per-minute and a per-day counter in DynamoDB with an atomic conditional ``ADD`` (``n < limit``), so
a fleet of concurrent Lambdas can never send more than the budget and never trips a 429.

Two single-item conditional updates (not a transaction) per request: plain UpdateItem calls on one
hot item serialise inside DynamoDB, while transactions on it would fail with TransactionConflict
under load. When the day counter refuses after the minute counter accepted, the minute unit is
given back.

Two shares of one budget (issue 12 "Bulk initial load"): interactive calls (remote start/stop,
credentials) may take every unit of the minute; bulk work (token pushes) only while the minute's
counter is below ``per_minute - reserve``. The last ``reserve`` units of every minute are therefore
always there for a driver waiting at a charger, whatever a 50,000-token load is doing. It is the
same atomic condition on the same counter, so the reserve costs no extra call.

A caller with a deadline (a Lambda's remaining time) is never put to sleep past it: when the next
unit would only come in a minute that starts after the deadline, :class:`PermitAfterDeadline` says
when to come back instead (handlers/token_push.py hands the rest of its batch back to SQS).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ..store import aws
from ..store.dynamo import is_conditional_failure
from .errors import RateBudgetExhausted

_metrics = Metrics(namespace="RoamEmp")  # one metric set per process, flushed by the handler


class Share(StrEnum):
    """Whose units a caller takes: see the module docstring."""

    INTERACTIVE = "interactive"  # remote start/stop, credentials: the whole minute budget
    BULK = "bulk"  # token pushes: everything but the interactive reserve


class PermitAfterDeadline(RateBudgetExhausted):
    """The next unit comes only after the caller's deadline: come back at ``retry_at`` (epoch s,
    the start of the clock minute that has units again)."""

    def __init__(self, message: str, *, retry_at: float) -> None:
        super().__init__(message)
        self.retry_at = retry_at


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
        share: Share = Share.INTERACTIVE,
        reserve: int = 0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 <= reserve < per_minute:
            raise ValueError(f"the interactive reserve ({reserve}) must be 0..{per_minute - 1}")
        self.table_name = table_name
        self.per_minute = per_minute
        self.per_day = per_day
        self.max_wait_s = max_wait_s
        self.share = share
        self.reserve = reserve
        self.clock = clock
        self.sleep = sleep
        self.waited_s = 0.0  # time spent waiting for a new minute (reported as a metric)
        self.deadline: float | None = None  # epoch s; never sleep past it (see :meth:`until`)

    @property
    def ceiling(self) -> int:
        """Units of a minute this limiter may take: bulk work leaves the reserve untouched."""
        return self.per_minute - self.reserve if self.share is Share.BULK else self.per_minute

    @contextmanager
    def until(self, deadline: float | None) -> Iterator[None]:
        """Within the block, :meth:`acquire` raises :class:`PermitAfterDeadline` rather than
        sleeping into a minute that starts after ``deadline`` (epoch s on this limiter's clock)."""
        previous, self.deadline = self.deadline, deadline
        try:
            yield
        finally:
            self.deadline = previous

    def acquire(self) -> None:
        """Take one request unit, waiting for the next clock minute when this one is spent."""
        deadline = self.clock() + self.max_wait_s
        while True:
            now = self.clock()
            minute_start = int(now // 60 * 60)
            if self._take(f"MINUTE#{_minute(minute_start)}", self.ceiling, minute_start + 120):
                day = _day(now)
                if self._take(f"DAY#{day}", self.per_day, minute_start + 2 * 86400):
                    return
                self._give_back(f"MINUTE#{_minute(minute_start)}")
                raise RateBudgetExhausted(
                    f"daily budget of {self.per_day} requests to Plugsurfing is spent for {day} (UTC)"
                )
            next_minute = minute_start + 60
            if self.deadline is not None and next_minute > self.deadline:
                raise PermitAfterDeadline(
                    f"the {self.share} share of the per-minute budget to Plugsurfing is spent and the "
                    "next minute starts after this invocation's deadline",
                    retry_at=next_minute,
                )
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
