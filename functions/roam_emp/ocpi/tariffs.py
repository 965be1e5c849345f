"""Tariffs module objects (mod_tariffs.asciidoc). Roam OCPI inlines tariffs on connectors (FAQ
"How are tariffs represented?") and tariffs are immutable per id (FAQ "How should partners treat
tariff IDs?")."""

from __future__ import annotations

from .common import DateTime, DisplayText, Number, Price
from .enums import (
    OpenDayOfWeek,
    OpenEnergySourceCategory,
    OpenEnvironmentalImpactCategory,
    OpenReservationRestrictionType,
    OpenTariffDimensionType,
    OpenTariffType,
)
from .leniency import OcpiModel, String2, String3, String5, String10, String36, String64, Url


class EnergySource(OcpiModel):
    source: OpenEnergySourceCategory
    percentage: Number


class EnvironmentalImpact(OcpiModel):
    category: OpenEnvironmentalImpactCategory
    amount: Number


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class PriceComponent(OcpiModel):
    type: OpenTariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: int


class TariffRestrictions(OcpiModel):
    start_time: String5 | None = None
    end_time: String5 | None = None
    start_date: String10 | None = None
    end_date: String10 | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[OpenDayOfWeek] | None = None
    reservation: OpenReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    price_components: list[PriceComponent]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    country_code: String2
    party_id: String3
    id: String36
    currency: String3
    type: OpenTariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: Url | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: list[TariffElement]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
