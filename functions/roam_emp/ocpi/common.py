"""Shared OCPI types (types.asciidoc): CiString keys (defined in ``cistring``, re-exported here),
DateTime, number, DisplayText, Price, BusinessDetails, Image."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

from .cistring import ci_equal as ci_equal
from .cistring import ci_key as ci_key
from .enums import OpenImageCategory
from .leniency import OcpiModel, String2, String4, String100, String512, Url
from .timestamps import format_timestamp, parse_timestamp


def _number_to_json(value: Decimal) -> int | float:
    # JSON numbers, not strings: integral values as int, others as float.
    return int(value) if value == value.to_integral_value() else float(value)


DateTime = Annotated[
    datetime,
    BeforeValidator(parse_timestamp),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]
# Decimal keeps money and kWh exact (the CDR cost check recomputes totals).
Number = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    PlainSerializer(_number_to_json, return_type=float, when_used="json"),
]


class DisplayText(OcpiModel):
    language: String2
    text: String512


class Price(OcpiModel):
    excl_vat: Number
    incl_vat: Number | None = None


class Image(OcpiModel):
    url: Url
    thumbnail: Url | None = None
    category: OpenImageCategory
    type: String4
    width: int | None = None
    height: int | None = None


class BusinessDetails(OcpiModel):
    name: String100
    website: Url | None = None
    logo: Image | None = None
