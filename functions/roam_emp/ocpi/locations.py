"""Locations module objects (mod_locations.asciidoc), with Roam OCPI's tariffs inlined on
connectors (FAQ "How are tariffs represented?").

Lenient per location, not per page (issue 10; FAQ on Plugsurfing's relaxed validation): an optional
part that is malformed (``opening_times`` without ``twentyfourseven``, a ``related_locations`` name
that is a list, an EVSE with ``connectors: null``...) is left out of the validated model and counted
as a ``malformed_optional`` deviation; the location is kept and its raw JSON stored as received.
What keys or orders a location (ids, ``last_updated``) and what indexes it (country, party) is
still required."""

from __future__ import annotations

from typing import Annotated

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
    dropped_if_malformed,
)
from .tariffs import EnergyMix, Tariff


class GeoLocation(OcpiModel):
    latitude: String10
    longitude: String11


class AdditionalGeoLocation(OcpiModel):
    latitude: String10
    longitude: String11
    name: Annotated[DisplayText | None, dropped_if_malformed()] = None


class RegularHours(OcpiModel):
    weekday: int
    period_begin: String5
    period_end: String5


class ExceptionalPeriod(OcpiModel):
    period_begin: DateTime
    period_end: DateTime


class Hours(OcpiModel):
    twentyfourseven: bool
    regular_hours: Annotated[list[RegularHours] | None, dropped_if_malformed()] = None
    exceptional_openings: Annotated[list[ExceptionalPeriod] | None, dropped_if_malformed()] = None
    exceptional_closings: Annotated[list[ExceptionalPeriod] | None, dropped_if_malformed()] = None


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
    max_electric_power: Annotated[int | None, dropped_if_malformed()] = None
    tariff_ids: Annotated[list[String36] | None, dropped_if_malformed()] = None
    terms_and_conditions: Annotated[Url | None, dropped_if_malformed()] = None
    # Roam OCPI extension: the connector's tariffs, inlined (each keeps its own last_updated).
    tariffs: Annotated[list[Tariff] | None, dropped_if_malformed()] = None
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: String36
    evse_id: Annotated[String48 | None, dropped_if_malformed()] = None
    status: OpenStatus
    status_schedule: Annotated[list[StatusSchedule] | None, dropped_if_malformed()] = None
    capabilities: Annotated[list[OpenCapability] | None, dropped_if_malformed()] = None
    # list(1..*) in the spec, but `connectors: null` must not lose the location (issue 10).
    connectors: Annotated[list[Connector], dropped_if_malformed([])]
    floor_level: Annotated[String4 | None, dropped_if_malformed()] = None
    coordinates: Annotated[GeoLocation | None, dropped_if_malformed()] = None
    physical_reference: Annotated[String16 | None, dropped_if_malformed()] = None
    directions: Annotated[list[DisplayText] | None, dropped_if_malformed()] = None
    parking_restrictions: Annotated[list[OpenParkingRestriction] | None, dropped_if_malformed()] = None
    images: Annotated[list[Image] | None, dropped_if_malformed()] = None
    last_updated: DateTime


class Location(OcpiModel):
    country_code: String2
    party_id: String3
    id: String36
    publish: bool
    publish_allowed_to: Annotated[list[PublishTokenType] | None, dropped_if_malformed()] = None
    # Optional in OCPI 2.2.1; Roam OCPI delivers some locations without it (FAQ).
    name: Annotated[String255 | None, dropped_if_malformed()] = None
    address: String45
    city: String45
    postal_code: Annotated[String10 | None, dropped_if_malformed()] = None
    state: Annotated[String20 | None, dropped_if_malformed()] = None
    country: String3
    coordinates: GeoLocation
    related_locations: Annotated[list[AdditionalGeoLocation] | None, dropped_if_malformed()] = None
    parking_type: Annotated[OpenParkingType | None, dropped_if_malformed()] = None
    evses: Annotated[list[EVSE] | None, dropped_if_malformed()] = None
    directions: Annotated[list[DisplayText] | None, dropped_if_malformed()] = None
    operator: Annotated[BusinessDetails | None, dropped_if_malformed()] = None
    suboperator: Annotated[BusinessDetails | None, dropped_if_malformed()] = None
    owner: Annotated[BusinessDetails | None, dropped_if_malformed()] = None
    facilities: Annotated[list[OpenFacility] | None, dropped_if_malformed()] = None
    time_zone: String255
    opening_times: Annotated[Hours | None, dropped_if_malformed()] = None
    charging_when_closed: Annotated[bool | None, dropped_if_malformed()] = None
    images: Annotated[list[Image] | None, dropped_if_malformed()] = None
    energy_mix: Annotated[EnergyMix | None, dropped_if_malformed()] = None
    last_updated: DateTime
