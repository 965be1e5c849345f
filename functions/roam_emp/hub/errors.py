"""Typed failures of calls to Plugsurfing. Each carries the HTTP status and, when the hub sent an
envelope, its OCPI status_code and status_message."""

from __future__ import annotations


class HubError(Exception):
    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        http_status: int | None = None,
        ocpi_status: int | None = None,
        ocpi_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.http_status = http_status
        self.ocpi_status = ocpi_status
        self.ocpi_message = ocpi_message

    def __str__(self) -> str:
        parts = [self.args[0] if self.args else type(self).__name__]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.ocpi_status is not None:
            parts.append(f"OCPI {self.ocpi_status} {self.ocpi_message or ''}".rstrip())
        return " | ".join(parts)


class HubUnauthorized(HubError):
    """401/403: our outbound token is wrong, rotated or revoked."""


class HubRateLimited(HubError):
    """429 persisted through every retry (Plugsurfing sends no Retry-After, FAQ)."""


class HubUnavailable(HubError):
    """5xx, timeouts or connection errors persisted through every retry allowed for the call."""


class HubRejected(HubError):
    """The hub answered, but refused: a 4xx or an OCPI status_code outside 1xxx."""


class HubProtocolError(HubError):
    """The hub's answer is not an OCPI envelope we can read."""


class RateBudgetExhausted(HubError):
    """Our own shared limiter refused to send: the minute or day budget is spent."""
