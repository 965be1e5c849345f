"""POST /ocpi/2.2.1/tokens/{token_uid}/authorize?type=RFID (mod_tokens.asciidoc, real-time
authorization). The hot path: Plugsurfing waits 1-10 s for the answer (FAQ "How does real-time
authorization work?"), a cold start included, so this function imports only what answering needs:
it answers API Gateway's one route itself (api/rest.py) instead of through a Powertools resolver,
whose package loads every resolver kind and asyncio (issue 11, docs/performance.md). The answers,
their headers and status codes are those of the resolver-based functions (the same api/rest.py)."""

from __future__ import annotations

import re
from typing import Any

from ..api import rest
from ..api.auth import Scope, authenticate
from ..config import per_settings
from ..domain.authorization import Authorizer, location_references
from ..store import aws, botocore_data
from ._runtime import logger, metrics, rest_entry

# The path parameter as Powertools' APIGatewayRestResolver matched it (its characters, trailing
# slashes allowed), so the same requests reach the route; anything else is 404 "no such endpoint",
# before authentication, as the resolver answered it.
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
ROUTE = re.compile(rf"^/ocpi/2\.2\.1/tokens/(?P<token_uid>{_SEGMENT})/authorize/*$")

# The bundle ships botocore's data trimmed to this function's three operations (the first call
# builds its two clients from them: store/botocore_data.py); absent in the source tree.
aws.use_shipped_data(botocore_data.directory_for("ocpi_authorize"))

authorizer = per_settings(Authorizer.from_settings)


def authorize(event: dict[str, Any], token_uid: str) -> dict[str, Any]:
    token_type = (event.get("queryStringParameters") or {}).get("type", "RFID")
    # LocationReferences are optional, and many requests come without a usable one (FAQ "Why
    # would a Location reference be missing in authorization?"): unusable counts as missing.
    location, unusable = location_references(event.get("body"))
    logger.thread_safe_append_keys(
        token_uid=token_uid, token_type=token_type, location_id=location.location_id if location else None
    )
    if unusable:
        logger.warning("location reference unusable, treated as missing", extra={"problem": unusable})
        metrics.add_metric(name="AuthorizeUnusableLocation", unit="Count", value=1)
    info = authorizer().authorize(token_uid, token_type, location)
    metrics.add_metric(name=f"Authorize_{info['allowed']}", unit="Count", value=1)
    return rest.proxy_response(event, info)


def dispatch(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """The route, its credentials check (require(Scope.CONNECTED) on the other functions), and
    every failure answered as api/rest.py says."""
    method = str(event.get("httpMethod") or "").upper()
    found = ROUTE.match(str(event.get("path") or "")) if method == "POST" else None
    if found is None:
        return rest.failure_response(event, rest.NOT_FOUND)
    try:
        # Cold: the DynamoDB client (CPU: its service model and endpoint rules) is built while the
        # first Secrets Manager read waits on the network; both were built one after the other.
        aws.secretsmanager()
        aws.build_in_background("dynamodb")
        authenticate(rest.header_value(event.get("headers"), "Authorization"), Scope.CONNECTED)
        return authorize(event, found["token_uid"])
    except Exception as error:
        return rest.failure_response(event, rest.failure(error))


handler = rest_entry(dispatch)
