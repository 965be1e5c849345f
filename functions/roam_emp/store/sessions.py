"""Sessions as Plugsurfing pushes them, with PATCHes applied. A write carries the session's
``last_updated`` and only lands when it is not older than what we hold, so out-of-order updates
can never roll a session back (conditional write, safe under concurrent Lambdas).

The condition compares ``updated_us``, microseconds since the epoch as a number, never the OCPI
string: ``…:00Z`` and ``…:00.500Z`` are one second apart by string order the wrong way round.
``last_updated`` (the by_token index's sort key, a string) is kept in the fixed-width form.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..ocpi.timestamps import format_timestamp, parse_timestamp
from . import aws
from .dynamo import query_index
from .stamps import epoch_us, sortable

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

    def save(self, session: dict[str, Any], last_updated: datetime, original_protocol: str | None) -> bool:
        """Store unless what we hold is newer; False when the update was older (ignored). An
        update stamped exactly as the stored one lands (a resent PUT/PATCH is idempotent)."""
        item: dict[str, Any] = {
            **_key(session["country_code"], session["party_id"], session["id"]),
            "doc": {"S": json.dumps(session, separators=(",", ":"))},
            "last_updated": {"S": sortable(last_updated)},
            "updated_us": {"N": str(epoch_us(last_updated))},
            "status": {"S": str(session.get("status", ""))},
            "session_id": {"S": session["id"]},
        }
        token = session.get("cdr_token")
        if isinstance(token, dict) and token.get("uid"):
            # index by_token: a token's recent sessions (support bundle, stage test evidence)
            item["token_key"] = {"S": f"{token.get('type', 'RFID')}#{token['uid']}"}
        if original_protocol:
            item["x_original_protocol"] = {"S": original_protocol}
        try:
            aws.dynamodb().put_item(
                TableName=self.table,
                Item=item,
                # Items stored before updated_us existed carry no comparable stamp: the next
                # update lands and stamps them.
                ConditionExpression=(
                    "attribute_not_exists(pk) OR attribute_not_exists(updated_us) OR updated_us <= :new"
                ),
                ExpressionAttributeValues={":new": {"N": str(epoch_us(last_updated))}},
            )
        except aws.dynamodb().exceptions.ConditionalCheckFailedException:
            return False
        return True

    def find(self, session_id: str) -> dict[str, Any] | None:
        """By id alone (unique across CPOs, FAQ), with the X-Original-Protocol we recorded."""
        for key in query_index(self.table, "by_session_id", "session_id", session_id):
            item = (
                aws.dynamodb()
                .get_item(TableName=self.table, Key={"pk": key["pk"], "sk": key["sk"]})
                .get("Item")
            )
            if item:
                return {
                    "session": json.loads(item["doc"]["S"]),
                    "x_original_protocol": item.get("x_original_protocol", {}).get("S"),
                }
        return None

    def for_token(self, token_type: str, uid: str, limit: int = 10) -> list[dict[str, Any]]:
        """A token's sessions, most recently updated first."""
        items = query_index(
            self.table, "by_token", "token_key", f"{token_type}#{uid}", limit=limit, newest_first=True
        )
        return [
            {
                "session_id": i["session_id"]["S"],
                "status": i.get("status", {}).get("S"),
                "last_updated": format_timestamp(parse_timestamp(i["last_updated"]["S"])),
            }
            for i in items
        ]

    def exists(self, country_code: str, party_id: str, session_id: str) -> bool:
        item = (
            aws.dynamodb()
            .get_item(
                TableName=self.table, Key=_key(country_code, party_id, session_id), ProjectionExpression="pk"
            )
            .get("Item")
        )
        return item is not None
