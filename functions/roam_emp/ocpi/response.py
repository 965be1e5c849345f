"""The body of every OCPI response we answer (transport_and_format.asciidoc, "Response format"),
without pydantic: the authorize path builds it on a cold start (issue 11). ``ocpi.envelope`` holds
the models that parse envelopes we receive, and re-exports :func:`envelope`."""

from __future__ import annotations

from typing import Any

from .status import StatusCode
from .timestamps import format_timestamp, utcnow


def envelope(
    data: Any = None,
    status: StatusCode = StatusCode.SUCCESS,
    message: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": int(status), "timestamp": format_timestamp(utcnow())}
    if data is not None:
        body["data"] = data
    body["status_message"] = message or ("Success" if status.is_success else status.name)
    return body
