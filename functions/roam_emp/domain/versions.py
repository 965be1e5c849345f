"""What we offer on the version information endpoints. Only OCPI 2.2.1: Roam OCPI is exposed as
2.2.1 (FAQ "Which OCPI version is used?")."""

from __future__ import annotations

from ..ocpi.enums import VersionNumber
from ..ocpi.versions import Endpoint, Version, VersionDetails
from ..topology import OFFERED_ENDPOINTS, VERSION_PATH

VERSION = VersionNumber.V2_2_1.value


def versions_url(base_url: str) -> str:
    return f"{base_url}/ocpi/versions"


def our_versions(base_url: str) -> list[Version]:
    return [Version(version=VERSION, url=f"{base_url}{VERSION_PATH}")]


def our_version_details(base_url: str) -> VersionDetails:
    return VersionDetails(
        version=VERSION,
        endpoints=[
            Endpoint(identifier=e.identifier, role=e.role, url=f"{base_url}{e.path}")
            for e in OFFERED_ENDPOINTS
        ],
    )
