"""Every real-time authorization decision (token, location, result, reason, latency), kept a year
for support and analytics; queryable by token."""

from __future__ import annotations

import json
import time
from typing import Any

from . import aws

RETENTION_S = 400 * 86400


class AuthorizationStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def record(self, decision: dict[str, Any]) -> None:
        summary = json.dumps(decision, separators=(",", ":"), default=str)
        aws.dynamodb().put_item(
            TableName=self.table,
            Item={
                "pk": {"S": f"AUTH#{decision['authorization_reference']}"},
                "sk": {"S": "D"},
                "token_key": {"S": f"{decision['token_type']}#{decision['token_uid']}"},
                "decided_at": {"S": decision["decided_at"]},
                "summary": {"S": summary},
                "expires_at": {"N": str(int(time.time()) + RETENTION_S)},
            },
        )

    def for_token(self, token_type: str, uid: str, limit: int = 20) -> list[dict[str, Any]]:
        page = aws.dynamodb().query(
            TableName=self.table,
            IndexName="by_token",
            Limit=limit,
            ScanIndexForward=False,
            KeyConditionExpression="token_key = :k",
            ExpressionAttributeValues={":k": {"S": f"{token_type}#{uid}"}},
        )
        return [json.loads(i["summary"]["S"]) for i in page.get("Items", [])]
