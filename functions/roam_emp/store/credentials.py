"""The OCPI credentials tokens, kept in Secrets Manager and never in logs or plain tables.

One secret (JSON) holds the three tokens of the connection with Plugsurfing:

- ``inbound``: the token Plugsurfing presents to us (our token B or C, depending on who registered),
- ``token_a``: a token A we issued out of band for a Plugsurfing-initiated registration,
- ``outbound``: the token we present to Plugsurfing (its token A, then C; or its token B).

Reads are cached per process for ``secret_cache_s`` seconds (a dozen lines here rather than
Powertools ``parameters``, whose import loads boto3, s3transfer and AppConfig's client code on the
authorize path's cold start: issue 11). A token that does not
match the cached copy triggers a fresh read, so a rotated token works within
``FRESH_READ_INTERVAL_S``; an *old* token can be accepted by another warm Lambda for at most the
cache age (documented in docs/security.md). Fresh reads for a mismatch are bounded per process
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


# One cache per process (secret name -> (read at, SecretString)), dropped when the client is
# replaced (local mode and tests point botocore elsewhere): every vault in the process sees the same
# cache, so a rotation clears it for all of them.
_cache: dict[str, tuple[float, str]] = {}
_cache_client: Any = None
_cache_lock = threading.Lock()

# At most one fresh read per secret per this many seconds for mismatching tokens (per process, so
# per warm Lambda): a rotated token waits at most this long, a flood of wrong tokens costs nothing.
FRESH_READ_INTERVAL_S = 5.0
_now = time.monotonic
_fresh_reads: dict[str, float] = {}
_fresh_lock = threading.Lock()


def _read_secret(name: str, max_age_s: float, fresh: bool) -> str:
    global _cache_client
    client = aws.secretsmanager()
    with _cache_lock:
        if _cache_client is not client:
            _cache.clear()
            _cache_client = client
        cached = _cache.get(name)
    if cached is not None and not fresh and time.monotonic() - cached[0] < max_age_s:
        return cached[1]
    value = client.get_secret_value(SecretId=name).get("SecretString", "")
    with _cache_lock:
        _cache[name] = (time.monotonic(), value)
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def new_token() -> str:
    """A fresh credentials token: 43 URL-safe characters, printable ASCII, within string(64)."""
    return secrets.token_urlsafe(32)


class CredentialsVault:
    def __init__(self, secret_name: str, cache_seconds: int = 30) -> None:
        self.secret_name = secret_name
        self.cache_seconds = cache_seconds

    def get(self, *, fresh: bool = False) -> HubTokens:
        raw = _read_secret(self.secret_name, self.cache_seconds, fresh)
        data = json.loads(raw) if raw.strip() else {}
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
        clear_cache()
