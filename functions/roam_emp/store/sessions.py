"""Sessions as Plugsurfing pushes them, with PATCHes applied. A write carries the session's
``last_updated`` and only lands when it is not older than what we hold, so out-of-order updates
can never roll a session back (conditional write, safe under concurrent Lambdas).

The condition compares ``updated_us``, microseconds since the epoch as a number, never the OCPI
string: ``…:00Z`` and ``…:00.500Z`` are one second apart by string order the wrong way round.
``last_updated`` (the by_token index's sort key, a string) is kept in the fixed-width form. String
attributes carry lone surrogates (kept in the document as received) as their JSON escapes: DynamoDB
takes UTF-8 only.

Session ids, ``country_code`` and ``party_id`` are CiString (mod_sessions.asciidoc; types.asciidoc):
the key and the by_session_id index hold their ``ocpi.common.ci_key``, so a PUT of ``abc`` and a
PATCH of ``ABC`` are one session; the document keeps the spelling Plugsurfing sent.

The document is stored zlib-compressed (binary ``doc``, store/doc_codec.py), as CDRs and locations
are, when ``compress_session_documents`` is on (cdk.json, the default): a session grows with every
PATCH's charging periods, and is written on every PUT and PATCH and kept for a year, so its size is
paid in write units and storage (issue 11, docs/cost.md: ~3 KB of JSON is ~1 KB compressed). Off,
it is a JSON string, as releases before compression wrote and read it. Readers take both forms
whatever the switch says, so a rollback of the code or of the switch never strands a session
(expand/contract: docs/operations.md, "Upgrades").

Compressed, DynamoDB's 400 KB item limit no longer bounds the JSON: a session that PATCHes keep
growing could reach megabytes, which a GET could not answer (Lambda's 6 MB response) and every later
PATCH and stream record would carry. ``DOC_JSON_MAX_BYTES`` bounds the JSON itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..ocpi.common import ci_key
from ..ocpi.jsondoc import escape_lone_surrogates
from ..ocpi.timestamps import format_timestamp, parse_timestamp
from . import aws, doc_codec
from .dynamo import item_bytes, query_index
from .stamps import epoch_us, sortable
from .tokens import token_key

_SK = "S"
# DynamoDB's limits (table and index keys, whole item), checked before AWS refuses with a
# ValidationException that would be a 503: a session beyond them can never be stored (issue 13).
KEY_MAX_BYTES = 2048
ITEM_MAX_BYTES = 400 * 1024
# The document's JSON, compressed or not. A GET answers it inside the OCPI envelope, and API
# Gateway's Lambda proxy carries that body as a JSON string within Lambda's response, which is at
# most 6 MB (6,291,456 bytes). The envelope, the body's spacing and its quotes escaped in that
# string make the response about a quarter larger than the stored JSON: ~5.3 MB at this bound
# (tests/test_sessions_storage_limits.py measures it), 1 MB to spare; 5 MiB would make ~6.6 MB,
# a GET that could never be answered. A real session is a few KB (a charging period every
# few minutes of one charge); 4 MiB is ~24,000 charging periods of three dimensions each.
DOC_JSON_MAX_BYTES = 4 * 1024 * 1024


class StorageLimitExceeded(ValueError):
    """The session cannot be stored as sent; the message names the limit."""


def _check_limits(item: dict[str, Any]) -> None:
    for name in ("pk", "session_id", "token_key"):
        if name in item and len(item[name]["S"].encode()) > KEY_MAX_BYTES:
            raise StorageLimitExceeded(
                f"{'the session key' if name == 'pk' else name} exceeds DynamoDB's key limit of "
                f"{KEY_MAX_BYTES} bytes"
            )
    size = item_bytes(item)
    if size > ITEM_MAX_BYTES:
        raise StorageLimitExceeded(f"the session is {size} bytes, DynamoDB's item limit is {ITEM_MAX_BYTES}")


def _document(session: dict[str, Any], compress: bool) -> dict[str, Any]:
    text = doc_codec.dumps(session)
    if len(text) > DOC_JSON_MAX_BYTES:
        raise StorageLimitExceeded(
            f"the session is {len(text)} bytes of JSON (charging_periods: "
            f"{_count(session.get('charging_periods'))}), our limit is {DOC_JSON_MAX_BYTES}"
        )
    return doc_codec.attribute(text, compress)


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def _key(country_code: str, party_id: str, session_id: str) -> dict[str, Any]:
    pk = escape_lone_surrogates(f"SESSION#{ci_key(country_code)}#{ci_key(party_id)}#{ci_key(session_id)}")
    return {"pk": {"S": pk}, "sk": {"S": _SK}}


class SessionStore:
    def __init__(self, table_name: str, *, compress: bool = True) -> None:
        self.table = table_name
        # cdk.json compress_session_documents: the form written; both forms are always read.
        self.compress = compress

    def get(self, country_code: str, party_id: str, session_id: str) -> dict[str, Any] | None:
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key=_key(country_code, party_id, session_id), ConsistentRead=True)
            .get("Item")
        )
        return doc_codec.loads(item) if item else None

    def save(self, session: dict[str, Any], last_updated: datetime, original_protocol: str | None) -> bool:
        """Store unless what we hold is newer; False when the update was older (ignored). An
        update stamped exactly as the stored one lands (a resent PUT/PATCH is idempotent).
        Raises StorageLimitExceeded for a session DynamoDB cannot hold."""
        item: dict[str, Any] = {
            **_key(session["country_code"], session["party_id"], session["id"]),
            "doc": _document(session, self.compress),
            "last_updated": {"S": sortable(last_updated)},
            "updated_us": {"N": str(epoch_us(last_updated))},
            "status": {"S": escape_lone_surrogates(str(session.get("status", "")))},
            "session_id": {"S": escape_lone_surrogates(ci_key(session["id"]))},
        }
        token = session.get("cdr_token")
        if isinstance(token, dict) and token.get("uid"):
            # index by_token: a token's recent sessions (support bundle, stage test evidence)
            item["token_key"] = {
                "S": escape_lone_surrogates(token_key(str(token.get("type", "RFID")), token["uid"]))
            }
        if original_protocol:
            item["x_original_protocol"] = {"S": escape_lone_surrogates(original_protocol)}
        _check_limits(item)
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
        for key in query_index(
            self.table, "by_session_id", "session_id", escape_lone_surrogates(ci_key(session_id))
        ):
            item = (
                aws.dynamodb()
                .get_item(TableName=self.table, Key={"pk": key["pk"], "sk": key["sk"]})
                .get("Item")
            )
            if item:
                return {
                    "session": doc_codec.loads(item),
                    "x_original_protocol": item.get("x_original_protocol", {}).get("S"),
                }
        return None

    def for_token(self, token_type: str, uid: str, limit: int = 10) -> list[dict[str, Any]]:
        """A token's sessions, most recently updated first."""
        items = query_index(
            self.table, "by_token", "token_key", token_key(token_type, uid), limit=limit, newest_first=True
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
