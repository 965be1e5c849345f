"""Admin API for remote commands: POST /admin/commands/{START_SESSION|STOP_SESSION|...} sends one,
GET /admin/commands/{command_id} shows its state (SENDING, ACCEPTED, REJECTED, a CommandResult's
result, TIMEOUT, NOT_SUPPORTED, FAILED)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..api.http import base_url, create_resolver, json_body, lambda_entry, respond
from ..config import per_settings
from ..domain.commands import CommandService
from ._runtime import logger, with_metrics
from ._tracing import tracer

app = create_resolver()
service = per_settings(CommandService.from_settings)


@app.post("/admin/commands/<command>")
def send_command(command: str) -> Response[str]:
    body = json_body(app) if (app.current_event.body or "").strip() else {}
    return respond(app, service().send(command, body, base_url(app)))


@app.get("/admin/commands/<command>")
def get_command(command: str) -> Response[str]:
    return respond(app, service().get(command))  # here the path segment is the command id


_entry = lambda_entry(app, logger)


@with_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _entry(event, context)
