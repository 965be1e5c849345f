"""GET /admin/support?session_id=|cdr_id=|token_uid=[&type=RFID]: the support bundle (JSON + text)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.http import create_resolver, respond
from ..config import per_settings
from ..domain.support import SupportBundle, render_text
from ..ocpi.status import OcpiError, StatusCode
from ._runtime import http_entry

app = create_resolver()
bundle = per_settings(SupportBundle.from_settings)


@app.get("/admin/support")
def support() -> Response[str]:
    args = app.current_event.query_string_parameters or {}
    if not any(args.get(k) for k in ("session_id", "cdr_id", "token_uid")):
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS, "session_id, cdr_id or token_uid is required"
        )
    data = bundle().collect(
        session_id=args.get("session_id"),
        cdr_id=args.get("cdr_id"),
        token_uid=args.get("token_uid"),
        token_type=args.get("type", "RFID"),
    )
    return respond(app, {"fields": data, "text": render_text(data)})


handler = http_entry(app)
