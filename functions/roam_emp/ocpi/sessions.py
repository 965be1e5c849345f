"""Sessions module objects (mod_sessions.asciidoc). Roam OCPI pushes sessions; its PATCHes carry
incremental kWh, status and last_updated but no charging periods (FAQ "How are Sessions
delivered")."""

from __future__ import annotations

from .common import DateTime, Number, Price
from .enums import OpenAuthMethod, OpenCdrDimensionType, OpenSessionStatus, OpenTokenType
from .leniency import OcpiModel, String2, String3, String36, String255


class CdrToken(OcpiModel):
    country_code: String2
    party_id: String3
    uid: String36
    type: OpenTokenType
    # Roam OCPI normalizes contract_id (DE8PSABCDEFGHI1 -> DE-8PS-ABCDEFGHI-1, FAQ).
    contract_id: String36


class CdrDimension(OcpiModel):
    type: OpenCdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    start_date_time: DateTime
    dimensions: list[CdrDimension]
    tariff_id: String36 | None = None


class Session(OcpiModel):
    country_code: String2
    party_id: String3
    id: String36
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: OpenAuthMethod
    # Missing for offline starts and for sessions from OCPI 2.1.1 CPOs (FAQ "Can anything be
    # missing from CDRs?").
    authorization_reference: String36 | None = None
    location_id: String36
    evse_uid: String36
    connector_id: String36
    meter_id: String255 | None = None
    currency: String3
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: OpenSessionStatus
    last_updated: DateTime
