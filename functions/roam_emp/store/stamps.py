"""Timestamps in the forms we order and range by. OCPI strings are never compared as such:
``…:00Z`` and ``…:00.500Z`` are the same second, and ``'.' < 'Z'`` puts the later one first
(types.asciidoc, DateTime: fractional seconds are optional). Conditions compare :func:`epoch_us`
(a DynamoDB number); sort keys, which our index definitions keep as strings, use the fixed-width
:func:`sortable` form, whose string order is time order."""

from __future__ import annotations

from datetime import UTC, datetime

from ..ocpi.timestamps import parse_timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(value: datetime | str) -> int:
    """Microseconds since the Unix epoch (UTC): exact for every stamp Python can hold."""
    delta = parse_timestamp(value) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def sortable(value: datetime | str) -> str:
    """UTC, always six fractional digits: ``2026-06-01T12:00:00.500000Z``."""
    return parse_timestamp(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
