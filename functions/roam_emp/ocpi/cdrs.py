"""CDRs module objects (mod_cdrs.asciidoc)."""

from __future__ import annotations

from .common import DateTime, Number, Price
from .enums import OpenAuthMethod, OpenConnectorFormat, OpenConnectorType, OpenPowerType
from .leniency import (
    OcpiModel,
    String2,
    String3,
    String10,
    String20,
    String32,
    String36,
    String39,
    String45,
    String48,
    String255,
    String512,
    String5000,
)
from .locations import GeoLocation
from .sessions import CdrToken, ChargingPeriod
from .tariffs import Tariff


class CdrLocation(OcpiModel):
    id: String36
    name: String255 | None = None
    # Plugsurfing allows up to 200 characters here and 50 for postal_code (spec: 45 and 10):
    # kept and reported as deviations, never refused (a lost CDR is lost revenue).
    address: String45
    city: String45
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3
    coordinates: GeoLocation
    evse_uid: String36
    evse_id: String48
    connector_id: String36
    connector_standard: OpenConnectorType
    connector_format: OpenConnectorFormat
    connector_power_type: OpenPowerType


class SignedValue(OcpiModel):
    nature: String32
    plain_data: String512
    signed_data: String5000


class SignedData(OcpiModel):
    encoding_method: String36
    encoding_method_version: int | None = None
    public_key: String512 | None = None
    signed_values: list[SignedValue]
    url: String512 | None = None


class Cdr(OcpiModel):
    country_code: String2
    party_id: String3
    id: String39
    start_date_time: DateTime
    end_date_time: DateTime
    # Equal to the CDR id whenever there is a session (FAQ "Is the CDR ID always the same...").
    session_id: String36 | None = None
    cdr_token: CdrToken
    auth_method: OpenAuthMethod
    authorization_reference: String36 | None = None
    cdr_location: CdrLocation
    meter_id: String255 | None = None
    currency: String3
    tariffs: list[Tariff] | None = None
    charging_periods: list[ChargingPeriod]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String255 | None = None
    invoice_reference_id: String39 | None = None
    # Credit CDRs are not supported by Roam OCPI (FAQ): stored flagged when they appear.
    credit: bool | None = None
    credit_reference_id: String39 | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime
