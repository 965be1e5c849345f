"""GET/POST/PUT/DELETE /ocpi/2.2.1/credentials (credentials.asciidoc)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.auth import Scope, require
from ..api.http import base_url, create_resolver, json_body, respond
from ..config import per_settings
from ..domain.registration import Registrar
from ..ocpi.credentials import Credentials
from ..ocpi.leniency import dump_outbound, parse_inbound
from ..telemetry import report_deviations
from ._runtime import http_entry, metrics

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


handler = http_entry(app)
