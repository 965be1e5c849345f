"""Tokens module objects (mod_tokens.asciidoc)."""

from __future__ import annotations

from .common import DateTime, DisplayText
from .enums import OpenAllowedType, OpenProfileType, OpenTokenType, OpenWhitelistType
from .leniency import OcpiModel, String2, String3, String36, String64


class EnergyContract(OcpiModel):
    supplier_name: String64
    contract_id: String64 | None = None


class Token(OcpiModel):
    country_code: String2
    party_id: String3
    uid: String36
    type: OpenTokenType
    contract_id: String36
    visual_number: String64 | None = None
    issuer: String64
    group_id: String36 | None = None
    valid: bool
    whitelist: OpenWhitelistType
    language: String2 | None = None
    default_profile_type: OpenProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    location_id: String36
    evse_uids: list[String36] | None = None


class AuthorizationInfo(OcpiModel):
    allowed: OpenAllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: String36 | None = None
    info: DisplayText | None = None
