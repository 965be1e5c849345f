"""GET /admin/support?session_id=|cdr_id=|token_uid=[&type=RFID][&hours=48][&logs=false]: the support
bundle (JSON + text). ``hours`` widens or narrows the log search; ``logs=false`` skips it.

GET /admin/status: registration, the last full and delta pulls, queue and dead-letter depths, and
the stack's open alarms (``roam-emp status``)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.http import create_resolver, respond
from ..config import per_settings
from ..domain.status import StatusReport
from ..domain.support import SupportBundle, render_text
from ..ocpi.status import OcpiError, StatusCode
from ._runtime import http_entry

app = create_resolver()
bundle = per_settings(SupportBundle.from_settings)
report = per_settings(StatusReport.from_settings)
MAX_HOURS = 24 * 31  # Logs Insights bills by bytes scanned: a month is plenty for one case


@app.get("/admin/support")
def support() -> Response[str]:
    args = app.current_event.query_string_parameters or {}
    if not any(args.get(k) for k in ("session_id", "cdr_id", "token_uid")):
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS, "session_id, cdr_id or token_uid is required"
        )
    hours = args.get("hours")
    if hours is not None and not (hours.isdigit() and 1 <= int(hours) <= MAX_HOURS):
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS, f"hours must be a whole number from 1 to {MAX_HOURS}"
        )
    data = bundle().collect(
        session_id=args.get("session_id"),
        cdr_id=args.get("cdr_id"),
        token_uid=args.get("token_uid"),
        token_type=args.get("type", "RFID"),
        logs=args.get("logs", "true").lower() != "false",
        hours=int(hours) if hours else None,
    )
    return respond(app, {"fields": data, "text": render_text(data)})


@app.get("/admin/status")
def status() -> Response[str]:
    return respond(app, report().collect())


handler = http_entry(app)
