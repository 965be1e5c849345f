"""ISO 3166-1 alpha-2 to alpha-3 for the countries of Roam OCPI's footprint (Europe and its
neighbours). Location.country is alpha-3 in OCPI; operators think in alpha-2 (DE, NL, ...)."""

from __future__ import annotations

ALPHA2_TO_ALPHA3: dict[str, str] = {
    "AD": "AND",
    "AL": "ALB",
    "AT": "AUT",
    "BA": "BIH",
    "BE": "BEL",
    "BG": "BGR",
    "BY": "BLR",
    "CH": "CHE",
    "CY": "CYP",
    "CZ": "CZE",
    "DE": "DEU",
    "DK": "DNK",
    "EE": "EST",
    "ES": "ESP",
    "FI": "FIN",
    "FO": "FRO",
    "FR": "FRA",
    "GB": "GBR",
    "GI": "GIB",
    "GR": "GRC",
    "HR": "HRV",
    "HU": "HUN",
    "IE": "IRL",
    "IS": "ISL",
    "IT": "ITA",
    "LI": "LIE",
    "LT": "LTU",
    "LU": "LUX",
    "LV": "LVA",
    "MC": "MCO",
    "MD": "MDA",
    "ME": "MNE",
    "MK": "MKD",
    "MT": "MLT",
    "NL": "NLD",
    "NO": "NOR",
    "PL": "POL",
    "PT": "PRT",
    "RO": "ROU",
    "RS": "SRB",
    "SE": "SWE",
    "SI": "SVN",
    "SK": "SVK",
    "SM": "SMR",
    "TR": "TUR",
    "UA": "UKR",
    "VA": "VAT",
    "XK": "XKX",
    "US": "USA",
    "CA": "CAN",
    "AU": "AUS",
    "NZ": "NZL",
    "JP": "JPN",
    "MA": "MAR",
    "IL": "ISR",
}


def to_alpha3(country: str) -> str | None:
    """Alpha-3 for an alpha-2 or alpha-3 code; None when an alpha-2 code is not in the table."""
    code = country.strip().upper()
    if len(code) == 3:
        return code
    return ALPHA2_TO_ALPHA3.get(code)
