"""Remote commands (FAQ "Which remote commands are supported?"): START_SESSION and STOP_SESSION go
to Plugsurfing with a ``response_url`` pointing at us; RESERVE_NOW, CANCEL_RESERVATION and
UNLOCK_CONNECTOR are not supported there, so we answer NOT_SUPPORTED ourselves without a call.

A start needs a token already pushed to Plugsurfing (FAQ "Tokens must be pushed before remote start
is initiated") and a location in our cache. The synchronous CommandResponse (result, timeout) is
stored; the CommandResult arrives later at our response_url (possibly before the CommandResponse is
stored: store/commands.py keeps both); with none by the timeout, the timer (CommandTimeouts, not a
reader) marks it TIMEOUT, and the ``CommandResultReceived`` event comes from the store either way.
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
        if self.locations.country_of(start.location_id) is None:
            raise OcpiError(StatusCode.UNKNOWN_LOCATION, f"location {start.location_id} is not in the cache")
        return dump_outbound(
            StartSession.model_validate(
                {
                    "response_url": response_url,
                    "token": stored.token,
                    "location_id": start.location_id,
                    "evse_uid": start.evse_uid,
                    "connector_id": start.connector_id,
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
