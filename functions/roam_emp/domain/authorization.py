"""Real-time authorization (Plugsurfing -> EMSP): answer ALLOWED / BLOCKED / EXPIRED / NO_CREDIT /
NOT_ALLOWED well inside Plugsurfing's timeout (configurable 1-10 s there, FAQ "How does real-time
authorization work?").

The policy is configuration: the token must exist (else 2004) and be valid; a referenced location
must be in our cache and in a supported country; a missing or unknown reference is allowed or denied
as configured (the FAQ's "full control" recipe: deny, with whitelist NEVER); an optional hook of
the EMP's (credit checks) gets a time budget, and a slow or failing hook yields the configured
fallback answer instead of a late one.

A known token always gets an AuthorizationInfo (HTTP 200): a LocationReferences body we cannot use
(``{}``, ``{"location_id": null}``, only ``evse_uids``, not JSON) is treated as a missing
reference and the policy decides; answering it with 400 would make Plugsurfing apply its own
malformed-response fallback, possibly accept, and leak the FAQ's "full control" recipe.

Hot path (issue 11): the two reads (token, location) run concurrently, then the decision record is
the only write (AuthorizationDecided comes from its stream). Imports stay light: no pydantic and no
OCPI models. The token and the location's ``country`` are read by key (store/lookups.py), and the
LocationReferences are checked by hand (:func:`location_references`), accepting and refusing exactly
what the ``ocpi.tokens.LocationReferences`` model does (tests/test_authorize_hot_path.py proves it
against the model, property-based).
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from ..config import Settings
from ..ocpi import jsondoc
from ..ocpi.jsondoc import has_lone_surrogate
from ..ocpi.status import OcpiError, StatusCode
from ..ocpi.timestamps import format_timestamp, utcnow
from ..store.authorizations import AuthorizationStore
from ..store.lookups import location_country, token_document

logger = Logger(child=True)
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="authorize")

# OCPI's AllowedType (mod_tokens.asciidoc), as the plain strings we answer: ``ocpi.enums`` builds
# pydantic types at import (tests/test_authorize_hot_path.py checks these are its values).
ALLOWED = "ALLOWED"
BLOCKED = "BLOCKED"
NOT_ALLOWED = "NOT_ALLOWED"
ALLOWED_TYPES = frozenset({ALLOWED, BLOCKED, "EXPIRED", "NO_CREDIT", NOT_ALLOWED})


@dataclass(frozen=True)
class LocationReferences:
    """OCPI LocationReferences as received (mod_tokens.asciidoc): what the lenient
    ``ocpi.tokens.LocationReferences`` model makes of a usable reference, without pydantic.
    Unknown fields are kept (``extra``) and echoed, as the model keeps them."""

    location_id: str
    evse_uids: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The model's ``model_dump(mode="json", exclude_none=True)``: declared fields first,
        then the extra ones; a None value (not nested ones) is left out."""
        out: dict[str, Any] = {"location_id": self.location_id}
        if self.evse_uids is not None:
            out["evse_uids"] = list(self.evse_uids)
        out.update((k, v) for k, v in self.extra.items() if v is not None)
        return out


class Hook(Protocol):
    """Raises TimeoutError when its own transport times out: that is a budget overrun too, so
    the answer's reason does not depend on which timer fires first."""

    def decide(self, request: dict[str, Any], budget_s: float) -> str: ...


def location_references(body: str | bytes | None) -> tuple[LocationReferences | None, str | None]:
    """The request's LocationReferences (mod_tokens.asciidoc, real-time authorization: optional),
    or None when absent or unusable, with a note saying what was unusable. A usable reference has
    a non-empty string ``location_id``; malformed ``evse_uids`` are dropped, the location kept."""
    if body is None or not body.strip():
        return None, None
    try:
        data = jsondoc.parse(body)  # the one strict parser: no NaN, bounded depth
    except ValueError:
        return None, "body is not JSON"
    if not isinstance(data, dict):
        return None, "body is not a LocationReferences object"
    location_id = data.get("location_id")
    if not isinstance(location_id, str) or not location_id.strip():
        return None, "no usable location_id"
    evse_uids = data.get("evse_uids")
    if not (isinstance(evse_uids, list) and all(isinstance(e, str) for e in evse_uids)):
        evse_uids = None
    # Unknown fields are kept and echoed, as the lenient model kept them; what the model added is
    # never a refusal (over-long strings, lone surrogates in values: deviations, not kept). The
    # one difference: a field whose name, or a name inside it, holds a lone surrogate is left
    # out here, where the model refused the body (400) or failed to echo it (503), against
    # "a known token always gets an AuthorizationInfo" (docs/performance.md).
    extra = {
        k: v
        for k, v in data.items()
        if k not in ("location_id", "evse_uids") and not _surrogate_in_names(k, v)
    }
    return LocationReferences(location_id, evse_uids, extra), None


def _surrogate_in_names(name: str, value: Any) -> bool:
    if has_lone_surrogate(name):
        return True
    if isinstance(value, dict):
        return any(_surrogate_in_names(k, v) for k, v in value.items())
    if isinstance(value, list):
        return any(_surrogate_in_names("", v) for v in value)
    return False


class LambdaHook:
    """The EMP's own Lambda, invoked synchronously; answers {"allowed": "<AllowedType>"}."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self._client: Any = None

    def decide(self, request: dict[str, Any], budget_s: float) -> str:
        from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

        if self._client is None:
            import botocore.session
            from botocore.config import Config

            self._client = botocore.session.get_session().create_client(
                "lambda",
                config=Config(connect_timeout=budget_s, read_timeout=budget_s, retries={"max_attempts": 0}),
            )
        try:
            answer = self._client.invoke(FunctionName=self.function_arn, Payload=json.dumps(request).encode())
        except (ConnectTimeoutError, ReadTimeoutError) as error:
            raise TimeoutError(str(error)) from error
        if answer.get("FunctionError"):
            raise RuntimeError(f"hook failed: {answer['FunctionError']}")
        return str(json.loads(answer["Payload"].read())["allowed"])


class HttpHook:
    """The same contract over HTTP (local mode and tests; or an EMP service behind a URL)."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url
        self._http = httpx.Client()

    def decide(self, request: dict[str, Any], budget_s: float) -> str:
        import httpx

        try:
            answer = self._http.post(self.url, json=request, timeout=budget_s)
        except httpx.TimeoutException as error:
            raise TimeoutError(str(error)) from error
        answer.raise_for_status()
        return str(answer.json()["allowed"])


def hook_for(target: str | None) -> Hook | None:
    if not target:
        return None
    return HttpHook(target) if target.startswith(("http://", "https://")) else LambdaHook(target)


def _settle(read: Future[str | None] | None) -> None:
    """Wait for a read whose answer is not needed, so that the decision record is still the
    last call of the request (and a failure of that read is not left unobserved)."""
    if read is not None:
        read.exception()


@dataclass
class Authorizer:
    config: Settings
    decisions: AuthorizationStore
    hook: Hook | None

    @classmethod
    def from_settings(cls, config: Settings) -> Authorizer:
        return cls(config, AuthorizationStore(config.authorizations_table), hook_for(config.auth_hook_target))

    def authorize(self, uid: str, token_type: str, location: LocationReferences | None) -> dict[str, Any]:
        started = time.perf_counter()
        reference = uuid.uuid4().hex  # 32 characters, within CiString(36)
        # The location's read runs beside the token's: the answer waits for one round trip, not
        # two. For an unknown or disabled token its result goes unused (one small read).
        country: Future[str | None] | None = (
            _POOL.submit(location_country, self.config.locations_table, location.location_id)
            if location is not None
            else None
        )
        token = token_document(self.config.tokens_table, token_type, uid, consistent=False)
        if token is None:
            _settle(country)
            self._record(reference, uid, token_type, location, "UNKNOWN_TOKEN", "token unknown", started)
            raise OcpiError(StatusCode.UNKNOWN_TOKEN, f"unknown token {token_type} {uid}")
        allowed, reason = self._policy(token, location, country)
        if allowed == ALLOWED and self.hook is not None:
            allowed, reason = self._ask_hook(token, location)
        info: dict[str, Any] = {
            "allowed": allowed,
            "token": token,
            "authorization_reference": reference,
            "info": {"language": "en", "text": reason[:512]},
        }
        if location is not None and allowed == ALLOWED:
            # mod_tokens.asciidoc, AuthorizationInfo.location: only "if the EV driver is allowed
            # to charge at that location"; our policy decides per location, so every EVSE
            # requested is one the driver may use.
            info["location"] = location.as_json()
        self._record(reference, uid, token_type, location, allowed, reason, started)
        return info

    def _policy(
        self, token: dict[str, Any], location: LocationReferences | None, read: Future[str | None] | None
    ) -> tuple[str, str]:
        if not token.get("valid", False):
            _settle(read)
            return BLOCKED, "token is disabled"
        deny_unknown = self.config.auth_unknown_location == "DENY"
        if location is None or read is None:
            if deny_unknown:
                return NOT_ALLOWED, "no location reference (policy: deny)"
            return ALLOWED, "no location reference (policy: allow)"
        country = read.result()
        if country is None:
            if deny_unknown:
                return NOT_ALLOWED, f"location {location.location_id} unknown (policy: deny)"
            return ALLOWED, f"location {location.location_id} unknown (policy: allow)"
        supported = self.config.supported_countries
        if supported and country.upper() not in supported:
            return NOT_ALLOWED, f"country {country} is not supported"
        return ALLOWED, "token valid, location supported"

    def _ask_hook(self, token: dict[str, Any], location: LocationReferences | None) -> tuple[str, str]:
        assert self.hook is not None
        budget = self.config.auth_hook_budget_ms / 1000
        request = {
            "token": token,
            "location": location.as_json() if location else None,
        }
        future = _POOL.submit(self.hook.decide, request, budget)
        try:
            answer = future.result(timeout=budget)
        except (FutureTimeout, TimeoutError):  # our wait or the hook's own timeout: one overrun
            return self.config.auth_hook_fallback, f"hook took longer than {budget * 1000:.0f} ms (fallback)"
        except Exception as error:
            return self.config.auth_hook_fallback, f"hook failed: {type(error).__name__} (fallback)"
        if answer not in ALLOWED_TYPES:
            return self.config.auth_hook_fallback, f"hook answered {answer[:20]!r} (fallback)"
        return answer, "decided by the EMP's hook"

    def _record(
        self,
        reference: str,
        uid: str,
        token_type: str,
        location: LocationReferences | None,
        allowed: str,
        reason: str,
        started: float,
    ) -> None:
        decision = {
            "authorization_reference": reference,
            "token_uid": uid,
            "token_type": token_type,
            "location_id": location.location_id if location else None,
            "evse_uids": location.evse_uids if location else None,
            "allowed": allowed,
            "reason": reason,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "decided_at": format_timestamp(utcnow()),
        }
        # The decision record is the only write; AuthorizationDecided comes from its stream.
        try:
            _POOL.submit(self.decisions.record, decision).result(timeout=2)
        except Exception:  # the answer matters more than its record: log, never fail it
            logger.exception(
                "could not record the authorization decision",
                extra={"authorization_reference": reference},
            )
        logger.info("authorization decided", extra=decision)
