"""Our copy of every token we push to Plugsurfing, with its push state.

Each change gets a new ``version`` (an atomic counter); the queued message carries it, so the
consumer only marks PUSHED/FAILED the version it actually pushed: a newer change queued meanwhile
keeps the token QUEUED until its own push. Lookups by contract_id go through
``ocpi.contract_id.contract_key`` (normalized and original forms alike).

``accepted`` is the token as Plugsurfing last accepted it. When Plugsurfing refuses a change, the
stored token goes back to that version (the refused one is kept as ``refused`` for the operator):
later changes build on what Plugsurfing holds, so one refused value cannot get every later push
(e.g. ``valid: false`` for a lost card) refused too. ``created_us``/``first_pushed_us`` (numbers,
store/stamps.py) order the tokens sharing a contract_id the way Plugsurfing does: by creation.

Token uids are CiString (mod_tokens.asciidoc, Token.uid; types.asciidoc): the item is keyed by
``ocpi.common.ci_key`` of the uid, so ``abc123`` and ``ABC123`` are one token (authorize, push,
sessions' and authorizations' by_token indexes alike); the document keeps the uid as it was written.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from ..ocpi.contract_id import contract_key
from ..ocpi.timestamps import format_timestamp, utcnow
from . import aws
from .dynamo import batch_get, paginate
from .lookups import TOKEN_SK, token_item_key
from .lookups import token_key as token_key
from .stamps import epoch_us, sortable

_SK = TOKEN_SK
LIST_PK = "TOKENS"


class PushState(StrEnum):
    QUEUED = "QUEUED"
    PUSHED = "PUSHED"
    FAILED = "FAILED"


class Selection(StrEnum):
    """What an operator's scan looks for (TokenStore.scan_page)."""

    FAILED = "FAILED"
    OUT_OF_SYNC = "OUT_OF_SYNC"


class VersionConflict(Exception):
    """The token changed between our read and our write."""


class StoredToken(BaseModel):
    token: dict[str, Any]  # the OCPI Token as we push it
    push_state: PushState
    version: int
    push_error: str | None = None
    pushed_at: str | None = None
    updated_at: str | None = None
    accepted: dict[str, Any] | None = None  # the token as Plugsurfing last accepted it
    refused: dict[str, Any] | None = None  # the last version Plugsurfing refused (push_error says why)


def _stored(item: dict[str, Any]) -> StoredToken:
    token = json.loads(item["doc"]["S"])
    state = PushState(item["push_state"]["S"])
    accepted = json.loads(item["accepted"]["S"]) if "accepted" in item else None
    if accepted is None and state is PushState.PUSHED:
        accepted = token  # stored before ``accepted`` was recorded: what we pushed is what it holds
    return StoredToken(
        token=token,
        push_state=state,
        version=int(item["version"]["N"]),
        push_error=item.get("push_error", {}).get("S"),
        pushed_at=item.get("pushed_at", {}).get("S"),
        updated_at=item.get("updated_at", {}).get("S"),
        accepted=accepted,
        refused=json.loads(item["refused"]["S"]) if "refused" in item else None,
    )


def _creation_order(item: dict[str, Any]) -> tuple[int, int, str]:
    """Plugsurfing's creation order: tokens it accepted, by first acceptance; then the ones it
    never accepted (it does not hold them), by our creation. Items stored before these stamps
    existed are the oldest (0)."""
    if "first_pushed_us" in item:
        return (0, int(item["first_pushed_us"]["N"]), item["token_key"]["S"])
    if item.get("push_state", {}).get("S") == PushState.PUSHED.value:
        return (0, 0, item["token_key"]["S"])
    return (1, int(item.get("created_us", {}).get("N", "0")), item["token_key"]["S"])


_key = token_item_key


def _updated_key(token: dict[str, Any]) -> str:
    """The by_updated sort key: the fixed-width stamp first, so string order is time order."""
    return f"{sortable(token['last_updated'])}#{token_key(token['type'], token['uid'])}"


class TokenStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    def get(self, token_type: str, uid: str, *, consistent: bool = True) -> StoredToken | None:
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=_key(token_type, uid), ConsistentRead=consistent)
            .get("Item")
        )
        return _stored(item) if item else None

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
        now = utcnow()
        return aws.dynamodb().update_item(
            **condition,  # type: ignore[arg-type]
            TableName=self.table,
            Key=_key(token["type"], token["uid"]),
            UpdateExpression=(
                "SET doc = :doc, push_state = :queued, contract_key = :ck, token_key = :tk, "
                "list_pk = :list, updated_key = :uk, updated_at = :now, "
                "created_us = if_not_exists(created_us, :now_us) REMOVE push_error "
                "ADD version :one"
            ),
            ExpressionAttributeValues={
                ":doc": {"S": json.dumps(token, separators=(",", ":"))},
                ":queued": {"S": PushState.QUEUED.value},
                ":ck": {"S": contract_key(token["contract_id"])},
                ":tk": {"S": token_key(token["type"], token["uid"])},
                ":list": {"S": LIST_PK},
                ":uk": {"S": _updated_key(token)},
                ":now": {"S": format_timestamp(now)},
                ":now_us": {"N": str(epoch_us(now))},
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
        now = utcnow()
        values: dict[str, Any] = {
            ":state": {"S": state.value},
            ":v": {"N": str(version)},
            ":now": {"S": format_timestamp(now)},
        }
        update = "SET #s = :state, pushed_at = :now"
        if state is PushState.PUSHED:
            # what Plugsurfing now holds; the first acceptance orders tokens sharing a contract_id
            update += ", accepted = doc, first_pushed_us = if_not_exists(first_pushed_us, :now_us)"
            values[":now_us"] = {"N": str(epoch_us(now))}
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

    def refused(self, token_type: str, uid: str, version: int, error: str) -> bool:
        """Plugsurfing refused ``version``: FAILED, and the token goes back to the version
        Plugsurfing accepted last (if any), keeping the refused one aside. False when a newer
        change superseded it (that change is pushed on its own)."""
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=_key(token_type, uid), ConsistentRead=True)
            .get("Item")
        )
        if not item or int(item["version"]["N"]) != version:
            return False
        if "accepted" not in item:  # Plugsurfing holds no version of it: nothing to go back to
            return self.mark(token_type, uid, version, PushState.FAILED, error)
        accepted = json.loads(item["accepted"]["S"])
        try:
            aws.dynamodb().update_item(
                TableName=self.table,
                Key=_key(token_type, uid),
                UpdateExpression=(
                    "SET refused = doc, doc = accepted, push_state = :failed, push_error = :err, "
                    "pushed_at = :now, contract_key = :ck, updated_key = :uk"
                ),
                ConditionExpression="version = :v",
                ExpressionAttributeValues={
                    ":failed": {"S": PushState.FAILED.value},
                    ":err": {"S": error[:1000]},
                    ":now": {"S": format_timestamp(utcnow())},
                    ":ck": {"S": contract_key(accepted["contract_id"])},
                    ":uk": {"S": _updated_key(accepted)},
                    ":v": {"N": str(version)},
                },
            )
        except aws.dynamodb().exceptions.ConditionalCheckFailedException:
            return False
        return True

    def scan_page(
        self,
        which: Selection,
        cursor: str | None = None,
        min_items: int = 100,
        page_size: int | None = None,
    ) -> tuple[list[StoredToken], str | None]:
        """Tokens matching ``which``, whole scan pages until at least ``min_items`` (or the end),
        and the cursor to continue from (None at the end). An operator's scan (redrive, re-sync):
        no index holds push states, and a filtered Scan of the table costs what one pass reads.
        ``page_size``: items read per Scan call (default: DynamoDB's 1 MB)."""
        filters = {
            Selection.FAILED: ("push_state = :failed", {":failed": {"S": PushState.FAILED.value}}),
            # Plugsurfing never accepted it, or holds another version than ours (a byte copy of
            # ``doc`` is taken as ``accepted`` on every accepted push, so equal means in sync).
            Selection.OUT_OF_SYNC: ("attribute_not_exists(accepted) OR accepted <> doc", {}),
        }
        expression, values = filters[which]
        request: dict[str, Any] = {"TableName": self.table, "FilterExpression": expression}
        if values:
            request["ExpressionAttributeValues"] = values
        if page_size:
            request["Limit"] = page_size
        if cursor:
            request["ExclusiveStartKey"] = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        found: list[StoredToken] = []
        while True:
            page = aws.dynamodb().scan(**request)
            found.extend(
                _stored(item) for item in page.get("Items", []) if item.get("sk", {}).get("S") == _SK
            )
            last = page.get("LastEvaluatedKey")
            if last is None:
                return found, None
            request["ExclusiveStartKey"] = last
            if len(found) >= min_items:
                return found, base64.urlsafe_b64encode(json.dumps(last).encode()).decode()

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
        """Plugsurfing's own fallback when only a contract_id is known: "the first key matching
        that contract_id" (FAQ "Can multiple tokens share one contract_id?"). First is creation
        order at Plugsurfing (see :func:`_creation_order`), not the order of uids."""
        keys = [_key(*k.split("#", 1)) for k in self.count_for_contract(contract_id)]
        items = batch_get(self.table, keys)
        return _stored(min(items, key=_creation_order)) if items else None

    def list_updated(
        self, date_from: datetime | None, date_to: datetime | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of tokens by last_updated (the Tokens sender interface), and the total.
        mod_tokens.asciidoc (GET list): ``date_from`` inclusive, ``date_to`` exclusive. Keys are
        ``<sortable stamp>#<type>#<uid>``: a key stamped exactly ``date_to`` sorts after the bare
        stamp, so ``BETWEEN :from AND :to`` (or ``< :to``) leaves it out."""
        condition = "list_pk = :list"
        values: dict[str, Any] = {":list": {"S": LIST_PK}}
        if date_from and date_to:
            condition += " AND updated_key BETWEEN :from AND :to"
        elif date_from:
            condition += " AND updated_key >= :from"
        elif date_to:
            condition += " AND updated_key < :to"
        if date_from:
            values[":from"] = {"S": sortable(date_from)}
        if date_to:
            values[":to"] = {"S": sortable(date_to)}
        if date_from and date_to and date_from >= date_to:
            return [], 0  # an empty range (BETWEEN would refuse it)
        items = paginate(
            "query",
            TableName=self.table,
            IndexName="by_updated",
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in items]
        chosen = keys[offset : offset + limit]
        docs = {i["pk"]["S"]: json.loads(i["doc"]["S"]) for i in batch_get(self.table, chosen)}
        return [docs[k["pk"]["S"]] for k in chosen if k["pk"]["S"] in docs], len(keys)
