"""Token pushes to Plugsurfing (FAQ "Tokens and authorization": token pull is not supported, the
EMP pushes; tokens must be pushed before a remote start).

Changes arrive through the admin API (or straight on the SQS FIFO queue), are checked against
Roam OCPI's rules *before* queueing, stored as QUEUED with a new version, and queued with the token
(type+uid) as message group: changes to one token reach Plugsurfing in order while different tokens
flow in parallel. The consumer pushes with PUT (whole token) or PATCH (partial update) through the
shared rate limiter, and records PUSHED or FAILED (with Plugsurfing's OCPI error). A refused
change is set aside and the token goes back to the version Plugsurfing accepted last, so later
changes build on what Plugsurfing holds (store/tokens.py).
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from ..config import Settings
from ..hub.client import HubClient, RetryPolicy
from ..hub.errors import HubError, HubRejected
from ..hub.factory import hub_client
from ..hub.rate_limit import HubRateLimiter, PermitAfterDeadline, Share
from ..ocpi.contract_id import contract_key, prefix
from ..ocpi.enums import TokenType, WhitelistType
from ..ocpi.leniency import describe_validation_error, dump_outbound
from ..ocpi.status import OcpiError, StatusCode
from ..ocpi.timestamps import format_timestamp, utcnow
from ..ocpi.tokens import Token
from ..store import aws
from ..store.credentials import CredentialsVault
from ..store.registration import ConnectionStore
from ..store.tokens import PushState, Selection, StoredToken, TokenStore, VersionConflict, token_key

logger = Logger(child=True)

# FAQ "Can multiple tokens share one contract_id?": one by default, more when Plugsurfing
# configures the organisation so, never more than 25 (cdk.json max_tokens_per_contract_id).
MAX_TOKENS_PER_CONTRACT = 25
_UNREAD: Any = object()  # validate() reads the stored token itself


PUSH_RETRY = RetryPolicy(max_attempts=2, base_s=0.25, cap_s=1.0)


class RetryLater(Exception):
    """A push that failed for a reason that may pass (429, 5xx, timeouts): retry the message."""


class HandBack(Exception):
    """Not tried: the bulk share of this minute's budget is spent and the next minute starts after
    the invocation's deadline. The message goes back to the queue untouched, visible again at
    ``retry_at`` (epoch s), instead of the function sleeping into its timeout."""

    def __init__(self, retry_at: float) -> None:
        super().__init__(f"budget spent until {retry_at:.0f}: handed back")
        self.retry_at = retry_at


def _invalid(message: str) -> OcpiError:
    return OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, message)


@dataclass
class TokenService:
    config: Settings
    store: TokenStore

    @classmethod
    def from_settings(cls, config: Settings) -> TokenService:
        return cls(config, TokenStore(config.tokens_table))

    # Rules, checked before anything is queued ------------------------------------------------

    def complete(self, data: dict[str, Any]) -> dict[str, Any]:
        """Our defaults for what the EMP may leave out."""
        token = dict(data)
        token.setdefault("country_code", self.config.country_code)
        token.setdefault("party_id", self.config.party_id)
        token.setdefault("issuer", self.config.business_name)
        token.setdefault("valid", True)
        # Plugsurfing's default toward CPOs (ALWAYS/ALLOWED become ALLOWED_OFFLINE there anyway).
        token.setdefault("whitelist", WhitelistType.ALLOWED_OFFLINE.value)
        token["last_updated"] = format_timestamp(utcnow())
        return token

    def validate(self, token: dict[str, Any], stored: StoredToken | None = _UNREAD) -> dict[str, Any]:
        """The token as we will send it, or a 2001 naming the field or the rule. ``stored``: the
        token as stored now, when the caller has already read it."""
        try:
            parsed = Token.model_validate(token)
            checked = dump_outbound(parsed)  # strict: what we send meets the spec
        except ValidationError as error:
            raise _invalid(describe_validation_error(error)) from error
        if checked["type"] == TokenType.AD_HOC_USER:
            raise _invalid("type AD_HOC_USER is not supported by Roam OCPI")
        if (checked["country_code"], checked["party_id"]) != (self.config.country_code, self.config.party_id):
            raise _invalid(
                f"country_code/party_id must be ours ({self.config.country_code}/"
                f"{self.config.party_id}): tokens are pushed under our own party"
            )
        prefixes = self.config.contract_id_prefixes
        if prefixes and prefix(checked["contract_id"]) not in prefixes:
            raise _invalid(
                f"contract_id prefix {prefix(checked['contract_id'])} is not registered with "
                f"Plugsurfing (registered: {', '.join(prefixes)})"
            )
        self._contract_id_may_change(
            checked, self.store.get(checked["type"], checked["uid"]) if stored is _UNREAD else stored
        )
        others = self.store.count_for_contract(checked["contract_id"])
        others.discard(token_key(checked["type"], checked["uid"]))
        limit = min(self.config.max_tokens_per_contract_id, MAX_TOKENS_PER_CONTRACT)
        if len(others) >= limit:
            raise _invalid(
                f"contract_id {checked['contract_id']} already has {len(others)} token(s); Plugsurfing "
                f"allows at most {limit} per contract_id for this organisation (max_tokens_per_contract_id)"
            )
        return checked

    def _contract_id_may_change(self, token: dict[str, Any], stored: StoredToken | None) -> None:
        """FAQ "Can contract_id be changed after a token has been pushed?": only when the
        organisation setting allows it (cdk.json allow_contract_id_change, default off). Forms of
        one contract_id (DE8PS... vs DE-8PS-...) are no change."""
        held = stored.accepted if stored else None
        if held is None or self.config.allow_contract_id_change:
            return
        if contract_key(held["contract_id"]) != contract_key(token["contract_id"]):
            raise _invalid(
                f"contract_id cannot change from {held['contract_id']} to {token['contract_id']} once "
                "Plugsurfing has the token (organisation setting allow_contract_id_change is off)"
            )

    # Admin operations --------------------------------------------------------------------------

    def submit(self, data: dict[str, Any]) -> StoredToken:
        """POST /admin/tokens: a whole token, pushed with PUT."""
        token = self.validate(self.complete(data))
        return self._queue(token)

    def patch(self, token_type: str, uid: str, changes: dict[str, Any]) -> StoredToken:
        """PATCH /admin/tokens/{uid}?type=: a partial update of the stored token."""
        for fixed in ("uid", "type", "country_code", "party_id"):
            if fixed in changes:
                raise _invalid(f"{fixed} cannot be changed with PATCH")
        for _ in range(5):  # optimistic locking: concurrent PATCHes never lose each other's fields
            stored = self.store.get(token_type, uid)
            if stored is None:
                raise OcpiError(StatusCode.UNKNOWN_TOKEN, f"token {token_type} {uid} is unknown")
            merged = {**stored.token, **changes, "last_updated": format_timestamp(utcnow())}
            token = self.validate(merged, stored)
            try:
                return self._queue(token, expected_version=stored.version)
            except VersionConflict:
                continue
        raise OcpiError(
            StatusCode.SERVER_ERROR, "token is being changed concurrently; retry", http_status=409
        )

    # Operations (issue 12 "Redrive and reset", "Bulk initial load") -----------------------------

    def import_lines(self, lines: list[tuple[int, Any]]) -> dict[str, Any]:
        """A chunk of a bulk load: each (line number, token) goes through :meth:`submit`, the
        admin API's own rules; a refused line is reported with its number and reason."""
        queued = 0
        refused: list[dict[str, Any]] = []
        for line, data in lines:
            try:
                if not isinstance(data, dict):
                    raise _invalid("a token must be a JSON object")
                self.submit(data)
                queued += 1
            except OcpiError as error:
                refused.append({"line": line, "uid": _uid_of(data), "reason": error.message})
        return {"queued": queued, "refused": refused}

    def redrive(self, stored: StoredToken) -> StoredToken:
        """Queue a FAILED token again after a fix, as a new version checked by today's rules.
        Refused by Plugsurfing (the token went back to what Plugsurfing holds, ``refused`` kept
        aside): the refused change is the one to push again. Given up after every delivery (the
        dead-letter queue): the token as stored is."""
        if stored.push_state is not PushState.FAILED:
            raise _invalid(f"token {stored.token['uid']} is {stored.push_state}, not FAILED")
        refusal = stored.refused is not None and stored.token == stored.accepted
        wanted = stored.refused if refusal and stored.refused else stored.token
        token = self.validate({**wanted, "last_updated": format_timestamp(utcnow())}, stored)
        return self._queue(token, expected_version=stored.version)

    def resync(self, stored: StoredToken) -> None:
        """Ask for a push of the token as stored (its version unchanged): the consumer pushes
        whatever is current, and SQS drops the message as a duplicate if it is already queued."""
        self.enqueue(stored.token["type"], stored.token["uid"], stored.version)

    def sweep(self, which: Selection, cursor: str | None, limit: int) -> dict[str, Any]:
        """One page of redrive (FAILED) or re-sync (OUT_OF_SYNC): what was queued, what was not
        and why, and the cursor of the next page."""
        found, next_cursor = self.store.scan_page(which, cursor, limit)
        queued: list[str] = []
        refused: list[dict[str, Any]] = []
        for stored in found:
            uid = stored.token["uid"]
            try:
                if which is Selection.FAILED:
                    self.redrive(stored)
                else:
                    self.resync(stored)
                queued.append(uid)
            except OcpiError as error:
                refused.append({"uid": uid, "type": stored.token["type"], "reason": error.message})
        return {"queued": queued, "refused": refused, "cursor": next_cursor}

    def redrive_dead_letters(self, max_messages: int = 100) -> int:
        """Move up to ``max_messages`` from the token queue's dead-letter queue back onto the
        queue, each in its own message group; the consumer pushes whatever is current for the
        token, so an old message cannot roll a newer version back."""
        sqs = aws.client("sqs")
        dlq = dead_letter_queue_url(self.config.token_push_queue_url)
        moved = 0
        while moved < max_messages:
            answer = sqs.receive_message(
                QueueUrl=dlq,
                MaxNumberOfMessages=min(10, max_messages - moved),
                AttributeNames=["MessageGroupId"],
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                return moved
            for message in messages:
                sqs.send_message(
                    QueueUrl=self.config.token_push_queue_url,
                    MessageBody=message["Body"],
                    MessageGroupId=message.get("Attributes", {}).get("MessageGroupId", "redrive"),
                    # deterministic: a redrive retried within SQS's 5-minute window sends it once
                    MessageDeduplicationId=f"redrive-{message['MessageId']}",
                )
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        return moved

    def _queue(self, token: dict[str, Any], expected_version: int | None = None) -> StoredToken:
        version = self.store.save_queued(token, expected_version)
        try:
            self.enqueue(token["type"], token["uid"], version)
        except Exception as error:
            self.store.mark(
                token["type"],
                token["uid"],
                version,
                PushState.FAILED,
                f"could not be queued: {type(error).__name__}",
            )
            raise OcpiError(
                StatusCode.SERVER_ERROR, "the token change could not be queued; retry", http_status=503
            ) from error
        stored = self.store.get(token["type"], token["uid"])
        assert stored is not None
        return stored

    def enqueue(self, token_type: str, uid: str, version: int) -> None:
        """Ask for a push of the token as stored. The message names the version it was queued
        for; the consumer pushes whatever is current, so a late message can never roll back."""
        group = token_key(token_type, uid)
        aws.client("sqs").send_message(
            QueueUrl=self.config.token_push_queue_url,
            MessageBody=json.dumps({"type": token_type, "uid": uid, "version": version}),
            MessageGroupId=group,
            MessageDeduplicationId=f"{group}-{version}".replace("#", "-"),
        )


def _uid_of(data: Any) -> str | None:
    uid = data.get("uid") if isinstance(data, dict) else None
    return uid if isinstance(uid, str) else None


def dead_letter_queue_url(queue_url: str) -> str:
    """The dead-letter queue named by the queue's redrive policy (no configuration of its own)."""
    sqs = aws.client("sqs")
    policy = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    arn = json.loads(policy["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
    _, _, _, _, account, name = arn.split(":", 5)
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


@dataclass
class TokenPusher:
    """The queue consumer: one message, one push; one HTTP client (and so its kept-alive
    connections to Plugsurfing) for as long as the container lives (issue 11: a client per token
    was 44 % of a push)."""

    config: Settings
    service: TokenService
    connections: ConnectionStore
    vault: CredentialsVault
    max_receive_count: int
    limiter: HubRateLimiter | None = None  # default: the shared limiter, bulk share
    _endpoint: tuple[float, str | None] = (0.0, None)
    _client: HubClient | None = None

    @classmethod
    def from_settings(cls, config: Settings, max_receive_count: int) -> TokenPusher:
        return cls(
            config,
            TokenService.from_settings(config),
            ConnectionStore(config.state_table),
            CredentialsVault(config.credentials_secret, config.secret_cache_s),
            max_receive_count,
        )

    def handle(self, body: str, receive_count: int = 1) -> str:
        message = json.loads(body)
        if "version" not in message:
            # A producer put a plain OCPI Token on the queue: same rules as the admin API.
            try:
                token = self.service.validate(self.service.complete(message))
            except OcpiError as error:
                logger.error(
                    "token on the queue refused",
                    extra={"token_uid": message.get("uid"), "reason": error.message},
                )
                return "refused"
            self.service.store.save_queued(token)
            message = {"type": token["type"], "uid": token["uid"]}
        return self._push(message["type"], message["uid"], receive_count)

    @property
    def deadline_margin_s(self) -> float:
        """Time a push may still take once it has its unit: every attempt's HTTP timeout and the
        pauses between them, plus a second to write the outcome."""
        return self.config.hub_timeout_s * PUSH_RETRY.max_attempts + PUSH_RETRY.cap_s + 1.0

    def hub(self) -> HubClient:
        if self._client is None:
            self._client = hub_client(
                self.config,
                lambda: self.vault.get().outbound,
                retry=PUSH_RETRY,
                share=Share.BULK,  # token loads leave the interactive reserve alone
                limiter=self.limiter,
            )
        return self._client

    def close(self) -> None:
        """Drop the HTTP client (its connections); the next push opens a new one."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def within(self, remaining_ms: int) -> AbstractContextManager[None]:
        """While handling one invocation: never wait for the budget past its remaining time
        (less :attr:`deadline_margin_s`); a push that would is handed back (:class:`HandBack`)."""
        limiter = self.hub().limiter
        if not isinstance(limiter, HubRateLimiter):
            return nullcontext()
        return limiter.until(self.now() + remaining_ms / 1000 - self.deadline_margin_s)

    def now(self) -> float:
        """Epoch seconds on the limiter's clock (the clock its minutes and deadlines use)."""
        limiter = self.hub().limiter
        return limiter.clock() if isinstance(limiter, HubRateLimiter) else time.time()

    def _tokens_endpoint(self) -> str | None:
        """Plugsurfing's tokens endpoint, re-read at most once a minute (it changes only with a
        credentials exchange): one read fewer per pushed token."""
        fetched_at, url = self._endpoint
        if url is None or time.monotonic() - fetched_at > 60:
            url = self.connections.get().endpoint_url("tokens", "RECEIVER")
            self._endpoint = (time.monotonic(), url)
        return url

    def _push(self, token_type: str, uid: str, receive_count: int) -> str:
        stored = self.service.store.get(token_type, uid)
        if stored is None:
            return "unknown"
        if stored.push_state is PushState.PUSHED:
            return "up_to_date"  # a later message already pushed this (or a newer) version
        base = self._tokens_endpoint()
        if not base:
            raise RetryLater("not registered with Plugsurfing (no tokens RECEIVER endpoint) yet")
        url = f"{base.rstrip('/')}/{self.config.country_code}/{self.config.party_id}/{uid}"
        # SQS redelivery is the outer retry; inside one delivery, retry briefly (PUSH_RETRY).
        try:
            self.hub().request(
                "PUT",
                url,
                params={"type": token_type},
                json_body=stored.token,
                correlation_id=f"token-{uid}-v{stored.version}",
            )
        except PermitAfterDeadline as error:
            # Nothing was sent for this attempt and the token stays QUEUED as it is, unless this
            # was the last delivery the queue allows: then say where the message went.
            if receive_count >= self.max_receive_count:
                self.service.store.mark(
                    token_type,
                    uid,
                    stored.version,
                    PushState.FAILED,
                    "gave up, message moved to the dead-letter queue: the bulk budget was spent on "
                    "every delivery (roam-emp tokens redrive)",
                )
            raise HandBack(error.retry_at) from error
        except HubRejected as error:
            # Plugsurfing refused the token itself: retrying the same body cannot help.
            self.service.store.refused(token_type, uid, stored.version, str(error))
            logger.error(
                "token push refused; the token is back at the version Plugsurfing accepted last",
                extra={"error": str(error), "version": stored.version},
            )
            return "failed"
        except HubError as error:
            last_try = receive_count >= self.max_receive_count
            self.service.store.mark(
                token_type,
                uid,
                stored.version,
                PushState.FAILED if last_try else PushState.QUEUED,
                f"{'gave up, message moved to the dead-letter queue: ' if last_try else ''}{error}",
            )
            raise RetryLater(str(error)) from error
        current = self.service.store.mark(token_type, uid, stored.version, PushState.PUSHED)
        logger.info(
            "token pushed",
            extra={"version": stored.version, "superseded": not current},
        )
        return "pushed" if current else "superseded"
