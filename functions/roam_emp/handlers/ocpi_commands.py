"""POST /ocpi/2.2.1/commands/{command}/{command_id}: the CommandResult for a command we sent
(our response_url, mod_commands.asciidoc)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.auth import Scope, require
from ..api.http import create_resolver, json_body, respond
from ..config import per_settings
from ..domain.commands import CommandService
from ._runtime import http_entry, logger

app = create_resolver()
service = per_settings(CommandService.from_settings)


@app.post("/ocpi/2.2.1/commands/<command>/<command_id>", middlewares=[require(Scope.CONNECTED)])
def command_result(command: str, command_id: str) -> Response[str]:
    logger.thread_safe_append_keys(command=command, command_id=command_id)
    if not service().receive_result(command, command_id, json_body(app)):
        logger.info("CommandResult resent; the first one stands")
    return respond(app)


handler = http_entry(app)
