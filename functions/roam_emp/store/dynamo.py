"""DynamoDB batch helpers: chunking to the API's limits and retrying unprocessed keys/items."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from . import aws

T = TypeVar("T")
Item = dict[str, Any]

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25


def item_bytes(item: Item) -> int:
    """An item's size as DynamoDB counts it for its 400 KB limit and bills a write (1 write unit
    per started KB): each attribute's name and value in UTF-8 (strings, binaries and numbers,
    a number by its digits: at most what DynamoDB counts; what our items hold)."""
    binary = 0
    texts = list(item)
    for value in item.values():
        if "B" in value:
            binary += len(value["B"])
        else:
            texts.append(value["S"] if "S" in value else value["N"])
    text = "".join(texts)
    # surrogatepass: a lone surrogate kept as received (ocpi/leniency.py) is sized, not refused
    return binary + (len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass")))


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def batch_get(
    table: str,
    keys: Sequence[Item],
    projection: str | None = None,
    names: dict[str, str] | None = None,
    *,
    consistent: bool = True,
) -> list[Item]:
    """The items found for ``keys``. ``consistent=False``: eventually consistent reads, half the
    read units; only for a caller that stays correct when a write of the last second is unseen."""
    found: list[Item] = []
    for chunk in chunks(keys, BATCH_GET_LIMIT):
        request: dict[str, Any] = {"Keys": list(chunk), "ConsistentRead": consistent}
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table: request}
        for attempt in range(8):
            answer = aws.dynamodb().batch_get_item(RequestItems=pending)
            found.extend(answer.get("Responses", {}).get(table, []))
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(f"DynamoDB left keys unprocessed in {table}")
    return found


def batch_write(table: str, puts: Iterable[Item] = (), deletes: Iterable[Item] = ()) -> int:
    """Write items and delete keys, 25 per call; returns the number of BatchWriteItem calls."""
    requests = [{"PutRequest": {"Item": item}} for item in puts]
    requests += [{"DeleteRequest": {"Key": key}} for key in deletes]
    calls = 0
    for chunk in chunks(requests, BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table: list(chunk)}
        for attempt in range(8):
            calls += 1
            answer = aws.dynamodb().batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(f"DynamoDB left writes unprocessed in {table}")
    return calls


def paginate(operation: str, **request: Any) -> Iterator[Item]:
    """Every item of a ``query`` or ``scan``, page after page."""
    while True:
        page = getattr(aws.dynamodb(), operation)(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_index(
    table: str, index: str, key: str, value: str, *, limit: int | None = None, newest_first: bool = False
) -> list[Item]:
    """One page of a global secondary index by its partition key (string), in sort key order."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": f"{key} = :value",
        "ExpressionAttributeValues": {":value": {"S": value}},
        "ScanIndexForward": not newest_first,
    }
    if limit:
        request["Limit"] = limit
    return list(aws.dynamodb().query(**request).get("Items", []))


def is_conditional_failure(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")
