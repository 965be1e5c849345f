"""CDRs pushed by Plugsurfing (FAQ "CDRs"): the billing feed that must never lose a record.

The acknowledgement path is two durable writes and nothing else: the raw body to the S3 archive
and a conditional DynamoDB put, in parallel. HTTP 200 + 1000 (Plugsurfing resends anything else
nightly for up to 7 days, FAQ "What is the retry behavior of CDRs?") means both landed. Retries
collapse to one record; a different body for a known id is kept as a conflict.

Token matching, the session link, the cost check and the ``CdrReceived`` event come after the
acknowledgement, from the table's stream (domain/cdr_enrichment.py, domain/outbox.py): none of
them can delay, block or fail the storage of a CDR.

A body we refuse (400 + 2001) is archived too, under ``rejected/``; ``reprocess`` runs a refused or
stored CDR through the current code (`roam-emp cdrs reprocess --key ...`).
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger

from ..config import Settings
from ..ocpi import jsondoc
from ..ocpi.cdrs import Cdr
from ..ocpi.common import ci_key
from ..ocpi.leniency import DeviationLog, parse_inbound
from ..ocpi.status import OcpiError, StatusCode
from ..store.cdrs import ACCEPTED_PREFIX, REJECTED_PREFIX, CdrStore, StoreOutcome, cdr_key

logger = Logger(child=True)

# The two writes of the acknowledgement path run side by side (boto3 clients are thread-safe).
_WRITES = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cdr-write")


@dataclass
class CdrResult:
    cdr: Cdr
    outcome: StoreOutcome
    deviations: DeviationLog


# The CDR's own CiString ids (types.asciidoc): a resend spelling them in another case is the same
# CDR, so the digest sees their ``ci_key`` (a duplicate, not a conflict; store/cdrs.py keys alike).
_CI_IDS = ("country_code", "party_id", "id", "session_id")


def body_digest(raw: dict[str, Any]) -> str:
    """Identical content gives an identical digest, whatever the JSON formatting of a resend or
    the case of the CDR's ids; defined for any string Plugsurfing may send, lone surrogates
    included (jsondoc)."""
    keyed = {k: ci_key(v) if k in _CI_IDS and isinstance(v, str) else v for k, v in raw.items()}
    return hashlib.sha256(jsondoc.canonical_bytes(keyed)).hexdigest()


@dataclass
class CdrService:
    store: CdrStore

    @classmethod
    def from_settings(cls, config: Settings) -> CdrService:
        return cls(CdrStore(config.cdrs_table, config.cdr_archive_bucket))

    def receive(self, raw: dict[str, Any], body: bytes, original_protocol: str | None) -> CdrResult:
        """Validate (ValidationError -> 400 + 2001 naming the field), then the two writes."""
        cdr, deviations = parse_inbound(Cdr, raw)
        digest = body_digest(raw)
        key = self.store.archive_key(raw, digest)
        item = self.store.item_for(raw, digest, key, original_protocol)
        metadata = {"x-original-protocol": original_protocol} if original_protocol else {}
        if self.store.doc_inline(item):
            archived = _WRITES.submit(self.store.archive, key, body, metadata)
            stored = _WRITES.submit(self.store.put_new, cdr.id, item)
            # Both must land before the acknowledgement; the first failure answers 503 and
            # Plugsurfing's resend repeats both (each is idempotent).
            archived.result()
            outcome = stored.result()
        else:
            # Too large for an item: the item points at the archive, so the archive comes first.
            self.store.archive(key, body, metadata)
            outcome = self.store.put_new(cdr.id, item)
        if outcome is StoreOutcome.CONFLICT:
            logger.error(
                "CDR conflict: a different body for a known id, kept for review",
                extra={"cdr_id": cdr.id, "digest": digest},
            )
        return CdrResult(cdr, outcome, deviations)

    def reject(self, body: bytes, reason: str, original_protocol: str | None) -> str:
        """Archive a body we refuse, before answering 400 (a failure here answers 503: retry)."""
        key = self.store.archive_rejected(body, reason, original_protocol)
        logger.warning("CDR refused; body archived", extra={"archive_key": key, "reason": reason})
        return key

    def reprocess(self, key: str) -> dict[str, Any]:
        """Run an archived CDR body (refused or stored) through the current code.

        A refused body that the current code accepts is stored as if Plugsurfing had just sent it;
        a stored CDR gets a new round of enrichment (token match, session link, cost check) and
        a ``CdrFactsUpdated`` event."""
        if not key.startswith((ACCEPTED_PREFIX, REJECTED_PREFIX)) or ".." in key:
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, f"not an archive key: {key!r}")
        archived = self.store.read_archive(key)
        if archived is None:
            raise OcpiError(StatusCode.CLIENT_ERROR, f"no archived CDR at {key}", http_status=404)
        body, metadata = archived
        protocol = unquote(metadata["x-original-protocol"]) if "x-original-protocol" in metadata else None
        try:
            raw = json.loads(body)
        except ValueError as error:
            raise OcpiError(
                StatusCode.INVALID_OR_MISSING_PARAMETERS, f"archived body is not JSON: {error}"
            ) from error
        if not isinstance(raw, dict):
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "archived body is not a CDR object")
        result = self.receive(raw, body, protocol)
        answer: dict[str, Any] = {"cdr_id": result.cdr.id, "outcome": result.outcome.value, "key": key}
        if result.outcome is StoreOutcome.DUPLICATE:
            answer["enrichment_requested"] = self.store.request_enrichment(
                cdr_key(result.cdr.id), "reprocess"
            )
        logger.info("CDR reprocessed", extra=answer)
        return answer
