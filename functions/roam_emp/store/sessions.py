"""Sessions as Plugsurfing pushes them, with PATCHes applied. A write carries the session's
``last_updated`` and only lands when it is not older than what we hold, so out-of-order updates
can never roll a session back (conditional write, safe under concurrent Lambdas)."""

from __future__ import annotations

import json
from typing import Any

from . import aws

_SK = "S"


def _key(country_code: str, party_id: str, session_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"SESSION#{country_code}#{party_id}#{session_id}"}, "sk": {"S": _SK}}


class SessionStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def get(self, country_code: str, party_id: str, session_id: str) -> dict[str, Any] | None:
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=_key(country_code, party_id, session_id), ConsistentRead=True)
            .get("Item")
        )
        return json.loads(item["doc"]["S"]) if item else None

    def save(self, session: dict[str, Any], last_updated: str, original_protocol: str | None) -> bool:
        """Store unless what we hold is newer; False when the update was older (ignored)."""
        item: dict[str, Any] = {
            **_key(session["country_code"], session["party_id"], session["id"]),
            "doc": {"S": json.dumps(session, separators=(",", ":"))},
            "last_updated": {"S": last_updated},
            "status": {"S": str(session.get("status", ""))},
        }
        if original_protocol:
            item["x_original_protocol"] = {"S": original_protocol}
        try:
            aws.dynamodb().put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR last_updated <= :new",
                ExpressionAttributeValues={":new": {"S": last_updated}},
            )
        except aws.dynamodb().exceptions.ConditionalCheckFailedException:
            return False
        return True

    def exists(self, country_code: str, party_id: str, session_id: str) -> bool:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=self.table, Key=_key(country_code, party_id, session_id), ProjectionExpression="pk"
            )
            .get("Item")
        )
        return item is not None
