"""Where a Location pull stands, in the state table: a lease (one pull at a time, FAQ: "Parallel
pulling of Locations is not supported"), the current run's checkpoint (the next-page URL as
Plugsurfing gave it, with the run's counters) and what the last completed pulls covered.

A full pull remembers the ids of each page in one item per page (not per location), so deletion
detection at the end needs no write per location.
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from ..ocpi.common import DateTime
from . import aws, retention
from .dynamo import is_conditional_failure, paginate

_LEASE = {"pk": {"S": "LEASE"}, "sk": {"S": "locations-pull"}}
_RUN = {"pk": {"S": "PULL"}, "sk": {"S": "CURRENT"}}
_SYNC = {"pk": {"S": "PULL"}, "sk": {"S": "SYNC"}}
# A full pull that was asked for but could not start yet (issue 10): its own item, written without
# the lease, so a request refused as busy never races the holder's read-modify-write of SYNC.
_FULL_PENDING = {"pk": {"S": "PULL"}, "sk": {"S": "FULL_PENDING"}}


class PullMode(StrEnum):
    FULL = "full"
    DELTA = "delta"


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # closed without completing (a cursor Plugsurfing stopped accepting, a reset)


class PullRun(BaseModel):
    run_id: str
    mode: PullMode
    status: RunStatus = RunStatus.RUNNING
    started_at: DateTime
    date_from: DateTime | None = None
    next_url: str | None = None  # Plugsurfing's Link URL, stored exactly as given (smart_paging)
    pages: int = 0
    locations: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    removed: int = 0
    new_tariffs: int = 0
    changed_tariffs: int = 0  # new versions under a known tariff id (FAQ: should not happen)
    interruptions: int = 0
    failed_resumptions: int = 0  # consecutive failed next-page requests since the last page stored
    invocations: int = 1
    finished_at: DateTime | None = None
    last_error: str | None = None


class SyncState(BaseModel):
    """What completed pulls covered: the base of the next delta, and the cache's age."""

    synced_since: DateTime | None = None  # start of the last completed pull of any mode
    last_full_started_at: DateTime | None = None
    last_full_completed_at: DateTime | None = None
    last_pull_started_epoch: float = 0.0  # soft limit: a new pull at most once a minute
    completed_runs: list[dict[str, object]] = Field(default_factory=list)


class PullStateStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    # Lease ---------------------------------------------------------------------------------

    def acquire(self, holder: str, ttl_s: float, now: float | None = None) -> bool:
        at = time.time() if now is None else now
        try:
            aws.dynamodb().put_item(
                TableName=self.table,
                Item={
                    **_LEASE,
                    "holder": {"S": holder},
                    "lease_until": {"N": f"{at + ttl_s:.3f}"},
                    "expires_at": {"N": str(int(at + ttl_s + 86400))},
                },
                ConditionExpression="attribute_not_exists(pk) OR lease_until < :now OR holder = :me",
                ExpressionAttributeValues={":now": {"N": f"{at:.3f}"}, ":me": {"S": holder}},
            )
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True

    def release(self, holder: str) -> None:
        try:
            aws.dynamodb().delete_item(
                TableName=self.table,
                Key=_LEASE,
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": holder}},
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise

    # Run checkpoint and sync state -------------------------------------------------------------

    def run(self) -> PullRun | None:
        item = aws.dynamodb().get_item(TableName=self.table, Key=_RUN, ConsistentRead=True).get("Item")
        return PullRun.model_validate_json(item["doc"]["S"]) if item else None

    def save_run(self, run: PullRun, holder: str, lease_ttl_s: float, seen: list[str] | None = None) -> None:
        """Checkpoint the run (and, for a full pull, the page's ids) and renew the lease in one
        transaction: a holder whose lease was taken over (it stalled) can no longer move the
        checkpoint, and a checkpoint never exists without its page's ids."""
        now = time.time()
        writes: list[Any] = []
        if seen is not None:
            writes.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": {"S": f"PULLRUN#{run.run_id}"},
                            "sk": {"S": f"PAGE#{run.pages:06d}"},
                            "ids": {"S": json.dumps(seen, separators=(",", ":"))},
                            retention.TTL_ATTRIBUTE: retention.PULL_RUNS.expires_at(now),
                        },
                    }
                }
            )
        aws.dynamodb().transact_write_items(
            TransactItems=[
                *writes,
                {"Put": {"TableName": self.table, "Item": {**_RUN, "doc": {"S": run.model_dump_json()}}}},
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _LEASE,
                        "UpdateExpression": "SET lease_until = :until",
                        "ConditionExpression": "holder = :me",
                        "ExpressionAttributeValues": {
                            ":until": {"N": f"{now + lease_ttl_s:.3f}"},
                            ":me": {"S": holder},
                        },
                    }
                },
            ]
        )

    def sync(self) -> SyncState:
        item = aws.dynamodb().get_item(TableName=self.table, Key=_SYNC, ConsistentRead=True).get("Item")
        return SyncState.model_validate_json(item["doc"]["S"]) if item else SyncState()

    def save_sync(self, sync: SyncState) -> None:
        aws.dynamodb().put_item(TableName=self.table, Item={**_SYNC, "doc": {"S": sync.model_dump_json()}})

    # A pending full pull -------------------------------------------------------------------------

    def request_full(self, reason: str) -> None:
        """Remember that a full pull is owed: the next pull that can start runs it."""
        aws.dynamodb().put_item(
            TableName=self.table,
            Item={**_FULL_PENDING, "reason": {"S": reason}, "requested_epoch": {"N": f"{time.time():.3f}"}},
        )

    def full_pending(self) -> bool:
        return "Item" in aws.dynamodb().get_item(TableName=self.table, Key=_FULL_PENDING, ConsistentRead=True)

    def clear_full_pending(self) -> None:
        aws.dynamodb().delete_item(TableName=self.table, Key=_FULL_PENDING)

    def close_run(self, run: PullRun) -> None:
        """Write the run's final checkpoint and drop the lease whoever holds it (an operator's
        reset): a holder still working can no longer checkpoint, its lease being gone."""
        aws.dynamodb().put_item(TableName=self.table, Item={**_RUN, "doc": {"S": run.model_dump_json()}})
        aws.dynamodb().delete_item(TableName=self.table, Key=_LEASE)

    # Seen ids of a full pull -------------------------------------------------------------------

    def seen(self, run_id: str) -> set[str]:
        ids: set[str] = set()
        for item in paginate(
            "query",
            TableName=self.table,
            ConsistentRead=True,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"PULLRUN#{run_id}"}},
        ):
            ids.update(json.loads(item["ids"]["S"]))
        return ids
