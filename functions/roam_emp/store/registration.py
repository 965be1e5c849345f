"""The state of our OCPI connection with Plugsurfing, in the state table (no secrets here)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from ..ocpi.common import DateTime
from ..ocpi.credentials import CredentialsRole
from ..ocpi.timestamps import utcnow
from ..ocpi.versions import Endpoint
from . import aws

_KEY = {"pk": {"S": "CONNECTION"}, "sk": {"S": "PLUGSURFING"}}


class ConnectionStatus(StrEnum):
    UNREGISTERED = "UNREGISTERED"
    REGISTERED = "REGISTERED"


class Initiator(StrEnum):
    EMSP = "EMSP"  # we ran `roam-emp register` with Plugsurfing's token A
    HUB = "HUB"  # Plugsurfing registered with us using a token A we issued


class Connection(BaseModel):
    status: ConnectionStatus = ConnectionStatus.UNREGISTERED
    initiator: Initiator | None = None
    version: str | None = None
    versions_url: str | None = None
    endpoints: list[Endpoint] = Field(default_factory=list)
    # Plugsurfing answers as one CPO role, DE/8PS (FAQ "What do we receive during the
    # Credentials handshake?"); the real operators arrive later through Locations.
    hub_roles: list[CredentialsRole] = Field(default_factory=list)
    registered_at: DateTime | None = None
    updated_at: DateTime | None = None

    def endpoint_url(self, identifier: str, role: str) -> str | None:
        return next((e.url for e in self.endpoints if e.identifier == identifier and e.role == role), None)

    def summary(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ConnectionStore:
    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self) -> Connection:
        item = aws.dynamodb().get_item(TableName=self.table_name, Key=_KEY, ConsistentRead=True)
        doc = item.get("Item", {}).get("doc", {}).get("S")
        return Connection.model_validate_json(doc) if doc else Connection()

    def put(self, connection: Connection) -> Connection:
        stamped = connection.model_copy(update={"updated_at": utcnow()})
        aws.dynamodb().put_item(
            TableName=self.table_name,
            Item={**_KEY, "doc": {"S": stamped.model_dump_json(exclude_none=True)}},
        )
        return stamped


def registered_now(
    *,
    initiator: Initiator,
    versions_url: str,
    version: str,
    endpoints: list[Endpoint],
    roles: list[CredentialsRole],
    since: datetime | None = None,
) -> Connection:
    return Connection(
        status=ConnectionStatus.REGISTERED,
        initiator=initiator,
        version=version,
        versions_url=versions_url,
        endpoints=endpoints,
        hub_roles=roles,
        registered_at=since or utcnow(),
    )
