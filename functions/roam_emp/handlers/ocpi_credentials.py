"""GET/POST/PUT/DELETE /ocpi/2.2.1/credentials (credentials.asciidoc).

PUT and DELETE before registration: credentials.asciidoc answers 405 ("if the client has not been
registered yet"). A client not registered yet can only hold a token A we issued, so a caller
presenting our token A gets 405 + 2000; anyone else gets 401, as on every other endpoint (we do
not tell an unauthenticated caller whether we are registered). Once registered, only the token
Plugsurfing received from us opens PUT/DELETE.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.auth import Scope, authenticate, require
from ..api.http import base_url, create_resolver, header, json_body, respond
from ..config import per_settings
from ..domain.registration import Registrar
from ..ocpi.credentials import Credentials
from ..ocpi.leniency import dump_outbound, parse_inbound
from ..ocpi.status import OcpiError, StatusCode
from ..store.registration import ConnectionStatus
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


def _registered_caller() -> None:
    """After require(Scope.REGISTRATION): 405 before registration, the connected token after."""
    if registrar().status().status is not ConnectionStatus.REGISTERED:
        raise OcpiError(StatusCode.CLIENT_ERROR, "not registered", http_status=405)
    authenticate(header(app, "Authorization"), Scope.CONNECTED)


@app.put("/ocpi/2.2.1/credentials", middlewares=[require(Scope.REGISTRATION)])
def put_credentials() -> Response[str]:
    _registered_caller()
    ours = registrar().accept_update(_their_credentials(), base_url(app))
    return respond(app, dump_outbound(ours))


@app.delete("/ocpi/2.2.1/credentials", middlewares=[require(Scope.REGISTRATION)])
def delete_credentials() -> Response[str]:
    _registered_caller()
    registrar().accept_unregister()
    return respond(app)


handler = http_entry(app)
