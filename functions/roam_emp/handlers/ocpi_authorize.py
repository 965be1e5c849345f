"""POST /ocpi/2.2.1/tokens/{token_uid}/authorize?type=RFID (mod_tokens.asciidoc, real-time
authorization). The hot path: keep imports here to what answering needs."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.auth import Scope, require
from ..api.http import create_resolver, respond
from ..config import per_settings
from ..domain.authorization import Authorizer, location_references
from ._runtime import http_entry, logger, metrics

app = create_resolver()
authorizer = per_settings(Authorizer.from_settings)


@app.post("/ocpi/2.2.1/tokens/<token_uid>/authorize", middlewares=[require(Scope.CONNECTED)])
def authorize(token_uid: str) -> Response[str]:
    token_type = (app.current_event.query_string_parameters or {}).get("type", "RFID")
    # LocationReferences are optional, and many requests come without a usable one (FAQ "Why
    # would a Location reference be missing in authorization?"): unusable counts as missing.
    location, unusable = location_references(app.current_event.body)
    logger.thread_safe_append_keys(
        token_uid=token_uid, token_type=token_type, location_id=location.location_id if location else None
    )
    if unusable:
        logger.warning("location reference unusable, treated as missing", extra={"problem": unusable})
        metrics.add_metric(name="AuthorizeUnusableLocation", unit="Count", value=1)
    info = authorizer().authorize(token_uid, token_type, location)
    metrics.add_metric(name=f"Authorize_{info['allowed']}", unit="Count", value=1)
    return respond(app, info)


handler = http_entry(app, traced=False)
