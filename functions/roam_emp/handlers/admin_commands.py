"""Admin API for remote commands: POST /admin/commands/{START_SESSION|STOP_SESSION|...} sends one,
GET /admin/commands/{command_id} shows its state (SENDING, ACCEPTED, REJECTED, a CommandResult's
result, TIMEOUT, NOT_SUPPORTED, FAILED)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel

from ..api.http import base_url, create_resolver, respond
from ..api.openapi import answers
from ..config import per_settings
from ..domain.commands import CommandService
from ..ocpi.enums import CommandType
from ._runtime import http_entry

app = create_resolver(validation=True)
TAGS = ["commands"]


class CommandRequest(BaseModel, extra="allow"):
    """START_SESSION: token_uid, location_id[, evse_uid, connector_id]; STOP_SESSION: session_id
    (domain/commands.py checks what each command needs)."""

    token_uid: str | None = None
    location_id: str | None = None
    evse_uid: str | None = None
    connector_id: str | None = None
    session_id: str | None = None


service = per_settings(CommandService.from_settings)


@app.post(
    "/admin/commands/<command>",
    summary="Send a command to Plugsurfing (START_SESSION, STOP_SESSION, ...)",
    tags=TAGS,
    responses=answers(dict[str, Any], "the command, as sent", errors=(400, 404, 502)),
)
def send_command(
    command: Annotated[CommandType, Path(description="OCPI CommandType")],
    request: Annotated[CommandRequest | None, Body()] = None,
) -> Response[str]:
    body = request.model_dump(exclude_none=True) if request else {}
    return respond(app, service().send(command.value, body, base_url(app)))


@app.get(
    "/admin/commands/<command>",
    summary="A command's state (SENDING, ACCEPTED, REJECTED, a CommandResult, TIMEOUT, ...)",
    tags=TAGS,
    responses=answers(dict[str, Any], "the command", errors=(404,)),
)
def get_command(command: Annotated[str, Path(description="the command_id")]) -> Response[str]:
    return respond(app, service().get(command))  # here the path segment is the command id


handler = http_entry(app)
