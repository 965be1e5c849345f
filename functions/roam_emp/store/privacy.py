"""The storage side of a GDPR erasure (domain/forget.py): find a driver's items and rewrite or
delete them, table by table.

Sessions, CDRs and commands hold a driver's identifiers inside their documents (``cdr_token``, a
START_SESSION's token), not in keys we can query for every item (a CDR has no token index, a
session without a token uid is not in ``by_token``): they are scanned. An erasure is rare and
scanning is complete; it reads the whole table once (on-demand capacity, no throttling of the
OCPI paths beyond shared table throughput).

Items rewritten by an erasure carry ``forget_id`` and ``forgotten_at``: the outbox relay
(domain/outbox.py) publishes no SessionUpdated for such a change, so the erasure never re-publishes
what it removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import aws
from .dynamo import Item, paginate

FORGET_ID = "forget_id"
FORGOTTEN_AT = "forgotten_at"


def scan(table: str) -> Iterator[Item]:
    """Every item: DynamoDB's ``contains`` filter is case-sensitive and cannot look into compressed
    CDRs, and a filter saves no read capacity anyway; callers match in code."""
    yield from paginate("scan", TableName=table)


def rewrite(
    table: str,
    key: dict[str, Any],
    values: dict[str, dict[str, Any]],
    *,
    forget_id: str,
    forgotten_at: str,
    remove: tuple[str, ...] = (),
) -> None:
    """Replace attributes of an existing item (never creates one) and mark the erasure."""
    names = {f"#a{i}": name for i, name in enumerate(values)}
    sets = [f"#a{i} = :a{i}" for i in range(len(values))]
    attribute_values = {f":a{i}": value for i, value in enumerate(values.values())}
    names |= {"#fid": FORGET_ID, "#fat": FORGOTTEN_AT}
    sets += ["#fid = :fid", "#fat = :fat"]
    attribute_values |= {":fid": {"S": forget_id}, ":fat": {"S": forgotten_at}}
    expression = "SET " + ", ".join(sets)
    if remove:
        names |= {f"#r{i}": name for i, name in enumerate(remove)}
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    aws.dynamodb().update_item(
        TableName=table,
        Key={"pk": key["pk"], "sk": key["sk"]},
        UpdateExpression=expression,
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=attribute_values,
    )


def query_keys(table: str, index: str, attribute: str, value: str) -> Iterator[Item]:
    """Every key of an index partition (all pages)."""
    yield from paginate(
        "query",
        TableName=table,
        IndexName=index,
        KeyConditionExpression="#k = :v",
        ExpressionAttributeNames={"#k": attribute},
        ExpressionAttributeValues={":v": {"S": value}},
    )


def delete(table: str, key: dict[str, Any]) -> None:
    aws.dynamodb().delete_item(TableName=table, Key={"pk": key["pk"], "sk": key["sk"]})


def get(table: str, key: dict[str, Any]) -> Item | None:
    answer = aws.dynamodb().get_item(TableName=table, Key=key, ConsistentRead=True)
    item: Item | None = answer.get("Item")
    return item
