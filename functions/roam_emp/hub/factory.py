"""Build HubClients configured from Settings: one rate limiter shared through DynamoDB."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ..config import Settings
from .client import HubClient, RetryPolicy
from .rate_limit import HubRateLimiter


def rate_limiter(config: Settings) -> HubRateLimiter:
    return HubRateLimiter(
        config.state_table,
        per_minute=config.hub_requests_per_minute,
        per_day=config.hub_requests_per_day,
    )


def hub_client(
    config: Settings,
    token: str | Callable[[], str | None],
    *,
    http: httpx.Client | None = None,
    retry: RetryPolicy | None = None,
) -> HubClient:
    return HubClient(
        token=token,
        limiter=rate_limiter(config),
        timeout_s=config.hub_timeout_s,
        retry=retry or RetryPolicy(),
        http=http,
    )
