"""The OCPI credentials tokens, kept in Secrets Manager and never in logs or plain tables.

One secret (JSON) holds the three tokens of the connection with Plugsurfing:

- ``inbound``: the token Plugsurfing presents to us (our token B or C, depending on who registered),
- ``token_a``: a token A we issued out of band for a Plugsurfing-initiated registration,
- ``outbound``: the token we present to Plugsurfing (its token A, then C; or its token B).

Reads are cached with Powertools parameters for ``secret_cache_s`` seconds. A token that does not
match the cached copy triggers a fresh read, so a rotated token works within
``FRESH_READ_INTERVAL_S``; an *old* token can be accepted by another warm Lambda for at most the
cache age (documented in README, Security). Fresh reads for a mismatch are bounded per process
(:meth:`CredentialsVault.recheck`): each wrong-token request used to cost one GetSecretValue call,
a cost and denial-of-service lever (issue 13).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
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

# At most one fresh read per secret per this many seconds for mismatching tokens (per process, so
# per warm Lambda): a rotated token waits at most this long, a flood of wrong tokens costs nothing.
FRESH_READ_INTERVAL_S = 5.0
_now = time.monotonic
_fresh_reads: dict[str, float] = {}
_fresh_lock = threading.Lock()


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

    def recheck(self) -> HubTokens:
        """The tokens after a presented token did not match the cached copy: a fresh read, unless
        this process made one less than ``FRESH_READ_INTERVAL_S`` ago (then the cached copy)."""
        with _fresh_lock:
            last = _fresh_reads.get(self.secret_name)
            due = last is None or _now() - last >= FRESH_READ_INTERVAL_S
            if due:
                _fresh_reads[self.secret_name] = _now()
        return self.get(fresh=due)

    def put(self, tokens: HubTokens) -> None:
        aws.secretsmanager().put_secret_value(
            SecretId=self.secret_name, SecretString=json.dumps(asdict(tokens))
        )
        # Our own process must see the new tokens at once (rotation, unregistration).
        _provider().clear_cache()  # type: ignore[no-untyped-call]
