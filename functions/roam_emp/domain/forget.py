"""GDPR erasure of one driver (Art. 17): ``roam-emp forget --token-uid ...|--contract-id ...``
(docs/operations.md "GDPR").

What identifies a driver here is a token uid and a contract_id (eMA id). The erasure:

- deletes our tokens of the driver (every type with that uid, every token with that contract_id)
  and their real-time authorization records;
- pseudonymises sessions, CDRs (items and conflict items) and remote commands: each of the driver's
  uids or contract_ids (``cdr_token.uid``/``contract_id``, a 2.1.1 ``auth_id``, a START_SESSION's
  token, the CDR's token-match facts: PERSONAL_KEYS) becomes one pseudonym, the
  same for the whole erasure, random (not derived from the identifier, so it cannot be reversed by
  hashing candidate uids). What accounting must keep stays: ids, amounts, energy, times, location,
  tariffs; records of one erasure stay grouped under the pseudonym;
- keeps the CDR archive (S3): the bodies as Plugsurfing sent them are the billing evidence that
  accounting law requires us to keep (GDPR Art. 17(3)(b)); the archive's retention ends them
  (cdk.json ``retention.cdr_archive_days``);
- publishes one ``PersonalDataForgotten`` event without personal fields (the session and CDR ids
  let the EMP's other systems erase their own copies); the outbox relay stays silent on the
  rewritten sessions (domain/outbox.py), so nothing personal is published again.

A token Plugsurfing still holds as valid is refused unless ``force``: invalidate it first (a
token push with ``valid: false``), otherwise Plugsurfing keeps authorizing a token we forgot.
Log lines (which carry token uids, telemetry.py) age out with the log retention.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..ocpi.common import ci_key
from ..ocpi.contract_id import contract_key
from ..ocpi.enums import TokenType
from ..ocpi.timestamps import format_timestamp, utcnow
from ..store import doc_codec, privacy
from ..store.bus import EventPublisher
from ..store.dynamo import Item
from ..store.tokens import TokenStore, token_key

FORGOTTEN_EVENT = "PersonalDataForgotten"


class StillValidAtHub(Exception):
    """A token Plugsurfing holds as valid: invalidate it before forgetting (or force)."""


@dataclass
class Identifiers:
    """The driver's identifiers, compared as OCPI does: uid and contract_id are CiStrings (case
    insensitive), a contract_id also without its separators (contract_id.contract_key)."""

    uids: set[str]  # upper case
    contract_keys: set[str]  # contract_id.contract_key: one form for every way of writing it

    def matches(self, value: Any) -> bool:
        if not isinstance(value, str) or not value:
            return False
        return ci_key(value) in self.uids or (len(value) >= 6 and contract_key(value) in self.contract_keys)


# Where OCPI documents (and our facts) carry a driver's identifiers: cdr_token.uid/contract_id,
# a Token's uid/contract_id (a START_SESSION), OCPI 2.1.1's auth_id, our token-match facts. Only
# these keys are rewritten, so an unrelated field that happens to equal a short uid is left alone.
PERSONAL_KEYS = frozenset({"uid", "contract_id", "auth_id", "token_uid"})


def pseudonymise(value: Any, ids: Identifiers, pseudonym: str) -> tuple[Any, int]:
    """``value`` with the driver's identifiers (under PERSONAL_KEYS) replaced; and how many were."""
    if isinstance(value, dict):
        out, replaced = {}, 0
        for key, item in value.items():
            if key in PERSONAL_KEYS and ids.matches(item):
                out[key], n = pseudonym, 1
            else:
                out[key], n = pseudonymise(item, ids, pseudonym)
            replaced += n
        return out, replaced
    if isinstance(value, list):
        pairs = [pseudonymise(item, ids, pseudonym) for item in value]
        return [p[0] for p in pairs], sum(p[1] for p in pairs)
    return value, 0


@dataclass
class Forgetter:
    tokens_table: str
    authorizations_table: str
    sessions_table: str
    cdrs_table: str
    commands_table: str
    events: EventPublisher

    @classmethod
    def from_settings(cls, config: Settings) -> Forgetter:
        return cls(
            tokens_table=config.tokens_table,
            authorizations_table=config.authorizations_table,
            sessions_table=config.sessions_table,
            cdrs_table=config.cdrs_table,
            commands_table=config.commands_table,
            events=EventPublisher(config.event_bus_name),
        )

    def forget(
        self, *, token_uid: str | None = None, contract_id: str | None = None, force: bool = False
    ) -> dict[str, Any]:
        if not token_uid and not contract_id:
            raise ValueError("token_uid or contract_id is required")
        forget_id = uuid.uuid4().hex
        pseudonym = f"FORGOTTEN-{forget_id[:12].upper()}"
        at = format_timestamp(utcnow())
        tokens = self._tokens(token_uid, contract_id)
        valid = [k for k, doc in tokens.items() if _held_valid(doc)]
        if valid and not force:
            raise StillValidAtHub(
                f"{len(valid)} token(s) are valid at Plugsurfing: push them with valid=false first "
                "(or force, accepting that Plugsurfing may still authorize them)"
            )
        ids = Identifiers(
            uids={ci_key(token_uid)} if token_uid else set(),
            contract_keys={contract_key(contract_id)} if contract_id else set(),
        )
        for doc in tokens.values():
            ids.uids.add(ci_key(str(doc["uid"])))
            if doc.get("contract_id"):
                ids.contract_keys.add(contract_key(str(doc["contract_id"])))
        counts: Counter[str] = Counter()
        mark = {"forget_id": forget_id, "forgotten_at": at}
        as_stored = ({token_uid} if token_uid else set()) | {str(d["uid"]) for d in tokens.values()}
        counts["authorizations_deleted"] = self._authorizations(as_stored)
        for key in tokens:
            privacy.delete(self.tokens_table, _token_item_key(key))
            counts["tokens_deleted"] += 1
        session_ids = self._rewrite_table(self.sessions_table, ids, pseudonym, mark, remove=("token_key",))
        counts["sessions_pseudonymised"] = len(session_ids)
        cdr_ids = self._rewrite_table(self.cdrs_table, ids, pseudonym, mark, counts=counts)
        counts["cdrs_pseudonymised"] = len(cdr_ids)
        counts["commands_pseudonymised"] = len(self._rewrite_table(self.commands_table, ids, pseudonym, mark))
        report = {
            "forget_id": forget_id,
            "forgotten_at": at,
            "pseudonym": pseudonym,
            "counts": {
                name: counts[name]
                for name in (
                    "tokens_deleted",
                    "authorizations_deleted",
                    "sessions_pseudonymised",
                    "cdrs_pseudonymised",
                    "commands_pseudonymised",
                    "cdr_archive_bodies_kept",
                )
            },
            "kept": "ids, amounts, energy, times, location and tariffs of sessions and CDRs; the CDR "
            "archive (billing evidence, kept for its retention under the accounting obligation)",
        }
        self.events.publish(
            FORGOTTEN_EVENT,
            {
                "idempotency_key": f"{FORGOTTEN_EVENT}/{forget_id}",
                "forget_id": forget_id,
                "forgotten_at": at,
                "pseudonym": pseudonym,
                "session_ids": sorted(session_ids),
                "cdr_ids": sorted(cdr_ids),
                "counts": report["counts"],
            },
        )
        return report

    # Tokens and authorizations ---------------------------------------------------------------

    def _tokens(self, token_uid: str | None, contract_id: str | None) -> dict[str, dict[str, Any]]:
        """Our tokens of the driver, by token key (type#uid), with their stored item's fields."""
        keys: set[str] = set()
        if token_uid:
            keys |= {token_key(t.value, token_uid) for t in TokenType}
        if contract_id:
            keys |= TokenStore(self.tokens_table).count_for_contract(contract_id)
        found = {}
        for key in sorted(keys):
            item = privacy.get(self.tokens_table, _token_item_key(key))
            if item:
                doc = json.loads(item["doc"]["S"])
                accepted = doc_codec.loads(item, "accepted")
                if accepted is None and item.get("push_state", {}).get("S") == "PUSHED":
                    accepted = doc  # stored before ``accepted`` was recorded (store/tokens.py)
                found[key] = {**doc, "_accepted": accepted}
        return found

    def _authorizations(self, uids: set[str]) -> int:
        """Decisions are keyed by the uid as Plugsurfing sent it: ours, and the one asked for."""
        deleted = 0
        for uid in sorted(uids):
            for token_type in TokenType:
                for key in list(
                    privacy.query_keys(
                        self.authorizations_table, "by_token", "token_key", token_key(token_type.value, uid)
                    )
                ):
                    privacy.delete(self.authorizations_table, key)
                    deleted += 1
        return deleted

    # Sessions, CDRs, commands ----------------------------------------------------------------

    def _rewrite_table(
        self,
        table: str,
        ids: Identifiers,
        pseudonym: str,
        mark: dict[str, str],
        *,
        remove: tuple[str, ...] = (),
        counts: Counter[str] | None = None,
    ) -> set[str]:
        """Pseudonymise every item of ``table`` whose document names the driver; the ids (the
        document's ``id``, else the command id) of what was rewritten."""
        rewritten: set[str] = set()
        for item in privacy.scan(table):
            changes = self._changes(item, ids, pseudonym)
            if changes is None:  # not the driver's (a CDR too large for an item: only in the archive)
                continue
            privacy.rewrite(
                table,
                item,
                changes,
                forget_id=mark["forget_id"],
                forgotten_at=mark["forgotten_at"],
                remove=remove,
            )
            doc = doc_codec.loads(item) or {}
            rewritten.add(str(doc.get("id") or doc.get("command_id") or item["pk"]["S"]))
            if counts is not None and "archive_key" in item:
                counts["cdr_archive_bodies_kept"] += 1
        return rewritten

    @staticmethod
    def _changes(item: Item, ids: Identifiers, pseudonym: str) -> dict[str, dict[str, Any]] | None:
        """The rewritten ``doc`` (and a CDR's ``facts``), or None when the item is not the driver's."""
        doc = doc_codec.loads(item)
        if doc is None:
            return None
        new_doc, replaced = pseudonymise(doc, ids, pseudonym)
        if not replaced:
            return None
        changes = {"doc": doc_codec.packed(new_doc, item["doc"])}
        facts = doc_codec.loads(item, "facts")
        if facts is not None:
            changes["facts"] = doc_codec.packed(pseudonymise(facts, ids, pseudonym)[0], item["facts"])
        return changes


def _token_item_key(key: str) -> dict[str, Any]:
    return {"pk": {"S": f"TOKEN#{key}"}, "sk": {"S": "T"}}


def _held_valid(token: dict[str, Any]) -> bool:
    """Plugsurfing holds the token and, as far as it knows, it is valid."""
    accepted = token.get("_accepted")
    return isinstance(accepted, dict) and accepted.get("valid") is not False
