"""CiString keys (types.asciidoc, CiString), without pydantic: the authorize path keys its two
reads by them and imports nothing of the OCPI models (issue 11, docs/performance.md)."""

from __future__ import annotations

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
