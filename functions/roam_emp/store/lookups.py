"""The keys of tokens and cached locations, and the two reads real-time authorization makes, with
nothing but botocore: no pydantic, no OCPI models (issue 11; Plugsurfing waits 1-10 s for the
answer, FAQ "How does real-time authorization work?"). ``store.tokens`` and ``store.locations`` use
these keys too, so the authorize path reads exactly what they write."""

from __future__ import annotations

import json
from typing import Any

from ..ocpi.cistring import ci_key
from ..ocpi.jsondoc import escape_lone_surrogates
from . import aws

Item = dict[str, Any]

TOKEN_SK = "T"
LOCATION_SK = "L"


def token_key(token_type: str, uid: str) -> str:
    """``<type>#<uid>`` with the uid as a CiString key (the one form every by_token index uses)."""
    return f"{token_type}#{ci_key(uid)}"


def token_item_key(token_type: str, uid: str) -> Item:
    return {"pk": {"S": f"TOKEN#{token_key(token_type, uid)}"}, "sk": {"S": TOKEN_SK}}


def location_key(location_id: str) -> Item:
    # Any id can be looked up (authorize takes it from Plugsurfing's request): a lone surrogate
    # goes to DynamoDB as its JSON escape, which takes UTF-8 only (issue 13).
    return {"pk": {"S": escape_lone_surrogates(f"LOC#{ci_key(location_id)}")}, "sk": {"S": LOCATION_SK}}


def token_document(
    table: str, token_type: str, uid: str, *, consistent: bool = True
) -> dict[str, Any] | None:
    """The OCPI Token as we push it (``StoredToken.token``), or None when we hold no such token."""
    item = (
        aws.dynamodb()
        .get_item(TableName=table, Key=token_item_key(token_type, uid), ConsistentRead=consistent)
        .get("Item")
    )
    return json.loads(item["doc"]["S"]) if item else None


def location_country(table: str, location_id: str) -> str | None:
    """The location's country if it is in the cache (one small read, projection ``country``)."""
    item = (
        aws.dynamodb()
        .get_item(TableName=table, Key=location_key(location_id), ProjectionExpression="country")
        .get("Item")
    )
    return item["country"]["S"] if item else None
