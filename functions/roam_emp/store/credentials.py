"""The OCPI credentials tokens, kept in Secrets Manager and never in logs or plain tables.

One secret (JSON) holds the three tokens of the connection with Plugsurfing:

- ``inbound``: the token Plugsurfing presents to us (our token B or C, depending on who registered),
- ``token_a``: a token A we issued out of band for a Plugsurfing-initiated registration,
- ``outbound``: the token we present to Plugsurfing (its token A, then C; or its token B).

Reads are cached with Powertools parameters for ``secret_cache_s`` seconds. A token that does not
match the cached copy triggers one fresh read, so a rotated token works at once; an *old* token can
be accepted by another warm Lambda for at most that cache age (documented in README, Security).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools.utilities import parameters

from . import aws


@dataclass(frozen=True)
class HubTokens:
    inbound: str | None = None
    token_a: str | None = None
    outbound: str | None = None

    def __repr__(self) -> str:  # never let a token reach a log line through repr()
        return (
            f"HubTokens(inbound={'set' if self.inbound else None}, "
            f"token_a={'set' if self.token_a else None}, "
            f"outbound={'set' if self.outbound else None})"
        )


_shared: tuple[Any, parameters.SecretsProvider] | None = None


def _provider() -> parameters.SecretsProvider:
    """One Powertools provider (and cache) per process, rebuilt when the boto3 client is (local
    mode and tests point boto3 elsewhere): every vault in the process sees the same cache, so a
    rotation clears it for all of them."""
    global _shared
    client = aws.secretsmanager()
    if _shared is None or _shared[0] is not client:
        _shared = (client, parameters.SecretsProvider(boto3_client=client))
    return _shared[1]


def new_token() -> str:
    """A fresh credentials token: 43 URL-safe characters, printable ASCII, within string(64)."""
    return secrets.token_urlsafe(32)


class CredentialsVault:
    def __init__(self, secret_name: str, cache_seconds: int = 30) -> None:
        self.secret_name = secret_name
        self.cache_seconds = cache_seconds

    def get(self, *, fresh: bool = False) -> HubTokens:
        raw = _provider().get(self.secret_name, max_age=self.cache_seconds, force_fetch=fresh)
        data = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
        return HubTokens(
            inbound=data.get("inbound"), token_a=data.get("token_a"), outbound=data.get("outbound")
        )

    def put(self, tokens: HubTokens) -> None:
        aws.secretsmanager().put_secret_value(
            SecretId=self.secret_name, SecretString=json.dumps(asdict(tokens))
        )
        # Our own process must see the new tokens at once (rotation, unregistration).
        _provider().clear_cache()  # type: ignore[no-untyped-call]
