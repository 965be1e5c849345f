"""Build HubClients configured from Settings: one rate limiter shared through DynamoDB; a client
whose token comes from our credentials secret re-reads it once on a 401 (hub/client.py).

Calls are interactive unless said otherwise (``share=Share.BULK``): only bulk work leaves the
interactive reserve of every minute untouched (hub/rate_limit.py)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ..config import Settings
from ..store.credentials import CredentialsVault
from .client import HubClient, RetryPolicy
from .rate_limit import HubRateLimiter, Limiter, Share


def rate_limiter(config: Settings, share: Share = Share.INTERACTIVE) -> HubRateLimiter:
    return HubRateLimiter(
        config.state_table,
        per_minute=config.hub_requests_per_minute,
        per_day=config.hub_requests_per_day,
        share=share,
        # cdk.json validation keeps the reserve below the budget; a local override of the budget
        # alone (HUB_REQUESTS_PER_MINUTE) must not make every call to Plugsurfing fail.
        reserve=min(config.hub_interactive_reserve_per_minute, config.hub_requests_per_minute - 1),
    )


def hub_client(
    config: Settings,
    token: str | Callable[[], str | None],
    *,
    http: httpx.Client | None = None,
    retry: RetryPolicy | None = None,
    share: Share = Share.INTERACTIVE,
    limiter: Limiter | None = None,
) -> HubClient:
    """``token``: a fixed token (registration: Plugsurfing's token A or B), or a callable reading
    our outbound token from the secret (every other call), which is then re-read on a 401.
    ``limiter``: instead of the shared one for ``share`` (tests, benches)."""
    return HubClient(
        token=token,
        limiter=limiter or rate_limiter(config, share),
        timeout_s=config.hub_timeout_s,
        retry=retry or RetryPolicy(),
        http=http,
        refresh_token=_fresh_outbound(config) if callable(token) else None,
    )


def _fresh_outbound(config: Settings) -> Callable[[], str | None]:
    """A fresh read also refreshes the process's secret cache for every other vault."""

    def read() -> str | None:
        return CredentialsVault(config.credentials_secret, config.secret_cache_s).get(fresh=True).outbound

    return read
