"""Admin API for remote commands: POST /admin/commands/{START_SESSION|STOP_SESSION|...} sends one,
GET /admin/commands/{command_id} shows its state (SENDING, ACCEPTED, REJECTED, a CommandResult's
result, TIMEOUT, NOT_SUPPORTED, FAILED)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.http import base_url, create_resolver, json_body, respond
from ..config import per_settings
from ..domain.commands import CommandService
from ._runtime import http_entry

app = create_resolver()
service = per_settings(CommandService.from_settings)


@app.post("/admin/commands/<command>")
def send_command(command: str) -> Response[str]:
    body = json_body(app) if (app.current_event.body or "").strip() else {}
    return respond(app, service().send(command, body, base_url(app)))


@app.get("/admin/commands/<command>")
def get_command(command: str) -> Response[str]:
    return respond(app, service().get(command))  # here the path segment is the command id


handler = http_entry(app)
