"""OCPI status codes (status_codes.asciidoc) and the HTTP status each one is answered with."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class StatusCode(IntEnum):
    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_OR_MISSING_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    UNABLE_TO_USE_CLIENT_API = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self]

    @property
    def is_success(self) -> bool:
        return 1000 <= self.value < 2000


# Client errors answer 4xx, server errors 5xx: Plugsurfing resends anything that is not HTTP 200
# (FAQ "What is the retry behavior of CDRs?"), so a 5xx is how we ask for a retry.
HTTP_STATUS: dict[StatusCode, int] = {
    StatusCode.SUCCESS: 200,
    StatusCode.CLIENT_ERROR: 400,
    StatusCode.INVALID_OR_MISSING_PARAMETERS: 400,
    StatusCode.NOT_ENOUGH_INFORMATION: 400,
    StatusCode.UNKNOWN_LOCATION: 404,
    StatusCode.UNKNOWN_TOKEN: 404,
    StatusCode.SERVER_ERROR: 500,
    StatusCode.UNABLE_TO_USE_CLIENT_API: 502,
    StatusCode.UNSUPPORTED_VERSION: 500,
    StatusCode.NO_MATCHING_ENDPOINTS: 500,
}


class OcpiError(Exception):
    """An error answered (or received) as an OCPI envelope with a non-success status_code."""

    def __init__(
        self,
        status: StatusCode,
        message: str,
        *,
        http_status: int | None = None,
        data: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.http_status = http_status if http_status is not None else status.http_status
        self.data = data
