"""Build Powertools resolvers that speak OCPI: every answer is an envelope carrying the caller's
``X-Request-ID``/``X-Correlation-ID``; every failure is an OCPI status with the right HTTP status."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import ValidationException
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ..config import settings
from ..ocpi import jsondoc
from ..ocpi.envelope import envelope
from ..ocpi.leniency import describe_validation_error
from ..ocpi.status import OcpiError, StatusCode

logger = Logger(child=True)

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"


# The OCPI status of the answer being built, for the request's access line (set by ``respond``,
# the one place envelopes are made; a context variable, so concurrent local requests don't mix).
_answered: ContextVar[tuple[int, str | None] | None] = ContextVar("ocpi_answered", default=None)

# Bodies are logged at debug level only, and never where they carry credentials tokens
# (credentials module, our registration admin API).
_SECRET_BODY_PATHS = ("/credentials", "/admin/registration")


class Unauthorized(Exception):
    """No valid credentials token (answered 401, transport_and_format.asciidoc)."""


def header(app: APIGatewayRestResolver, name: str) -> str | None:
    headers = app.current_event.headers or {}
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _ids(app: APIGatewayRestResolver) -> dict[str, str]:
    bound = app.current_event.raw_event.get("_roam_ids")
    if bound:
        return dict(bound)
    request_id = header(app, REQUEST_ID) or str(uuid.uuid4())
    correlation_id = header(app, CORRELATION_ID) or request_id
    return {REQUEST_ID: request_id, CORRELATION_ID: correlation_id}


def respond(
    app: APIGatewayRestResolver,
    data: Any = None,
    *,
    status: StatusCode = StatusCode.SUCCESS,
    message: str | None = None,
    http_status: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """An OCPI envelope response echoing the request and correlation ids."""
    _answered.set((status.value, message))
    return Response(
        status_code=http_status if http_status is not None else status.http_status,
        content_type="application/json",
        body=json.dumps(envelope(data, status, message), separators=(",", ":")),
        headers={**_ids(app), **(headers or {})},
    )


def json_body(app: APIGatewayRestResolver) -> Any:
    """The request body as a JSON document: the one place inbound bodies are parsed (RFC 8259
    strictly, depth-bounded: ocpi/jsondoc.py); anything else is 400 + 2001."""
    raw = app.current_event.body
    if raw is None or not raw.strip():
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "request body is missing")
    try:
        return jsondoc.parse(raw)
    except jsondoc.JsonRefused as error:
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, f"request body: {error}") from error


def base_url(app: APIGatewayRestResolver) -> str:
    """Our public base URL: configured (custom domain) or the API Gateway stage URL."""
    configured = settings().public_base_url
    if configured:
        return configured
    ctx = app.current_event.request_context
    stage = ctx.stage
    return f"https://{ctx.domain_name}" + (f"/{stage}" if stage and stage != "$default" else "")


def _strict_json(raw: str) -> Any:
    """Powertools' body parser for validated routes: ours (RFC 8259 strictly, depth-bounded);
    a blank body is a missing one."""
    if not raw.strip():
        return None
    try:
        return jsondoc.parse(raw)
    except jsondoc.JsonRefused as error:
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, f"request body: {error}") from error


def describe_request_error(error: ValidationException) -> str:
    """Powertools' validation errors as one OCPI status message naming the fields (2001)."""
    parts = []
    for item in error.errors()[:5]:
        where, *field = item.get("loc") or ("request",)
        name = ".".join(str(p) for p in field) or ("request body" if where == "body" else str(where))
        message = "is missing" if item.get("type") == "missing" else str(item.get("msg", "is invalid"))
        parts.append(f"{name}: {message}")
    return "; ".join(parts)


def create_resolver(*, validation: bool = False) -> APIGatewayRestResolver:
    """An OCPI-speaking resolver. ``validation``: Powertools validates path, query and body
    parameters against the route function's annotations, the same annotations that generate the
    admin API's OpenAPI document (api/openapi.py); failures are 400 + 2001 like every bad input."""
    app = APIGatewayRestResolver(
        enable_validation=validation, json_body_deserializer=_strict_json if validation else None
    )

    # Parameters that fail validation, or a body in a content type we do not read: 400 + 2001.
    @app.exception_handler(ValidationException)
    def _invalid_parameters(error: ValidationException) -> Response[str]:
        message = describe_request_error(error)
        logger.info("invalid request", extra={"status_code": 2001, "status_message": message})
        return respond(app, status=StatusCode.INVALID_OR_MISSING_PARAMETERS, message=message)

    @app.exception_handler(OcpiError)
    def _ocpi_error(error: OcpiError) -> Response[str]:
        logger.info("ocpi error", extra={"status_code": int(error.status), "status_message": error.message})
        return respond(
            app, error.data, status=error.status, message=error.message, http_status=error.http_status
        )

    @app.exception_handler(ValidationError)
    def _invalid(error: ValidationError) -> Response[str]:
        message = describe_validation_error(error)
        logger.info("invalid request", extra={"status_code": 2001, "status_message": message})
        return respond(app, status=StatusCode.INVALID_OR_MISSING_PARAMETERS, message=message)

    @app.exception_handler(Unauthorized)
    def _unauthorized(error: Unauthorized) -> Response[str]:
        logger.warning("unauthorized", extra={"reason": str(error)})
        return respond(
            app,
            status=StatusCode.CLIENT_ERROR,
            message="Unauthorized: " + str(error),
            http_status=401,
            headers={"WWW-Authenticate": "Token"},
        )

    @app.exception_handler(Exception)
    def _server_error(error: Exception) -> Response[str]:
        # Storage or hub trouble: a clear 5xx so the sender retries (Plugsurfing resends CDRs
        # that did not get HTTP 200), never a half-told success.
        logger.exception("request failed", extra={"error": type(error).__name__})
        return respond(
            app,
            status=StatusCode.SERVER_ERROR,
            message=f"internal error ({type(error).__name__})",
            http_status=503,
        )

    @app.exception_handler(NotFoundError)
    def _not_found(_: NotFoundError) -> Response[str]:
        return respond(app, status=StatusCode.CLIENT_ERROR, message="no such endpoint", http_status=404)

    return app


Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def lambda_entry(app: APIGatewayRestResolver, root_logger: Logger) -> Handler:
    """The Lambda entry point for a resolver: binds OCPI ids to every log line, then routes."""

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
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
        response = app.resolve(event, context)
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
