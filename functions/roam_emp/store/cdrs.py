"""CDRs: the raw body archived in S3, the parsed CDR in DynamoDB, both before we acknowledge.

- The first body for a CDR id wins (conditional put). The same body again (a retry) is a
  duplicate: acknowledged, stored once. A *different* body for a known id is kept as a conflict
  item for review, never silently overwritten.
- CDR ids are unique across all CPOs behind Roam OCPI (FAQ "Are IDs unique"), so the id alone keys
  the item (GET /ocpi/2.2.1/cdrs/{cdr_id}).
"""

from __future__ import annotations

import json
import zlib
from enum import StrEnum
from typing import Any

from ..ocpi.timestamps import format_timestamp, utcnow
from . import aws
from .dynamo import query_index


class StoreOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


def _key(cdr_id: str, sk: str = "CDR") -> dict[str, Any]:
    return {"pk": {"S": f"CDR#{cdr_id}"}, "sk": {"S": sk}}


class CdrStore:
    def __init__(self, table_name: str, bucket: str) -> None:
        self.table = table_name
        self.bucket = bucket

    def archive(self, cdr: dict[str, Any], body: bytes, digest: str) -> str:
        """The body exactly as received; its key names the CPO, the id and the body's digest."""
        key = f"cdrs/{cdr.get('country_code')}/{cdr.get('party_id')}/{cdr['id']}/{digest}.json"
        aws.client("s3").put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
        return key

    def store(
        self, cdr: dict[str, Any], digest: str, archive_key: str, facts: dict[str, Any]
    ) -> StoreOutcome:
        item: dict[str, Any] = {
            "doc": {"B": zlib.compress(json.dumps(cdr, separators=(",", ":")).encode())},
            "digest": {"S": digest},
            "archive_key": {"S": archive_key},
            "received_at": {"S": format_timestamp(utcnow())},
            "facts": {"S": json.dumps(facts, separators=(",", ":"), default=str)},
        }
        if isinstance(cdr.get("session_id"), str) and cdr["session_id"]:
            item["session_id"] = {"S": cdr["session_id"]}  # index by_session_id (support, stage test)
        try:
            aws.dynamodb().put_item(
                TableName=self.table,
                Item={**_key(cdr["id"]), **item},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return StoreOutcome.STORED
        except aws.dynamodb().exceptions.ConditionalCheckFailedException:
            pass
        existing = aws.dynamodb().get_item(
            TableName=self.table, Key=_key(cdr["id"]), ProjectionExpression="digest", ConsistentRead=True
        )["Item"]
        if existing["digest"]["S"] == digest:
            return StoreOutcome.DUPLICATE
        aws.dynamodb().put_item(TableName=self.table, Item={**_key(cdr["id"], f"CONFLICT#{digest}"), **item})
        return StoreOutcome.CONFLICT

    def get(self, cdr_id: str) -> dict[str, Any] | None:
        item = (
            aws.dynamodb().get_item(TableName=self.table, Key=_key(cdr_id), ConsistentRead=True).get("Item")
        )
        if not item:
            return None
        return {
            "cdr": json.loads(zlib.decompress(item["doc"]["B"])),
            "facts": json.loads(item["facts"]["S"]),
            "archive_key": item["archive_key"]["S"],
            "received_at": item["received_at"]["S"],
        }

    def for_session(self, session_id: str) -> dict[str, Any] | None:
        """The CDR of a session (a CDR's id need not be its session's id)."""
        for key in query_index(self.table, "by_session_id", "session_id", session_id):
            if key["sk"]["S"] == "CDR":
                return self.get(key["pk"]["S"].removeprefix("CDR#"))
        return None

    def conflicts(self, cdr_id: str) -> list[str]:
        page = aws.dynamodb().query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
            ExpressionAttributeValues={":pk": {"S": f"CDR#{cdr_id}"}, ":c": {"S": "CONFLICT#"}},
            ProjectionExpression="digest",
        )
        return [i["digest"]["S"] for i in page.get("Items", [])]
