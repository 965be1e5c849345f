"""Commands module objects (mod_commands.asciidoc). Roam OCPI supports START_SESSION and
STOP_SESSION only (FAQ "Which remote commands are supported?")."""

from __future__ import annotations

from .common import DisplayText
from .enums import OpenCommandResponseType, OpenCommandResultType
from .leniency import OcpiModel, String36, Url
from .tokens import Token


class StartSession(OcpiModel):
    response_url: Url
    token: Token
    location_id: String36
    evse_uid: String36 | None = None
    connector_id: String36 | None = None
    authorization_reference: String36 | None = None


class StopSession(OcpiModel):
    response_url: Url
    session_id: String36


class CommandResponse(OcpiModel):
    result: OpenCommandResponseType
    # Required by the spec, but a CPO that answers ACCEPTED without it has still accepted the
    # command (lenient inbound): domain/commands.py waits DEFAULT_RESULT_TIMEOUT_S then.
    timeout: int | None = None
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    result: OpenCommandResultType
    message: list[DisplayText] | None = None
