"""Remote commands (FAQ "Which remote commands are supported?"): START_SESSION and STOP_SESSION go
to Plugsurfing with a ``response_url`` pointing at us; RESERVE_NOW, CANCEL_RESERVATION and
UNLOCK_CONNECTOR are not supported there, so we answer NOT_SUPPORTED ourselves without a call.

A start needs a token already pushed to Plugsurfing (FAQ "Tokens must be pushed before remote start
is initiated") and a location in our cache. The synchronous CommandResponse (result, timeout) is
stored; the CommandResult arrives later at our response_url (possibly before the CommandResponse is
stored: store/commands.py keeps both); with none by the timeout, the timer (CommandTimeouts, not a
reader) marks it TIMEOUT, and the ``CommandResultReceived`` event comes from the store either way.

A START_SESSION is checked against the cached location before anything goes to Plugsurfing
(mod_commands.asciidoc, StartSession; :func:`start_target`): a location we do not hold is 404 + 2003
(we cannot check it, and a start there could never be shown to the driver); a bad EVSE or connector
is 400 + 2001 naming the field. Ids match as CiStrings and are sent as the cache spells them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from ..config import Settings
from ..hub.errors import HubError
from ..hub.factory import hub_client
from ..ocpi.commands import CommandResponse, CommandResult, StartSession, StopSession
from ..ocpi.common import ci_equal
from ..ocpi.enums import CommandResponseType, CommandType
from ..ocpi.leniency import dump_outbound, parse_inbound
from ..ocpi.status import OcpiError, StatusCode
from ..ocpi.timestamps import format_timestamp, utcnow
from ..store.commands import CommandStore
from ..store.credentials import CredentialsVault
from ..store.locations import LocationCache
from ..store.registration import ConnectionStore
from ..store.tokens import PushState, TokenStore

NOT_SUPPORTED_BY_ROAM = {
    CommandType.RESERVE_NOW,
    CommandType.CANCEL_RESERVATION,
    CommandType.UNLOCK_CONNECTOR,
}
RESULT_GRACE_S = 5  # results may travel a little after the CPO's timeout
# A CPO that answers ACCEPTED without ``timeout`` (a spec breach in a required field) still accepted
# the command: we wait this long for its CommandResult before the timer says TIMEOUT.
DEFAULT_RESULT_TIMEOUT_S = 120


class StartRequest(BaseModel):
    token_uid: str = Field(min_length=1, max_length=36)
    token_type: str = "RFID"
    location_id: str = Field(min_length=1, max_length=36)
    evse_uid: str | None = Field(default=None, max_length=36)
    connector_id: str | None = Field(default=None, max_length=36)


def _refuse(message: str) -> OcpiError:
    return OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, message)


def start_target(start: StartRequest, location: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """The (location_id, evse_uid, connector_id) to send, as the cached location spells them,
    or OcpiError 2001 naming the field (mod_commands.asciidoc, StartSession; mod_locations.asciidoc,
    Capability and Status). Without ``evse_uid`` the CPO picks the EVSE (spec: "the Charge Point can
    itself decide"), so only a given EVSE is checked."""
    location_id = str(location.get("id") or start.location_id)
    if start.evse_uid is None:
        if start.connector_id is not None:
            # StartSession.evse_uid: "Required when connector_id is set."
            raise _refuse("evse_uid is required when connector_id is given (OCPI StartSession)")
        return location_id, None, None
    evse = next(
        (
            e
            for e in location.get("evses") or []
            if isinstance(e, dict) and isinstance(e.get("uid"), str) and ci_equal(e["uid"], start.evse_uid)
        ),
        None,
    )
    if evse is None:
        raise _refuse(f"evse_uid {start.evse_uid!r} is not an EVSE of location {location_id}")
    if evse.get("status") == "REMOVED":  # mod_locations Status: REMOVED, the EVSE no longer exists
        raise _refuse(f"evse_uid {start.evse_uid!r} is REMOVED")
    capabilities = evse.get("capabilities") or []
    if "REMOTE_START_STOP_CAPABLE" not in capabilities:
        raise _refuse(f"evse_uid {start.evse_uid!r} is not REMOTE_START_STOP_CAPABLE")
    if start.connector_id is None:
        if "START_SESSION_CONNECTOR_REQUIRED" in capabilities:
            # StartSession.connector_id: "required when the capability START_SESSION_CONNECTOR_REQUIRED
            # is set on the EVSE"
            raise _refuse(
                f"connector_id is required: evse_uid {start.evse_uid!r} has START_SESSION_CONNECTOR_REQUIRED"
            )
        return location_id, evse["uid"], None
    connector = next(
        (
            c
            for c in evse.get("connectors") or []
            if isinstance(c, dict) and isinstance(c.get("id"), str) and ci_equal(c["id"], start.connector_id)
        ),
        None,
    )
    if connector is None:
        raise _refuse(
            f"connector_id {start.connector_id!r} is not a connector of evse_uid {start.evse_uid!r}"
        )
    return location_id, evse["uid"], connector["id"]


class StopRequest(BaseModel):
    session_id: str = Field(min_length=1, max_length=36)


@dataclass
class CommandService:
    config: Settings
    store: CommandStore
    tokens: TokenStore
    locations: LocationCache
    connections: ConnectionStore
    vault: CredentialsVault
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))

    @classmethod
    def from_settings(cls, config: Settings) -> CommandService:
        return cls(
            config,
            CommandStore(config.commands_table),
            TokenStore(config.tokens_table),
            LocationCache(config.locations_table),
            ConnectionStore(config.state_table),
            CredentialsVault(config.credentials_secret, config.secret_cache_s),
        )

    def send(self, command: str, body: Any, base_url: str) -> dict[str, Any]:
        if command not in set(CommandType):
            raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, f"unknown command {command!r}")
        command_id = uuid.uuid4().hex
        record: dict[str, Any] = {
            "command_id": command_id,
            "command": command,
            "created_at": format_timestamp(utcnow()),
        }
        if command in NOT_SUPPORTED_BY_ROAM:
            self.store.create(record, "NOT_SUPPORTED")
            self.store.save_response(
                command_id, "NOT_SUPPORTED", response={"result": "NOT_SUPPORTED", "timeout": 0}
            )
            return self._read(command_id)
        response_url = f"{base_url}/ocpi/2.2.1/commands/{command}/{command_id}"
        request = self._request(command, body or {}, response_url)
        base = self.connections.get().endpoint_url("commands", "RECEIVER")
        if not base:
            raise OcpiError(StatusCode.CLIENT_ERROR, "not registered with Plugsurfing", http_status=409)
        record["request"] = request
        self.store.create(record, "SENDING")
        client = hub_client(self.config, lambda: self.vault.get().outbound)
        try:
            # Never sent twice on a 5xx: a second START_SESSION could start a second session.
            answer = client.request(
                "POST",
                f"{base.rstrip('/')}/{command}",
                json_body=request,
                idempotent=False,
                correlation_id=command_id,
            )
            response, _ = parse_inbound(CommandResponse, answer.data)
        except (HubError, ValueError) as error:
            self.store.save_response(command_id, "FAILED", error=str(error))
            raise OcpiError(
                StatusCode.UNABLE_TO_USE_CLIENT_API,
                f"Plugsurfing did not take the command: {error}",
                data=self._read(command_id),
            ) from error
        finally:
            client.close()
        accepted = response.result == CommandResponseType.ACCEPTED
        timeout_s = response.timeout if response.timeout is not None else DEFAULT_RESULT_TIMEOUT_S
        self.store.save_response(
            command_id,
            "ACCEPTED" if accepted else str(response.result),
            response=response.model_dump(mode="json", exclude_none=True),
            due_epoch_ms=self.clock_ms() + (timeout_s + RESULT_GRACE_S) * 1000 if accepted else None,
        )
        return self._read(command_id)

    def _read(self, command_id: str) -> dict[str, Any]:
        record = self.store.get(command_id)
        if record is None:  # we just wrote it: only a broken store gets here
            raise RuntimeError(f"command {command_id} vanished")
        return record

    def _request(self, command: str, body: dict[str, Any], response_url: str) -> dict[str, Any]:
        if command == CommandType.STOP_SESSION:
            stop = StopRequest.model_validate(body)
            return dump_outbound(StopSession(response_url=response_url, session_id=stop.session_id))
        start = StartRequest.model_validate(body)
        stored = self.tokens.get(start.token_type, start.token_uid)
        if stored is None:
            raise OcpiError(StatusCode.UNKNOWN_TOKEN, f"unknown token {start.token_type} {start.token_uid}")
        if stored.push_state is not PushState.PUSHED:
            raise OcpiError(
                StatusCode.CLIENT_ERROR,
                f"token {start.token_uid} is {stored.push_state.value}, not yet pushed to "
                "Plugsurfing: push it before a remote start",
                http_status=409,
            )
        location = self.locations.get(start.location_id, with_tariffs=False)
        if location is None:
            raise OcpiError(StatusCode.UNKNOWN_LOCATION, f"location {start.location_id} is not in the cache")
        location_id, evse_uid, connector_id = start_target(start, location)
        return dump_outbound(
            StartSession.model_validate(
                {
                    "response_url": response_url,
                    "token": stored.token,
                    "location_id": location_id,
                    "evse_uid": evse_uid,
                    "connector_id": connector_id,
                    "authorization_reference": uuid.uuid4().hex,
                }
            )
        )

    def receive_result(self, command: str, command_id: str, body: Any) -> bool:
        """Store the CPO's CommandResult; False for a resend of one we hold (answered 1000 too)."""
        result, _ = parse_inbound(CommandResult, body)
        stored = self.store.save_result(
            command_id, command, result.model_dump(mode="json", exclude_none=True)
        )
        if stored is None:
            raise OcpiError(
                StatusCode.CLIENT_ERROR, f"unknown command {command}/{command_id}", http_status=404
            )
        return stored

    def get(self, command_id: str) -> dict[str, Any]:
        record = self.store.get(command_id)
        if record is None:
            raise OcpiError(StatusCode.CLIENT_ERROR, f"unknown command {command_id}", http_status=404)
        return record

    def time_out_overdue(self) -> list[str]:
        """The timer: every command still without a result past its due time becomes TIMEOUT."""
        now = self.clock_ms()
        return [c for c in self.store.overdue(now) if self.store.time_out(c, now)]
