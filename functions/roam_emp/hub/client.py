"""One client for every call to Plugsurfing (Roam OCPI).

- ``Authorization: Token <base64>``, a fresh ``X-Request-ID`` per attempt and one
  ``X-Correlation-ID`` per logical operation (transport_and_format.asciidoc).
- Every attempt first takes a unit from the shared rate limiter (FAQ "Rate limiting").
- 429 carries no Retry-After (FAQ "Are rate-limit backoff headers returned?"): back off with capped,
  full jitter and retry. 5xx, timeouts and connection errors are retried the same way only when the
  call is idempotent (GET, PUT, DELETE); a POST or PATCH is never sent twice by us.
- The envelope is unwrapped; a non-1xxx ``status_code`` becomes a typed :class:`HubRejected`.
- A 401 is answered once with a fresh read of our outbound token and one more try, when the
  client knows where to read it (``refresh_token``): Plugsurfing may have rotated the credentials
  (PUT) while this process still holds the old token in its cache (up to ``secret_cache_s``).
  A 401 means the call was not processed, so even a POST may be sent again.
- Pagination follows the ``Link: <...>; rel="next"`` URL exactly as given: it carries Plugsurfing's
  ``smart_paging`` cursor, so offsets are never computed here (FAQ "How does Location pagination
  work?").
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from ..ocpi.auth_header import encode_token
from ..ocpi.envelope import RawEnvelope
from ..ocpi.leniency import DeviationLog, parse_inbound
from .errors import (
    HubError,
    HubProtocolError,
    HubRateLimited,
    HubRejected,
    HubUnauthorized,
    HubUnavailable,
)
from .rate_limit import Limiter

logger = Logger(child=True)
# Powertools keeps one metric set per process: these land with the invoking function's metrics.
metrics = Metrics(namespace="RoamEmp")


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


M = TypeVar("M", bound=BaseModel)

_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 8.0

    def delay(self, attempt: int) -> float:
        """Full jitter (uniform between 0 and the capped exponential step)."""
        return random.uniform(0, min(self.cap_s, self.base_s * (2**attempt)))


# For calls made while an inbound request waits (API Gateway gives us 29 s at most): fewer
# attempts, shorter pauses.
INTERACTIVE_RETRY = RetryPolicy(max_attempts=3, base_s=0.25, cap_s=1.0)


_MAY_OVERFLOW = re.compile(rb"[0-9.][eE]\+?[0-9]{3}|[0-9]{309}")


@dataclass
class HubResponse:
    url: str
    http_status: int
    envelope: RawEnvelope
    headers: httpx.Headers
    request_id: str
    correlation_id: str
    # The body held NaN or ±Infinity (parsed as floats): see store/locations.py finite_numbers().
    non_finite_numbers: bool = False

    @property
    def data(self) -> Any:
        return self.envelope.data

    @property
    def next_url(self) -> str | None:
        """The next page's URL from the Link header, untouched (it carries smart_paging)."""
        link = self.headers.get("link")
        return parse_next_link(link) if link else None

    @property
    def total_count(self) -> int | None:
        value = self.headers.get("x-total-count")
        return int(value) if value and value.isdigit() else None


def parse_next_link(header: str) -> str | None:
    """RFC 8288: ``<url>; rel="next"`` (several links may be comma-separated)."""
    for part in _split_links(header):
        url_part, _, params = part.partition(";")
        url_part = url_part.strip()
        if not (url_part.startswith("<") and url_part.endswith(">")):
            continue
        rels = [
            p.split("=", 1)[1].strip().strip('"').lower()
            for p in params.split(";")
            if p.strip().lower().startswith("rel=")
        ]
        if any("next" in rel.split() for rel in rels):
            return url_part[1:-1]
    return None


def _split_links(header: str) -> list[str]:
    # Commas may appear inside <...> (query strings), so split only outside angle brackets.
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in header:
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass
class HubClient:
    token: str | Callable[[], str | None]
    limiter: Limiter
    timeout_s: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    http: httpx.Client | None = None
    user_agent: str = "roam-emp/0.1"
    # The latest attempts (method, url, HTTP status or None): bounded, as a client lives as long as
    # its container (one per Lambda instance for token pushes).
    attempts: deque[tuple[str, str, int | None]] = field(
        default_factory=lambda: deque(maxlen=100), repr=False
    )
    # A fresh read of the outbound token (bypassing any cache), used once after a 401.
    refresh_token: Callable[[], str | None] | None = field(default=None, repr=False)
    _refreshed: str | None = field(default=None, repr=False)
    _sent: str | None = field(default=None, repr=False)

    def _http(self) -> httpx.Client:
        if self.http is None:
            self.http = httpx.Client(timeout=self.timeout_s, follow_redirects=False)
        return self.http

    def _token(self) -> str:
        token = self._refreshed or (self.token() if callable(self.token) else self.token)
        if not token:
            raise HubUnauthorized("no outbound credentials token: register with Plugsurfing first")
        return token

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool | None = None,
        correlation_id: str | None = None,
    ) -> HubResponse:
        method = method.upper()
        retry_server_errors = method in _IDEMPOTENT if idempotent is None else idempotent
        correlation_id = correlation_id or str(uuid.uuid4())
        body = None if json_body is None else json.dumps(json_body, separators=(",", ":"))
        try:
            return self._send(method, url, body, params, retry_server_errors, correlation_id)
        except HubUnauthorized as error:
            # Once per call (the retry below is outside this handler), not once per client: a client
            # lives as long as its container and must follow every later rotation too.
            if error.http_status != 401 or self.refresh_token is None:
                raise
            fresh = self.refresh_token()
            if not fresh or fresh == self._sent:
                raise  # the token we sent is the current one: a re-read cannot help
            self._refreshed = fresh
            _count("Hub401TokenReread")
            logger.info(
                "hub answered 401: outbound token re-read (rotated), one more try",
                extra={"method": method, "url": url, "outbound_x_correlation_id": correlation_id},
            )
            return self._send(method, url, body, params, retry_server_errors, correlation_id)

    def _send(
        self,
        method: str,
        url: str,
        body: str | None,
        params: dict[str, str] | None,
        retry_server_errors: bool,
        correlation_id: str,
    ) -> HubResponse:
        last_error: HubError | None = None
        for attempt in range(self.retry.max_attempts):
            if attempt:
                self.sleep(self.retry.delay(attempt - 1))
            self.limiter.acquire()
            request_id = str(uuid.uuid4())
            self._sent = self._token()
            headers = {
                "Authorization": encode_token(self._sent),
                "X-Request-ID": request_id,
                "X-Correlation-ID": correlation_id,
                "User-Agent": self.user_agent,
                "Accept": "application/json",
            }
            if body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = self._http().request(method, url, content=body, params=params, headers=headers)
            except httpx.TransportError as error:  # timeouts, refused connections, resets
                self.attempts.append((method, url, None))
                _count("HubTransportErrors")
                last_error = HubUnavailable(f"{type(error).__name__} calling {method} {url}", url=url)
                logger.warning(
                    "hub call failed",
                    extra={
                        "method": method,
                        "url": url,
                        "error": type(error).__name__,
                        "attempt": attempt + 1,
                        "outbound_x_request_id": request_id,
                        "outbound_x_correlation_id": correlation_id,
                    },
                )
                if not retry_server_errors:
                    raise last_error from error
                continue
            status = response.status_code
            self.attempts.append((method, url, status))
            _count(f"HubResponses_{status // 100}xx")
            # The FAQ's support fields for an outbound call: URL, method, HTTP and OCPI status and
            # the ids we sent (named apart from the inbound request's x_request_id on the line).
            call = {
                "method": method,
                "url": url,
                "http_status": status,
                "attempt": attempt + 1,
                "outbound_x_request_id": request_id,
                "outbound_x_correlation_id": correlation_id,
            }
            if status == 429:
                _count("Hub429")  # our shared limiter should make this never happen
                logger.warning("hub call", extra=call)
                last_error = HubRateLimited("Plugsurfing answered 429", url=url, http_status=429)
                continue
            if status >= 500:
                logger.warning("hub call", extra=call)
                last_error = _error_from(HubUnavailable, response, url)
                if not retry_server_errors:
                    raise last_error
                continue
            try:
                answer = self._unwrap(response, url, request_id, correlation_id)
            except HubError as error:
                logger.warning(
                    "hub call refused",
                    extra={**call, "status_code": error.ocpi_status, "status_message": str(error)},
                )
                raise
            logger.info(
                "hub call",
                extra={
                    **call,
                    "status_code": answer.envelope.status_code,
                    "status_message": answer.envelope.status_message,
                },
            )
            return answer
        assert last_error is not None
        raise last_error

    def _unwrap(
        self, response: httpx.Response, url: str, request_id: str, correlation_id: str
    ) -> HubResponse:
        status = response.status_code
        if status in (401, 403):
            raise _error_from(HubUnauthorized, response, url)
        try:
            # The body parsed once into Python objects by pydantic-core's parser, then the envelope
            # checked around them: ``data: Any`` keeps the parsed objects as they are, where
            # model_validate_json builds them a second time (about 2x json.loads for a page of
            # 250 locations instead of 1x: issue 11, docs/performance.md).
            try:
                body = from_json(response.content, allow_inf_nan=False)
                # A number beyond a float's range (1e400) is parsed as infinity all the same: a
                # body where one may be (a three-digit exponent, 309 digits in a row) is said to
                # hold non-finite numbers too (conservative: only slower to encode).
                non_finite = _MAY_OVERFLOW.search(response.content) is not None
            except ValueError:
                # NaN or ±Infinity (not JSON, RFC 8259 6, yet accepted: lenient), and remembered:
                # the location pull's change hashes must tell them from null (store/locations.py).
                body, non_finite = from_json(response.content), True
            envelope = RawEnvelope.model_validate(body)
        except ValueError as error:  # not JSON (from_json), or not an envelope (a ValidationError)
            if status >= 400:
                raise HubRejected(
                    f"Plugsurfing refused the call: {_snippet(response, url)}", url=url, http_status=status
                ) from error
            raise HubProtocolError(
                f"not an OCPI envelope: {_snippet(response, url)}", url=url, http_status=status
            ) from error
        if status >= 400 or not 1000 <= envelope.status_code < 2000:
            raise HubRejected(
                "Plugsurfing refused the call",
                url=url,
                http_status=status,
                ocpi_status=envelope.status_code,
                ocpi_message=envelope.status_message,
            )
        return HubResponse(url, status, envelope, response.headers, request_id, correlation_id, non_finite)

    # Typed conveniences --------------------------------------------------------------------

    def get(self, url: str, **kwargs: Any) -> HubResponse:
        return self.request("GET", url, **kwargs)

    def fetch(self, model: type[M], url: str, **kwargs: Any) -> tuple[M, DeviationLog]:
        """GET an object and validate its ``data`` leniently."""
        response = self.get(url, **kwargs)
        try:
            return parse_inbound(model, response.data)
        except ValidationError as error:
            raise HubProtocolError(
                f"unusable {model.__name__} from {url}: {error}", url=url, http_status=response.http_status
            ) from error

    def fetch_list(self, model: type[M], url: str, **kwargs: Any) -> tuple[list[M], DeviationLog]:
        response = self.get(url, **kwargs)
        if not isinstance(response.data, list):
            raise HubProtocolError(f"expected a list from {url}", url=url, http_status=response.http_status)
        log = DeviationLog()
        items: list[M] = []
        for raw in response.data:
            try:
                item, item_log = parse_inbound(model, raw)
            except ValidationError as error:
                raise HubProtocolError(f"unusable {model.__name__} from {url}: {error}", url=url) from error
            items.append(item)
            log.items.extend(item_log.items)
        return items, log

    def pages(
        self, url: str, params: dict[str, str] | None = None, *, correlation_id: str | None = None
    ) -> Iterator[HubResponse]:
        """Yield every page, following the Link header's next URL exactly as given."""
        correlation_id = correlation_id or str(uuid.uuid4())
        page = self.get(url, params=params, correlation_id=correlation_id)
        yield page
        while page.next_url:
            page = self.get(page.next_url, correlation_id=correlation_id)
            yield page

    def close(self) -> None:
        if self.http is not None:
            self.http.close()


def _snippet(response: httpx.Response, url: str) -> str:
    """The start of an unreadable answer, for the error (and so the logs); never from the
    credentials module, whose answers carry tokens."""
    if "/credentials" in url:
        return f"({len(response.content)} bytes, not shown: credentials)"
    return response.text[:200]


def _error_from(kind: type[HubError], response: httpx.Response, url: str) -> HubError:
    ocpi_status: int | None = None
    ocpi_message: str | None = None
    try:
        body = response.json()
        if isinstance(body, dict):
            ocpi_status = body.get("status_code")
            ocpi_message = body.get("status_message")
    except ValueError:
        pass
    return kind(
        f"Plugsurfing answered HTTP {response.status_code}",
        url=url,
        http_status=response.status_code,
        ocpi_status=ocpi_status,
        ocpi_message=ocpi_message,
    )
