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
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from ..config import Settings
from ..hub.client import RetryPolicy
from ..hub.errors import HubError, HubRejected
from ..hub.factory import hub_client
from ..ocpi.contract_id import contract_key, prefix
from ..ocpi.enums import TokenType, WhitelistType
from ..ocpi.leniency import describe_validation_error, dump_outbound
from ..ocpi.status import OcpiError, StatusCode
from ..ocpi.timestamps import format_timestamp, utcnow
from ..ocpi.tokens import Token
from ..store import aws
from ..store.credentials import CredentialsVault
from ..store.registration import ConnectionStore
from ..store.tokens import PushState, StoredToken, TokenStore, VersionConflict, token_key

logger = Logger(child=True)

# FAQ "Can multiple tokens share one contract_id?": one by default, more when Plugsurfing
# configures the organisation so, never more than 25 (cdk.json max_tokens_per_contract_id).
MAX_TOKENS_PER_CONTRACT = 25
_UNREAD: Any = object()  # validate() reads the stored token itself


PUSH_RETRY = RetryPolicy(max_attempts=2, base_s=0.25, cap_s=1.0)


class RetryLater(Exception):
    """A push that failed for a reason that may pass (429, 5xx, timeouts): retry the message."""


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


@dataclass
class TokenPusher:
    """The queue consumer: one message, one push."""

    config: Settings
    service: TokenService
    connections: ConnectionStore
    vault: CredentialsVault
    max_receive_count: int
    _endpoint: tuple[float, str | None] = (0.0, None)

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
        # SQS redelivery is the outer retry; inside one delivery, retry briefly.
        client = hub_client(self.config, lambda: self.vault.get().outbound, retry=PUSH_RETRY)
        try:
            client.request(
                "PUT",
                url,
                params={"type": token_type},
                json_body=stored.token,
                correlation_id=f"token-{uid}-v{stored.version}",
            )
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
        finally:
            client.close()
        current = self.service.store.mark(token_type, uid, stored.version, PushState.PUSHED)
        logger.info(
            "token pushed",
            extra={"version": stored.version, "superseded": not current},
        )
        return "pushed" if current else "superseded"
