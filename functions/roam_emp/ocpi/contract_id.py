"""contract_id forms (eMI3 / ISO 15118 EMAID): Roam OCPI normalizes what CPOs send to a dashed
form, ``DE8PSABCDEFGHI1`` -> ``DE-8PS-ABCDEFGHI-1`` (FAQ "Why does contract_id come back in a
different format"), and does not keep the original. Every lookup by contract_id goes through
:func:`contract_key`, which maps the normalized and the original forms to one key."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s*\-]")


def contract_key(contract_id: str) -> str:
    """The comparison key: upper case, without separators."""
    return _SEPARATORS.sub("", contract_id).upper()


def normalize(contract_id: str) -> str:
    """Plugsurfing's dashed form: country (2), provider (3), instance (9), check digit (0-1)."""
    key = contract_key(contract_id)
    if len(key) in (14, 15) and key.isalnum():
        parts = [key[:2], key[2:5], key[5:14]] + ([key[14:]] if len(key) == 15 else [])
        return "-".join(parts)
    return contract_id


def prefix(contract_id: str) -> str:
    """Country + provider, e.g. ``DE8PS``: what must be registered with Plugsurfing (FAQ "Can
    partners have multiple contract_id prefixes?")."""
    return contract_key(contract_id)[:5]
