"""Build Powertools resolvers that speak OCPI: every answer is an envelope carrying the caller's
``X-Request-ID``/``X-Correlation-ID``; every failure is an OCPI status with the right HTTP status."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import ValidationException
from pydantic import ValidationError

from ..config import settings
from ..ocpi import jsondoc
from ..ocpi.leniency import describe_validation_error
from ..ocpi.status import OcpiError, StatusCode
from . import rest
from .rest import CORRELATION_ID as CORRELATION_ID
from .rest import REQUEST_ID as REQUEST_ID
from .rest import Handler as Handler
from .rest import Unauthorized as Unauthorized

logger = Logger(child=True)


def header(app: APIGatewayRestResolver, name: str) -> str | None:
    return rest.header_value(app.current_event.headers, name)


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
    return Response(
        status_code=http_status if http_status is not None else status.http_status,
        content_type="application/json",
        body=rest.envelope_body(status, data, message),
        headers={**rest.request_ids(app.current_event.raw_event), **(headers or {})},
    )


def _fail(app: APIGatewayRestResolver, failed: rest.Failure) -> Response[str]:
    return respond(
        app,
        failed.data,
        status=failed.status,
        message=failed.message,
        http_status=failed.http_status,
        headers=failed.headers,
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

    # Our own failures (OCPI errors, no credentials, anything unexpected): api/rest.py says how
    # each is answered, the same for every function.
    @app.exception_handler([OcpiError, Unauthorized, Exception])
    def _failed(error: Exception) -> Response[str]:
        return _fail(app, rest.failure(error))

    @app.exception_handler(ValidationError)
    def _invalid(error: ValidationError) -> Response[str]:
        message = describe_validation_error(error)
        logger.info("invalid request", extra={"status_code": 2001, "status_message": message})
        return respond(app, status=StatusCode.INVALID_OR_MISSING_PARAMETERS, message=message)

    @app.exception_handler(NotFoundError)
    def _not_found(_: NotFoundError) -> Response[str]:
        return _fail(app, rest.NOT_FOUND)

    return app


def lambda_entry(app: APIGatewayRestResolver, root_logger: Logger) -> Handler:
    """The Lambda entry point for a resolver: binds OCPI ids to every log line, then routes."""
    return rest.lambda_entry(app.resolve, root_logger)
