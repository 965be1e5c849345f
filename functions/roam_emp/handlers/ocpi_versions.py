"""GET /ocpi/versions and GET /ocpi/2.2.1 (version_information_endpoint.asciidoc)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.auth import Scope, require
from ..api.http import base_url, create_resolver, respond
from ..domain.versions import our_version_details, our_versions
from ..ocpi.leniency import dump_outbound
from ._runtime import http_entry

app = create_resolver()
# Token A may call these during a Plugsurfing-initiated registration (credentials.asciidoc).
_auth = [require(Scope.REGISTRATION)]


@app.get("/ocpi/versions", middlewares=_auth)
def get_versions() -> Response[str]:
    return respond(app, [dump_outbound(v) for v in our_versions(base_url(app))])


@app.get("/ocpi/2.2.1", middlewares=_auth)
def get_version_details() -> Response[str]:
    return respond(app, dump_outbound(our_version_details(base_url(app))))


handler = http_entry(app)
