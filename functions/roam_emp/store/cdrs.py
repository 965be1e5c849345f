"""CDRs: the raw body archived in S3 and the CDR item in DynamoDB, the two writes before we
acknowledge; everything else about a CDR (its facts) is written back later by the enrichment step.

- The first body for a CDR id wins (conditional put). The same body again (a retry) is a
  duplicate: acknowledged, stored once, archived once (``If-None-Match: *``: a resend adds no S3
  version). A *different* body for a known id is kept as a conflict item for review, never silently
  overwritten, and recorded exactly once however often it is resent.
- CDR ids are unique across all CPOs behind Roam OCPI (FAQ "Are IDs unique"), so the id alone keys
  the item (GET /ocpi/2.2.1/cdrs/{cdr_id}). CDR and session ids are CiString(39/36)
  (mod_cdrs.asciidoc; types.asciidoc): keys, the by_session_id index and the archive key hold their
  ``ocpi.common.ci_key``, so a resend spelling the id in another case is the same CDR (with the
  digest of domain/cdrs.py, which ignores that case too, a duplicate); the document keeps the
  spelling received first. Keys read from an index are used as they are (:meth:`CdrStore.get_at`):
  a digested key (``h-…``) is not an id to normalise again.
- Enrichment rounds: ``enrich_round`` says which round of facts is wanted (1 on arrival; +1 when a
  session arrives for an unlinked CDR or an operator reprocesses it), ``facts_round`` which round
  ``facts`` holds. The stream consumer computes facts while the two differ; a write-back only lands
  for the round it was computed for, so a retry or a race never replaces newer facts.
- Bodies we refuse (400 + 2001) are archived too, under ``rejected/``, keyed by their own digest, so
  a CDR refused for a reason we later fix can be reprocessed after Plugsurfing's resends stop.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from ..ocpi.common import ci_key
from ..ocpi.jsondoc import escape_lone_surrogates
from ..ocpi.timestamps import format_timestamp, utcnow
from . import aws, doc_codec
from .dynamo import is_conditional_failure, query_index

CDR_SK = "CDR"
CONFLICT_SK = "CONFLICT#"
ACCEPTED_PREFIX = "cdrs/"
REJECTED_PREFIX = "rejected/"
# DynamoDB items are at most 400 KB; a compressed CDR above this stays in the archive alone and
# the item points at it (a real CDR is never refused for its size).
INLINE_DOC_MAX = 300_000
MAX_KEY_BYTES = 1000  # below both DynamoDB key limits, with room for the "CDR#" prefix
_PLAIN_KEY_PART = re.compile(r"[A-Za-z0-9._-]{1,200}")


class StoreOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


def storage_id(value: str) -> str:
    """An id as a DynamoDB key attribute: lone surrogates as JSON escapes (DynamoDB takes UTF-8
    only), and an id beyond DynamoDB's key limits (2,048 bytes for a partition key, 1,024 for an
    index's) as a digest. OCPI ids are CiString(36/39); a longer one is kept in the document as
    received (lenient), so a real CDR is never refused for the length of its id."""
    text = escape_lone_surrogates(value)
    if len(text.encode()) <= MAX_KEY_BYTES:
        return text
    return "h-" + hashlib.sha256(text.encode()).hexdigest()


def id_key(value: str) -> str:
    """A CDR or session id as our key attribute: its CiString key (``ci_key``), then
    :func:`storage_id`, in that order (a digest is never case-folded)."""
    return storage_id(ci_key(value))


def cdr_key(cdr_id: str, sk: str = CDR_SK) -> dict[str, Any]:
    return {"pk": {"S": f"CDR#{id_key(cdr_id)}"}, "sk": {"S": sk}}


def _key_part(value: Any) -> str:
    """An S3 key segment: the value itself when plain, else a digest of it (ids with ``/``,
    control characters or 1,000 bytes cannot be S3 keys as they are)."""
    text = str(value)
    if _PLAIN_KEY_PART.fullmatch(text):
        return text
    return "h-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


class CdrStore:
    def __init__(self, table_name: str, bucket: str) -> None:
        self.table = table_name
        self.bucket = bucket

    # The archive ------------------------------------------------------------------------------

    def archive_key(self, cdr: dict[str, Any], digest: str) -> str:
        """The key names the CPO, the id (CiString keys: one CDR, one folder) and the body's digest."""
        parts = [cdr.get(name) for name in ("country_code", "party_id", "id")]
        parts = [ci_key(p) if isinstance(p, str) else p for p in parts]
        return ACCEPTED_PREFIX + "/".join(_key_part(p) for p in parts) + f"/{digest}.json"

    def archive(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        """Write once: a resend of the same body finds the object there and adds no version."""
        try:
            aws.client("s3").put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ServerSideEncryption="AES256",
                IfNoneMatch="*",
                Metadata={k: quote(v[:1500], safe=" :/.,;=()[]'") for k, v in (metadata or {}).items()},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise

    def archive_rejected(self, body: bytes, reason: str, original_protocol: str | None) -> str:
        key = f"{REJECTED_PREFIX}{hashlib.sha256(body).hexdigest()}.json"
        meta = {"reason": reason, "received-at": format_timestamp(utcnow())}
        if original_protocol:
            meta["x-original-protocol"] = original_protocol
        self.archive(key, body, meta)
        return key

    def read_archive(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        """The archived body and its metadata (x-original-protocol for a reprocess)."""
        try:
            answer = aws.client("s3").get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return answer["Body"].read(), dict(answer.get("Metadata") or {})

    # The CDR item ----------------------------------------------------------------------------

    def item_for(
        self, cdr: dict[str, Any], digest: str, archive_key: str, original_protocol: str | None
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            "digest": {"S": digest},
            "archive_key": {"S": archive_key},
            "received_at": {"S": format_timestamp(utcnow())},
            "enrich_round": {"N": "1"},
        }
        packed = doc_codec.pack(cdr)
        if len(packed) <= INLINE_DOC_MAX:
            item["doc"] = {"B": packed}
        if isinstance(cdr.get("session_id"), str) and cdr["session_id"]:
            # index by_session_id (support, linking)
            item["session_id"] = {"S": id_key(cdr["session_id"])}
        if original_protocol:
            item["x_original_protocol"] = {"S": escape_lone_surrogates(original_protocol)}
        return item

    def doc_inline(self, item: dict[str, Any]) -> bool:
        return "doc" in item

    def put_new(self, cdr_id: str, item: dict[str, Any]) -> StoreOutcome:
        try:
            aws.dynamodb().put_item(
                TableName=self.table,
                Item={**cdr_key(cdr_id), **item},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return StoreOutcome.STORED
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
        existing = aws.dynamodb().get_item(
            TableName=self.table, Key=cdr_key(cdr_id), ProjectionExpression="digest", ConsistentRead=True
        )["Item"]
        digest = item["digest"]["S"]
        if existing["digest"]["S"] == digest:
            return StoreOutcome.DUPLICATE
        try:
            aws.dynamodb().put_item(
                TableName=self.table,
                Item={**cdr_key(cdr_id, f"{CONFLICT_SK}{digest}"), **item},
                ConditionExpression="attribute_not_exists(pk)",  # one conflict item per body
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
        return StoreOutcome.CONFLICT

    def doc_of(self, item: dict[str, Any]) -> dict[str, Any]:
        """The CDR as received, from the item or, for a CDR too large for an item, the archive."""
        if "doc" in item:
            return doc_codec.loads(item)  # type: ignore[no-any-return]
        archived = self.read_archive(item["archive_key"]["S"])
        if archived is None:  # the archive write of a later resend has not landed yet: retry
            raise LookupError(f"archive {item['archive_key']['S']} not written yet")
        return json.loads(archived[0])  # type: ignore[no-any-return]

    def get(self, cdr_id: str, sk: str = CDR_SK) -> dict[str, Any] | None:
        return self.get_at(cdr_key(cdr_id, sk))

    def get_at(self, key: dict[str, Any]) -> dict[str, Any] | None:
        """The CDR at a stored key (``pk``/``sk``, e.g. from an index)."""
        item = (
            aws.dynamodb()
            .get_item(TableName=self.table, Key={"pk": key["pk"], "sk": key["sk"]}, ConsistentRead=True)
            .get("Item")
        )
        return self.describe(item) if item else None

    def describe(self, item: dict[str, Any]) -> dict[str, Any]:
        facts = item.get("facts", {}).get("S")
        return {
            "cdr": self.doc_of(item),
            # None until the enrichment step (after the acknowledgement) has written them back
            "facts": json.loads(facts) if facts else None,
            "digest": item["digest"]["S"],
            "archive_key": item["archive_key"]["S"],
            "received_at": item["received_at"]["S"],
            "x_original_protocol": item.get("x_original_protocol", {}).get("S"),
            "enrich_round": int(item.get("enrich_round", {}).get("N", "1")),
            "facts_round": int(item.get("facts_round", {}).get("N", "0")),
        }

    def for_session(self, session_id: str) -> dict[str, Any] | None:
        """The CDR of a session (a CDR's id need not be its session's id)."""
        for key in self.keys_for_session(session_id):
            if key["sk"]["S"] == CDR_SK:
                return self.get_at(key)
        return None

    def keys_for_session(self, session_id: str) -> list[dict[str, Any]]:
        return query_index(self.table, "by_session_id", "session_id", id_key(session_id))

    def conflicts(self, cdr_id: str) -> list[str]:
        page = aws.dynamodb().query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
            ExpressionAttributeValues={":pk": cdr_key(cdr_id)["pk"], ":c": {"S": CONFLICT_SK}},
            ProjectionExpression="digest",
        )
        return [i["digest"]["S"] for i in page.get("Items", [])]

    # Enrichment rounds -----------------------------------------------------------------------

    def request_enrichment(self, key: dict[str, Any], reason: str) -> bool:
        """Ask for a new round of facts (the stream consumer computes it); False if no such CDR."""
        try:
            aws.dynamodb().update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="ADD enrich_round :one SET enrich_reason = :why",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}, ":why": {"S": reason}},
            )
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True

    def save_facts(self, key: dict[str, Any], round_: int, facts: dict[str, Any]) -> bool:
        """Write back the facts of ``round_``; False when that round is no longer wanted (a newer
        one was asked for) or already written (a retry)."""
        try:
            aws.dynamodb().update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET facts = :facts, facts_round = :round",
                ConditionExpression=(
                    "enrich_round = :round AND (attribute_not_exists(facts_round) OR facts_round < :round)"
                ),
                ExpressionAttributeValues={
                    ":facts": {"S": json.dumps(facts, separators=(",", ":"), default=str)},
                    ":round": {"N": str(round_)},
                },
            )
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True
