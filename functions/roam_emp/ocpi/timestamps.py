"""OCPI timestamps (spec: types.asciidoc, DateTime).

Accepted: RFC 3339 with ``Z``, ``+00:00`` (or any offset, converted to UTC), or no zone at all
(which the spec defines as UTC), with 0 to 9 fractional digits (Python keeps microseconds, so
nanoseconds are truncated). Sent: always UTC with ``Z``, milliseconds only when non-zero, so the
result always fits the spec's string(25). Every failure is a ValueError (pydantic and the query
parameter checks turn it into 400 + 2001 naming the field).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TS = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(value: str | datetime) -> datetime:
    """Parse an OCPI DateTime into an aware UTC datetime; raise ValueError when unparseable."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError("timestamp must be a string")
    match = _TS.match(value.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value[:40]!r}")
    frac = (match["frac"] or "").ljust(6, "0")[:6]
    zone = match["zone"]
    if zone is None or zone in ("Z", "z"):
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}.{frac}{zone}")
        # An offset can carry a valid local time out of the representable years (0001-9999):
        # 9999-12-31T23:59:59-23:59 or 0001-01-01T00:00:00+01:00 (OverflowError, issue 13).
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"not a valid UTC instant: {value[:40]!r} ({error})") from None


def format_timestamp(value: datetime) -> str:
    """Format as the spec wants it sent: UTC, ``Z``, at most millisecond precision."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    base = utc.strftime("%Y-%m-%dT%H:%M:%S")
    millis = utc.microsecond // 1000
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


def utcnow() -> datetime:
    return datetime.now(UTC)
