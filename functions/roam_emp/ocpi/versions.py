"""Version information endpoint objects (version_information_endpoint.asciidoc)."""

from __future__ import annotations

from .enums import OpenInterfaceRole, OpenModuleID
from .leniency import OcpiModel, String10, Url


class Version(OcpiModel):
    version: String10
    url: Url


class Endpoint(OcpiModel):
    identifier: OpenModuleID
    role: OpenInterfaceRole
    url: Url


class VersionDetails(OcpiModel):
    version: String10
    endpoints: list[Endpoint]

    def endpoint(self, identifier: str, role: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.identifier == identifier and e.role == role), None)
