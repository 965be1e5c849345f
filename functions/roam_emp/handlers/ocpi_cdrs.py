"""POST /ocpi/2.2.1/cdrs and GET /ocpi/2.2.1/cdrs/{cdr_id} (mod_cdrs.asciidoc, receiver
interface). Exactly HTTP 200 + 1000 once the two durable writes landed; any failure answers
non-200 so Plugsurfing resends (FAQ "What is the retry behavior of CDRs?"). A body we refuse is
archived before the 400 (domain/cdrs.py), so it can be reprocessed after a fix."""

from __future__ import annotations

from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response
from pydantic import ValidationError

from ..api.auth import Scope, require
from ..api.http import base_url, create_resolver, header, json_body, respond
from ..config import per_settings
from ..domain.cdrs import CdrService
from ..ocpi.leniency import describe_validation_error
from ..ocpi.status import OcpiError, StatusCode
from ..telemetry import report_deviations, support_keys
from ._runtime import http_entry, logger, metrics

app = create_resolver()
service = per_settings(CdrService.from_settings)


@app.post("/ocpi/2.2.1/cdrs", middlewares=[require(Scope.CONNECTED)])
def post_cdr() -> Response[str]:
    body = (app.current_event.body or "").encode("utf-8", "surrogatepass")
    protocol = header(app, "X-Original-Protocol")
    try:
        raw = json_body(app)
        if not isinstance(raw, dict):
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "body must be a CDR object")
        logger.thread_safe_append_keys(
            cdr_id=raw.get("id"), session_id=raw.get("session_id"), **support_keys(raw)
        )
        result = service().receive(raw, body, protocol)
    except (OcpiError, ValidationError) as refusal:  # the sender's problem, answered 400 + 2001
        reason = refusal.message if isinstance(refusal, OcpiError) else describe_validation_error(refusal)
        service().reject(body, reason, protocol)  # archived first: a failure here answers 503
        metrics.add_metric(name="CdrRejected", unit="Count", value=1)
        raise
    except Exception:
        # Not acknowledged: Plugsurfing resends it nightly, and this metric pages someone.
        metrics.add_metric(name="CdrStoreFailures", unit="Count", value=1)
        raise
    metrics.add_metric(name=f"Cdr_{result.outcome.value}", unit="Count", value=1)
    report_deviations(metrics, result.deviations, object_type="Cdr", object_id=result.cdr.id)
    # the id as a path segment: whatever it holds (CR/LF, /) cannot break the header
    location = f"{base_url(app)}/ocpi/2.2.1/cdrs/{quote(result.cdr.id, safe='')}"
    return respond(app, headers={"Location": location}, http_status=200)


@app.get("/ocpi/2.2.1/cdrs/<cdr_id>", middlewares=[require(Scope.CONNECTED)])
def get_cdr(cdr_id: str) -> Response[str]:
    stored = service().store.get(cdr_id)
    if stored is None:
        raise OcpiError(StatusCode.CLIENT_ERROR, f"unknown CDR {cdr_id}", http_status=404)
    return respond(app, stored["cdr"])


handler = http_entry(app)
