"""GET /ocpi/versions and GET /ocpi/2.2.1 (version_information_endpoint.asciidoc)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..api.auth import Scope, require
from ..api.http import base_url, create_resolver, lambda_entry, respond
from ..domain.versions import our_version_details, our_versions
from ..ocpi.leniency import dump_outbound
from ._runtime import logger, with_metrics
from ._tracing import tracer

app = create_resolver()
# Token A may call these during a Plugsurfing-initiated registration (credentials.asciidoc).
_auth = [require(Scope.REGISTRATION)]


@app.get("/ocpi/versions", middlewares=_auth)
def get_versions() -> Response[str]:
    return respond(app, [dump_outbound(v) for v in our_versions(base_url(app))])


@app.get("/ocpi/2.2.1", middlewares=_auth)
def get_version_details() -> Response[str]:
    return respond(app, dump_outbound(our_version_details(base_url(app))))


_entry = lambda_entry(app, logger)


@with_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _entry(event, context)
