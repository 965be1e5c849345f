"""Our copy of every token we push to Plugsurfing, with its push state.

Each change gets a new ``version`` (an atomic counter); the queued message carries it, so the
consumer only marks PUSHED/FAILED the version it actually pushed: a newer change queued meanwhile
keeps the token QUEUED until its own push. Lookups by contract_id go through
``ocpi.contract_id.contract_key`` (normalized and original forms alike).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from ..ocpi.contract_id import contract_key
from ..ocpi.timestamps import format_timestamp, utcnow
from . import aws
from .dynamo import batch_get, paginate

_SK = "T"
LIST_PK = "TOKENS"


class PushState(StrEnum):
    QUEUED = "QUEUED"
    PUSHED = "PUSHED"
    FAILED = "FAILED"


class VersionConflict(Exception):
    """The token changed between our read and our write."""


class StoredToken(BaseModel):
    token: dict[str, Any]  # the OCPI Token as we push it
    push_state: PushState
    version: int
    push_error: str | None = None
    pushed_at: str | None = None
    updated_at: str | None = None


def token_key(token_type: str, uid: str) -> str:
    return f"{token_type}#{uid}"


def _key(token_type: str, uid: str) -> dict[str, Any]:
    return {"pk": {"S": f"TOKEN#{token_key(token_type, uid)}"}, "sk": {"S": _SK}}


class TokenStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def get(self, token_type: str, uid: str, *, consistent: bool = True) -> StoredToken | None:
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=_key(token_type, uid), ConsistentRead=consistent)
            .get("Item")
        )
        if not item:
            return None
        return StoredToken(
            token=json.loads(item["doc"]["S"]),
            push_state=PushState(item["push_state"]["S"]),
            version=int(item["version"]["N"]),
            push_error=item.get("push_error", {}).get("S"),
            pushed_at=item.get("pushed_at", {}).get("S"),
            updated_at=item.get("updated_at", {}).get("S"),
        )

    def save_queued(self, token: dict[str, Any], expected_version: int | None = None) -> int:
        """Store a new or changed token as QUEUED; returns its new version. With
        ``expected_version``, only if nobody changed it since (else VersionConflict)."""
        condition = {"ConditionExpression": "version = :expected"} if expected_version else {}
        extra = {":expected": {"N": str(expected_version)}} if expected_version else {}
        try:
            answer = self._save(token, condition, extra)
        except aws.dynamodb().exceptions.ConditionalCheckFailedException as error:
            raise VersionConflict(f"{token['type']} {token['uid']} changed concurrently") from error
        return int(answer["Attributes"]["version"]["N"])

    def _save(self, token: dict[str, Any], condition: dict[str, str], extra: dict[str, Any]) -> Any:
        return aws.dynamodb().update_item(
            **condition,  # type: ignore[arg-type]
            TableName=self.table,
            Key=_key(token["type"], token["uid"]),
            UpdateExpression=(
                "SET doc = :doc, push_state = :queued, contract_key = :ck, token_key = :tk, "
                "list_pk = :list, updated_key = :uk, updated_at = :now REMOVE push_error "
                "ADD version :one"
            ),
            ExpressionAttributeValues={
                ":doc": {"S": json.dumps(token, separators=(",", ":"))},
                ":queued": {"S": PushState.QUEUED.value},
                ":ck": {"S": contract_key(token["contract_id"])},
                ":tk": {"S": token_key(token["type"], token["uid"])},
                ":list": {"S": LIST_PK},
                ":uk": {"S": f"{token['last_updated']}#{token_key(token['type'], token['uid'])}"},
                ":now": {"S": format_timestamp(utcnow())},
                ":one": {"N": "1"},
                **extra,
            },
            ReturnValues="UPDATED_NEW",
        )

    def mark(
        self, token_type: str, uid: str, version: int, state: PushState, error: str | None = None
    ) -> bool:
        """Record the outcome of pushing ``version``; False when a newer change superseded it."""
        names = {"#s": "push_state"}
        values: dict[str, Any] = {
            ":state": {"S": state.value},
            ":v": {"N": str(version)},
            ":now": {"S": format_timestamp(utcnow())},
        }
        update = "SET #s = :state, pushed_at = :now"
        if error:
            update += ", push_error = :err"
            values[":err"] = {"S": error[:1000]}
        else:
            update += " REMOVE push_error"
        try:
            aws.dynamodb().update_item(
                TableName=self.table,
                Key=_key(token_type, uid),
                UpdateExpression=update,
                ConditionExpression="version = :v",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except aws.dynamodb().exceptions.ConditionalCheckFailedException:
            return False
        return True

    def count_for_contract(self, contract_id: str) -> set[str]:
        """Token keys (type#uid) sharing this contract_id, in any of its forms."""
        items = paginate(
            "query",
            TableName=self.table,
            IndexName="by_contract",
            KeyConditionExpression="contract_key = :ck",
            ExpressionAttributeValues={":ck": {"S": contract_key(contract_id)}},
        )
        return {i["token_key"]["S"] for i in items}

    def first_for_contract(self, contract_id: str) -> StoredToken | None:
        """Plugsurfing's own fallback when only a contract_id is known: the first token with it
        (FAQ "What happens if multiple tokens share one contract_id")."""
        keys = sorted(self.count_for_contract(contract_id))
        if not keys:
            return None
        token_type, uid = keys[0].split("#", 1)
        return self.get(token_type, uid)

    def list_updated(
        self, date_from: str | None, date_to: str | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of tokens by last_updated (the Tokens sender interface), and the total."""
        condition = "list_pk = :list"
        values: dict[str, Any] = {":list": {"S": LIST_PK}}
        if date_from:
            condition += " AND updated_key >= :from"
            values[":from"] = {"S": date_from}
        items = paginate(
            "query",
            TableName=self.table,
            IndexName="by_updated",
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        keys = [
            {"pk": i["pk"], "sk": i["sk"]} for i in items if not date_to or i["updated_key"]["S"] < date_to
        ]
        chosen = keys[offset : offset + limit]
        docs = {i["pk"]["S"]: json.loads(i["doc"]["S"]) for i in batch_get(self.table, chosen)}
        return [docs[k["pk"]["S"]] for k in chosen if k["pk"]["S"] in docs], len(keys)
