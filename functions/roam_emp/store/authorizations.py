"""Every real-time authorization decision (token, location, result, reason, latency), kept for
``retention.AUTHORIZATIONS`` (cdk.json ``retention.authorizations_days``) for support and analytics;
queryable by token."""

from __future__ import annotations

import json
from typing import Any

from . import aws, retention
from .dynamo import query_index
from .lookups import token_key
from .stamps import sortable


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
                "token_key": {"S": token_key(decision["token_type"], decision["token_uid"])},
                # the by_token index's sort key: fixed width, so newest first is by time even
                # within one second (``…:00Z`` vs ``…:00.500Z``; store/stamps.py)
                "decided_at": {"S": sortable(decision["decided_at"])},
                "summary": {"S": summary},
                retention.TTL_ATTRIBUTE: retention.AUTHORIZATIONS.expires_at(),
            },
        )

    def for_token(self, token_type: str, uid: str, limit: int = 20) -> list[dict[str, Any]]:
        items = query_index(
            self.table, "by_token", "token_key", token_key(token_type, uid), limit=limit, newest_first=True
        )
        return [json.loads(i["summary"]["S"]) for i in items]
