"""Remote commands we sent to Plugsurfing, with what came back (synchronously and later)."""

from __future__ import annotations

import json
import time
from typing import Any

from . import aws

RETENTION_S = 90 * 86400


def _key(command_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CMD#{command_id}"}, "sk": {"S": "C"}}


class CommandStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def put(self, record: dict[str, Any]) -> None:
        aws.dynamodb().put_item(
            TableName=self.table,
            Item={
                **_key(record["command_id"]),
                "doc": {"S": json.dumps(record, separators=(",", ":"))},
                "expires_at": {"N": str(int(time.time()) + RETENTION_S)},
            },
        )

    def get(self, command_id: str) -> dict[str, Any] | None:
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=_key(command_id), ConsistentRead=True)
            .get("Item")
        )
        return json.loads(item["doc"]["S"]) if item else None
