"""DynamoDB's own limits and validation as the store relies on them (issue 13), on moto and on
DynamoDB Local: item size, key lengths, empty strings, what AWS refuses that moto lets pass. Each
difference asserts both sides, so an upgrade that changes one is noticed (docs/dynamodb-local.md)."""

from __future__ import annotations

from typing import Any

import pytest

from roam_emp import topology
from roam_emp.store import aws

from .store_backends import ITEM_LIMIT, MOTO_ITEM_LIMIT, Backend, backend, code, error_of, put, unique

__all__ = ["backend"]  # the fixture, imported for this module's tests


# --- DynamoDB's own limits, as the store relies on them ---------------------------------------


def _sized_item(pk: str, total: int, kind: str = "S") -> dict[str, Any]:
    """An item of exactly ``total`` bytes by DynamoDB's accounting: attribute names plus values
    (UTF-8 strings, raw bytes of a binary)."""
    fixed = len("pk") + len(pk.encode()) + len("sk") + len("S") + len("d")
    filler = "x" * (total - fixed)
    return {"pk": {"S": pk}, "sk": {"S": "S"}, "d": {kind: filler.encode() if kind == "B" else filler}}


@pytest.mark.parametrize("kind", ["S", "B"])  # a string's UTF-8 bytes, a binary's raw bytes
def test_an_item_of_exactly_400_kb_is_stored_one_byte_more_is_refused(backend: Backend, kind: str) -> None:
    """AWS (and DynamoDB Local): 400 KB = 409,600 bytes. moto refuses above 405,000: an item of
    405,001 to 409,600 bytes fails in tests and local mode but is stored in AWS."""
    table = backend.table(topology.STATE_TABLE)
    pk = unique("SIZE#")
    put(backend, _sized_item(pk, MOTO_ITEM_LIMIT, kind))
    at_limit = _sized_item(unique("SIZE#"), ITEM_LIMIT, kind)
    if backend.local:
        put(backend, at_limit)
        stored = aws.dynamodb().get_item(TableName=table, Key={k: at_limit[k] for k in ("pk", "sk")})["Item"]
        assert stored == at_limit
    else:
        assert "Item size has exceeded" in str(error_of(lambda: put(backend, at_limit)))
    over = error_of(lambda: put(backend, _sized_item(unique("SIZE#"), ITEM_LIMIT + 1, kind)))
    assert code(over) == "ValidationException"
    assert "Item size has exceeded the maximum allowed size" in str(over)


@pytest.mark.parametrize(("name", "limit"), [("pk", 2048), ("sk", 1024)])
def test_key_length_limits_count_bytes(backend: Backend, name: str, limit: int) -> None:
    def item(size: int) -> dict[str, Any]:
        filler = "ä" * (size // 2) + "k" * (size % 2)  # two bytes a character: bytes count
        return {"pk": {"S": unique("K")}, "sk": {"S": "S"}, name: {"S": filler}}

    put(backend, item(limit))
    over = error_of(lambda: put(backend, item(limit + 1)))
    assert code(over) == "ValidationException"
    # the messages differ (docs/dynamodb-local.md): match each, so a change is noticed
    if backend.local:
        assert "Hash primary key values must be under 2048 bytes" in str(over)
    else:
        assert ("Size of hashkey" if name == "pk" else "Aggregated size of all range keys") in str(over)


def test_an_index_key_has_the_table_key_limit(backend: Backend) -> None:
    """cdrs.by_session_id: session_id is the index's partition key (2,048 bytes, like a table's)."""
    table = backend.table(topology.CDRS_TABLE)

    def item(size: int) -> dict[str, Any]:
        return {"pk": {"S": unique("CDR#")}, "sk": {"S": "CDR"}, "session_id": {"S": "s" * size}}

    aws.dynamodb().put_item(TableName=table, Item=item(2048))
    over = error_of(lambda: aws.dynamodb().put_item(TableName=table, Item=item(2049)))
    assert code(over) == "ValidationException"
    assert ("Size limit exceeded" if backend.local else "Size of hashkey has exceeded") in str(over)


def test_empty_strings_only_outside_keys(backend: Backend) -> None:
    table = backend.table(topology.CDRS_TABLE)
    for item in (
        {"pk": {"S": ""}, "sk": {"S": "CDR"}},
        {"pk": {"S": unique("E")}, "sk": {"S": "CDR"}, "session_id": {"S": ""}},  # an index key
    ):
        error = error_of(lambda item=item: aws.dynamodb().put_item(TableName=table, Item=item))  # type: ignore[misc]
        assert code(error) == "ValidationException" and "empty string" in str(error)
    aws.dynamodb().put_item(
        TableName=table, Item={"pk": {"S": unique("E")}, "sk": {"S": "C"}, "x": {"S": ""}}
    )


# What AWS refuses and moto lets pass (or crashes on): store code written against moto alone
# could call DynamoDB in ways AWS refuses. Each is checked against DynamoDB Local; the store tests
# below run every store call there too.
VALIDATION = {
    "an unused expression value": lambda b, pk: put(
        b,
        {"pk": {"S": pk}, "sk": {"S": "S"}},
        ConditionExpression="attribute_not_exists(pk)",
        ExpressionAttributeValues={":unused": {"S": "1"}},
    ),
    "BETWEEN with bounds reversed": lambda b, pk: aws.dynamodb().query(
        TableName=b.table(topology.STATE_TABLE),
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": {"S": pk}, ":a": {"S": "b"}, ":b": {"S": "a"}},
    ),
    "a number of 39 digits": lambda b, pk: put(b, {"pk": {"S": pk}, "sk": {"S": "N"}, "n": {"N": "1" * 39}}),
    "a number of 1E+126": lambda b, pk: put(b, {"pk": {"S": pk}, "sk": {"S": "N"}, "n": {"N": "1E+126"}}),
}


@pytest.mark.parametrize("case", sorted(VALIDATION))
def test_what_aws_refuses_and_moto_lets_pass(backend: Backend, case: str) -> None:
    call = VALIDATION[case]
    if backend.local:
        assert code(error_of(lambda: call(backend, unique("V")))) == "ValidationException"
    else:
        call(backend, unique("V"))


def test_a_condition_comparing_a_number_with_a_string(backend: Backend) -> None:
    """AWS: the comparison is false (ConditionalCheckFailed). moto: a TypeError inside moto."""
    pk = unique("CMP")
    put(backend, {"pk": {"S": pk}, "sk": {"S": "S"}, "n": {"N": "5"}})

    def write() -> Any:
        return put(
            backend,
            {"pk": {"S": pk}, "sk": {"S": "S"}},
            ConditionExpression="n < :s",
            ExpressionAttributeValues={":s": {"S": "9"}},
        )

    if backend.local:
        assert code(error_of(write)) == "ConditionalCheckFailedException"
    else:
        with pytest.raises(TypeError):
            write()


def test_a_lone_surrogate_in_a_string(backend: Backend) -> None:
    """boto3 sends it as a JSON escape. DynamoDB Local stores it; moto in-process fails to encode
    it. The store never sends one (jsondoc.escape_lone_surrogates); AWS's answer is unverified."""
    item = {"pk": {"S": unique("U")}, "sk": {"S": "S"}, "x": {"S": "\ud800"}}
    if backend.local:
        put(backend, item)
    else:
        with pytest.raises(UnicodeEncodeError):
            put(backend, item)
