"""Shared OCPI types (types.asciidoc): CiString keys, DateTime, number, DisplayText, Price,
BusinessDetails, Image."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

from .enums import OpenImageCategory
from .leniency import OcpiModel, String2, String4, String100, String512, Url
from .timestamps import format_timestamp, parse_timestamp

# types.asciidoc, CiString: "Case Insensitive String. Only printable ASCII allowed." Ids of that type
# (token uids, location, EVSE, session and CDR ids, country_code, party_id) match whatever their
# case, so every store keys them by :func:`ci_key` and keeps the spelling received in the document
# (and in everything we send). The mapping is ASCII-only on purpose: CiString is ASCII, and
# ``str.upper``/``casefold`` would also fold non-ASCII text we keep leniently (``"ß"`` becomes
# ``"SS"``), merging ids Plugsurfing holds apart. Upper case because eMI3-style ids and our
# contract_id key (ocpi/contract_id.py) are upper case already, so most keys read as sent.
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ci_key(value: str) -> str:
    """The key of a CiString: ASCII letters upper-cased, everything else as it is."""
    return value.translate(_ASCII_UPPER)


def ci_equal(a: str | None, b: str | None) -> bool:
    """Whether two CiStrings are the same id (None only equals None)."""
    if a is None or b is None:
        return a is b
    return ci_key(a) == ci_key(b)


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
