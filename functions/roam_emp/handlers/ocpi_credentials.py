"""GET/POST/PUT/DELETE /ocpi/2.2.1/credentials (credentials.asciidoc)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..api.auth import Scope, require
from ..api.http import base_url, create_resolver, json_body, lambda_entry, respond
from ..config import per_settings
from ..domain.registration import Registrar
from ..ocpi.credentials import Credentials
from ..ocpi.leniency import dump_outbound, parse_inbound
from ..telemetry import report_deviations
from ._runtime import logger, metrics, with_metrics
from ._tracing import tracer

app = create_resolver()


registrar = per_settings(Registrar.from_settings)


def _their_credentials() -> Credentials:
    credentials, deviations = parse_inbound(Credentials, json_body(app))
    report_deviations(metrics, deviations, object_type="Credentials", object_id=None)
    return credentials


@app.get("/ocpi/2.2.1/credentials", middlewares=[require(Scope.CONNECTED)])
def get_credentials() -> Response[str]:
    return respond(app, dump_outbound(registrar().current_credentials(base_url(app))))


@app.post("/ocpi/2.2.1/credentials", middlewares=[require(Scope.REGISTRATION)])
def post_credentials() -> Response[str]:
    ours = registrar().accept_registration(_their_credentials(), base_url(app))
    return respond(app, dump_outbound(ours))


@app.put("/ocpi/2.2.1/credentials", middlewares=[require(Scope.CONNECTED)])
def put_credentials() -> Response[str]:
    ours = registrar().accept_update(_their_credentials(), base_url(app))
    return respond(app, dump_outbound(ours))


@app.delete("/ocpi/2.2.1/credentials", middlewares=[require(Scope.CONNECTED)])
def delete_credentials() -> Response[str]:
    registrar().accept_unregister()
    return respond(app)


_entry = lambda_entry(app, logger)


@with_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _entry(event, context)
