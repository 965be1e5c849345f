"""PUT/PATCH/GET /ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id} (mod_sessions.asciidoc,
receiver interface)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.auth import Scope, require
from ..api.http import create_resolver, header, json_body, respond
from ..config import per_settings
from ..domain.sessions import SessionResult, SessionService
from ..telemetry import report_deviations, support_keys
from ._runtime import http_entry, logger, metrics

app = create_resolver()
service = per_settings(SessionService.from_settings)
PATH = "/ocpi/2.2.1/sessions/<country_code>/<party_id>/<session_id>"
_auth = [require(Scope.CONNECTED)]


def _answer(result: SessionResult, session_id: str) -> Response[str]:
    if not result.applied:
        # An applied PUT or PATCH is one OcpiSessions invocation (Lambda's Invocations, free): a
        # metric of its own would be a billed custom metric saying the same (issue 11), and an
        # EMF line on every request's log. An ignored, out-of-order one is news.
        metrics.add_metric(name="SessionUpdatesIgnored", unit="Count", value=1)
    report_deviations(metrics, result.deviations, object_type="Session", object_id=session_id)
    return respond(app, message=None if result.applied else "older than the stored session: ignored")


@app.route(PATH, method=["PUT", "PATCH"], middlewares=_auth)
def put_or_patch_session(country_code: str, party_id: str, session_id: str) -> Response[str]:
    body = json_body(app)
    logger.thread_safe_append_keys(
        **support_keys(body) | {"session_id": session_id, "cpo": f"{country_code}*{party_id}"}
    )
    apply = service().put if app.current_event.http_method == "PUT" else service().patch
    result = apply(country_code, party_id, session_id, body, header(app, "X-Original-Protocol"))
    return _answer(result, session_id)


@app.get(PATH, middlewares=_auth)
def get_session(country_code: str, party_id: str, session_id: str) -> Response[str]:
    return respond(app, service().get(country_code, party_id, session_id))


handler = http_entry(app)
