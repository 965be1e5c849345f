"""GET /admin/support?session_id=|cdr_id=|token_uid=[&type=RFID][&hours=48][&logs=false]: the support
bundle (JSON + text). ``hours`` widens or narrows the log search; ``logs=false`` skips it.

GET /admin/status: registration, the last full and delta pulls, queue and dead-letter depths, and
the stack's open alarms (``roam-emp status``)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel

from ..api.http import create_resolver, respond
from ..api.openapi import answers
from ..config import per_settings
from ..domain.status import Status, StatusReport
from ..domain.support import SupportBundle, render_text
from ..ocpi.enums import TokenType
from ..ocpi.status import OcpiError, StatusCode
from ._runtime import http_entry

app = create_resolver(validation=True)
bundle = per_settings(SupportBundle.from_settings)
report = per_settings(StatusReport.from_settings)
MAX_HOURS = 24 * 31  # Logs Insights bills by bytes scanned: a month is plenty for one case


class Bundle(BaseModel):
    fields: dict[str, Any]  # Plugsurfing's support fields, from our store and our logs
    text: str  # the same, ready to paste into a ticket


@app.get(
    "/admin/support",
    summary="The fields Plugsurfing's support asks for about a session, CDR or token",
    tags=["support"],
    responses=answers(Bundle, "the bundle"),
)
def support(
    session_id: Annotated[str | None, Query()] = None,
    cdr_id: Annotated[str | None, Query()] = None,
    token_uid: Annotated[str | None, Query()] = None,
    type: Annotated[TokenType, Query(description="token type (with token_uid)")] = TokenType.RFID,
    hours: Annotated[
        int | None, Query(ge=1, le=MAX_HOURS, description="search the logs of the last N hours (default 48)")
    ] = None,
    logs: Annotated[bool, Query(description="false: our store only, no log search")] = True,
) -> Response[str]:
    if not any((session_id, cdr_id, token_uid)):
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS, "session_id, cdr_id or token_uid is required"
        )
    data = bundle().collect(
        session_id=session_id,
        cdr_id=cdr_id,
        token_uid=token_uid,
        token_type=type.value,
        logs=logs,
        hours=hours,
    )
    return respond(app, {"fields": data, "text": render_text(data)})


@app.get(
    "/admin/status",
    summary="Registration, last full and delta pulls, queue and dead-letter depths, open alarms",
    tags=["status"],
    responses=answers(Status, "the status", errors=()),
)
def status() -> Response[str]:
    return respond(app, report().collect())


handler = http_entry(app)
