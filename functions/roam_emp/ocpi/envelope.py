"""The OCPI response envelope (transport_and_format.asciidoc, "Response format"): the models that
parse the envelopes we receive; :func:`envelope` (the bodies we answer) lives in ``ocpi.response``."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from .common import DateTime
from .response import envelope as envelope

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
