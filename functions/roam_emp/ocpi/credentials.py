"""Credentials module objects (credentials.asciidoc)."""

from __future__ import annotations

import re

from pydantic import field_validator

from .common import BusinessDetails
from .enums import OpenRole
from .leniency import OcpiModel, String2, String3, String64, Url

# credentials.asciidoc: "printable non-whitespace ASCII characters" (U+0021..U+007E).
_TOKEN_CHARS = re.compile(r"^[\x21-\x7e]+$")


class CredentialsRole(OcpiModel):
    role: OpenRole
    business_details: BusinessDetails
    party_id: String3
    country_code: String2


class Credentials(OcpiModel):
    token: String64
    url: Url
    roles: list[CredentialsRole]

    @field_validator("token")
    @classmethod
    def _printable_token(cls, value: str) -> str:
        # A token we cannot put into an Authorization header is unusable, not just a deviation.
        if not _TOKEN_CHARS.match(value):
            raise ValueError("token must be printable non-whitespace ASCII (U+0021..U+007E)")
        return value

    @field_validator("roles")
    @classmethod
    def _at_least_one_role(cls, value: list[CredentialsRole]) -> list[CredentialsRole]:
        if not value:
            raise ValueError("at least one role is required")
        return value
