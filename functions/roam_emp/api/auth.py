"""Inbound OCPI token authentication (transport_and_format.asciidoc, "Authorization header").

Route middlewares: ``require(Scope.CONNECTED)`` accepts only the token Plugsurfing received from us
during registration; ``require(Scope.REGISTRATION)`` also accepts a token A we issued, which the
spec allows for the versions endpoints and the credentials POST only. After DELETE (unregister)
neither exists, so every call gets 401.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from ..config import per_settings
from ..ocpi.auth_header import matches
from ..store.credentials import CredentialsVault, HubTokens
from .rest import Unauthorized, header_value

if TYPE_CHECKING:  # the authorize function checks tokens without loading Powertools' resolvers
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware


class Scope(StrEnum):
    CONNECTED = "connected"
    REGISTRATION = "registration"


vault = per_settings(lambda config: CredentialsVault(config.credentials_secret, config.secret_cache_s))


def _accepted(tokens: HubTokens, presented: str | None, scope: Scope) -> bool:
    ok = matches(presented, tokens.inbound)
    if scope is Scope.REGISTRATION:
        ok |= matches(presented, tokens.token_a)
    return ok


def authenticate(presented: str | None, scope: Scope) -> None:
    if not presented:
        raise Unauthorized("missing Authorization header")
    store = vault()
    if _accepted(store.get(), presented, scope):
        return
    # The token may have been rotated since our cached copy: a fresh read, bounded per process.
    if _accepted(store.recheck(), presented, scope):
        return
    raise Unauthorized("invalid credentials token")


def require(scope: Scope) -> Callable[[APIGatewayRestResolver, NextMiddleware], Response[str]]:
    def middleware(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[str]:
        authenticate(header_value(app.current_event.headers, "Authorization"), scope)
        return next_middleware(app)

    return middleware
