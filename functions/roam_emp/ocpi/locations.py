"""Locations module objects (mod_locations.asciidoc), with Roam OCPI's tariffs inlined on
connectors (FAQ "How are tariffs represented?")."""

from __future__ import annotations

from .common import BusinessDetails, DateTime, DisplayText, Image
from .enums import (
    OpenCapability,
    OpenConnectorFormat,
    OpenConnectorType,
    OpenFacility,
    OpenParkingRestriction,
    OpenParkingType,
    OpenPowerType,
    OpenStatus,
    OpenTokenType,
)
from .leniency import (
    OcpiModel,
    String2,
    String3,
    String4,
    String5,
    String10,
    String11,
    String16,
    String20,
    String36,
    String45,
    String48,
    String64,
    String255,
    Url,
)
from .tariffs import EnergyMix, Tariff


class GeoLocation(OcpiModel):
    latitude: String10
    longitude: String11


class AdditionalGeoLocation(OcpiModel):
    latitude: String10
    longitude: String11
    name: DisplayText | None = None


class RegularHours(OcpiModel):
    weekday: int
    period_begin: String5
    period_end: String5


class ExceptionalPeriod(OcpiModel):
    period_begin: DateTime
    period_end: DateTime


class Hours(OcpiModel):
    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None


class PublishTokenType(OcpiModel):
    uid: String36 | None = None
    type: OpenTokenType | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: String36 | None = None


class StatusSchedule(OcpiModel):
    period_begin: DateTime
    period_end: DateTime | None = None
    status: OpenStatus


class Connector(OcpiModel):
    id: String36
    standard: OpenConnectorType
    format: OpenConnectorFormat
    power_type: OpenPowerType
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    tariff_ids: list[String36] | None = None
    terms_and_conditions: Url | None = None
    # Roam OCPI extension: the connector's tariffs, inlined (each keeps its own last_updated).
    tariffs: list[Tariff] | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: String36
    evse_id: String48 | None = None
    status: OpenStatus
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[OpenCapability] | None = None
    connectors: list[Connector]
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[OpenParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class Location(OcpiModel):
    country_code: String2
    party_id: String3
    id: String36
    publish: bool
    publish_allowed_to: list[PublishTokenType] | None = None
    # Optional in OCPI 2.2.1; Roam OCPI delivers some locations without it (FAQ).
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: OpenParkingType | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[OpenFacility] | None = None
    time_zone: String255
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
