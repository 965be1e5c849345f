"""POST /ocpi/2.2.1/commands/{command}/{command_id}: the CommandResult for a command we sent
(our response_url, mod_commands.asciidoc)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..api.auth import Scope, require
from ..api.http import create_resolver, json_body, lambda_entry, respond
from ..config import per_settings
from ..domain.commands import CommandService
from ._runtime import logger, with_metrics
from ._tracing import tracer

app = create_resolver()
service = per_settings(CommandService.from_settings)


@app.post("/ocpi/2.2.1/commands/<command>/<command_id>", middlewares=[require(Scope.CONNECTED)])
def command_result(command: str, command_id: str) -> Response[str]:
    logger.append_keys(command=command, command_id=command_id)
    service().receive_result(command, command_id, json_body(app))
    return respond(app)


_entry = lambda_entry(app, logger)


@with_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _entry(event, context)
