"""The OCPI response envelope (transport_and_format.asciidoc, "Response format")."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from .common import DateTime
from .status import StatusCode
from .timestamps import format_timestamp, utcnow

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """What every OCPI response body looks like; ``data`` is typed by the caller."""

    model_config = ConfigDict(extra="allow", defer_build=True)  # parsed off the hot paths only

    data: T | None = None
    status_code: int
    status_message: str | None = None
    timestamp: DateTime


class RawEnvelope(Envelope[Any]):
    """An envelope whose data is parsed later (lists are validated item by item, so one bad
    object does not sink the page)."""


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
