"""OCPI answers to API Gateway REST (v1 proxy) events, without a Powertools resolver.

Every HTTP function shares this: the caller's ``X-Request-ID``/``X-Correlation-ID`` bound to every
log line and echoed on every answer, one access line per request, the envelope, and what each
failure is answered with (an OCPI status with the right HTTP status). ``api.http`` builds the
Powertools resolvers of most functions on it; the authorize function (Plugsurfing waits 1-10 s for
it, FAQ "How does real-time authorization work?") answers its one route with this module alone,
because the resolver package's import was the largest part of its cold start that answering does
not need (issue 11, docs/performance.md).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from ..ocpi.response import envelope
from ..ocpi.status import OcpiError, StatusCode

logger = Logger(child=True)

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"

# The OCPI status of the answer being built, for the request's access line (set where envelopes
# are made; a context variable, so concurrent local requests don't mix).
_answered: ContextVar[tuple[int, str | None] | None] = ContextVar("ocpi_answered", default=None)

# Bodies are logged at debug level only, and never where they carry credentials tokens
# (credentials module, our registration admin API).
_SECRET_BODY_PATHS = ("/credentials", "/admin/registration")

Event = dict[str, Any]
Handler = Callable[[Event, Any], Event]


class Unauthorized(Exception):
    """No valid credentials token (answered 401, transport_and_format.asciidoc)."""


def header_value(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A request header, whatever its case (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    return next((v for k, v in (headers or {}).items() if k.lower() == wanted), None)


def request_ids(event: Event) -> dict[str, str]:
    """The ids echoed on the answer: those bound by :func:`lambda_entry`, else the caller's (a
    correlation id defaults to the request id; a missing request id is made up)."""
    bound = event.get("_roam_ids")
    if bound:
        return dict(bound)
    headers = event.get("headers")
    request_id = header_value(headers, REQUEST_ID) or str(uuid.uuid4())
    correlation_id = header_value(headers, CORRELATION_ID) or request_id
    return {REQUEST_ID: request_id, CORRELATION_ID: correlation_id}


def envelope_body(status: StatusCode, data: Any = None, message: str | None = None) -> str:
    """The answer's body, recorded for the access line: the one place envelopes are made."""
    _answered.set((status.value, message))
    return json.dumps(envelope(data, status, message), separators=(",", ":"))


@dataclass(frozen=True)
class Failure:
    """What a request that went wrong is answered with."""

    status: StatusCode
    message: str
    http_status: int
    headers: dict[str, str] = field(default_factory=dict)
    data: Any = None


NOT_FOUND = Failure(StatusCode.CLIENT_ERROR, "no such endpoint", 404)


def failure(error: Exception) -> Failure:
    """The answer to an exception raised while answering (logged here, once)."""
    if isinstance(error, OcpiError):
        logger.info("ocpi error", extra={"status_code": int(error.status), "status_message": error.message})
        return Failure(error.status, error.message, error.http_status, data=error.data)
    if isinstance(error, Unauthorized):
        logger.warning("unauthorized", extra={"reason": str(error)})
        return Failure(
            StatusCode.CLIENT_ERROR, "Unauthorized: " + str(error), 401, {"WWW-Authenticate": "Token"}
        )
    # Storage or hub trouble: a clear 5xx so the sender retries (Plugsurfing resends CDRs that did
    # not get HTTP 200), never a half-told success.
    logger.exception("request failed", extra={"error": type(error).__name__})
    return Failure(StatusCode.SERVER_ERROR, f"internal error ({type(error).__name__})", 503)


def proxy_response(
    event: Event,
    data: Any = None,
    *,
    status: StatusCode = StatusCode.SUCCESS,
    message: str | None = None,
    http_status: int | None = None,
    headers: dict[str, str] | None = None,
) -> Event:
    """An OCPI envelope as an API Gateway proxy response, in the shape Powertools' REST resolver
    answers (``multiValueHeaders``, JSON content type last)."""
    body = envelope_body(status, data, message)
    every = {**request_ids(event), **(headers or {}), "Content-Type": "application/json"}
    return {
        "statusCode": http_status if http_status is not None else status.http_status,
        "body": body,
        "isBase64Encoded": False,
        "multiValueHeaders": {name: [value] for name, value in every.items()},
    }


def failure_response(event: Event, failed: Failure) -> Event:
    return proxy_response(
        event,
        failed.data,
        status=failed.status,
        message=failed.message,
        http_status=failed.http_status,
        headers=failed.headers,
    )


def lambda_entry(dispatch: Handler, root_logger: Logger) -> Handler:
    """The Lambda entry point of an HTTP function: binds the OCPI ids to every log line, answers
    with ``dispatch``, then writes the request's access line."""

    def handler(event: Event, context: Any) -> Event:
        started = time.perf_counter()
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        request_id = headers.get("x-request-id") or str(uuid.uuid4())
        correlation_id = headers.get("x-correlation-id") or request_id
        event["_roam_ids"] = {REQUEST_ID: request_id, CORRELATION_ID: correlation_id}
        path = str(event.get("path") or "")
        root_logger.thread_safe_append_keys(
            x_request_id=request_id,
            x_correlation_id=correlation_id,
            request_method=event.get("httpMethod"),
            request_path=path,
            x_original_protocol=headers.get("x-original-protocol"),
        )
        if root_logger.log_level <= logging.DEBUG and not any(p in path for p in _SECRET_BODY_PATHS):
            root_logger.debug("request body", extra={"body": event.get("body")})
        _answered.set(None)
        response = dispatch(event, context)
        ocpi_status, ocpi_message = _answered.get() or (None, None)
        # One access line per request: what Plugsurfing's support asks for about a call.
        root_logger.info(
            "ocpi request",
            extra={
                "http_status": response.get("statusCode"),
                "status_code": ocpi_status,
                "status_message": ocpi_message,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    return handler
