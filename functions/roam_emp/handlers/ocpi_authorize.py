"""POST /ocpi/2.2.1/tokens/{token_uid}/authorize?type=RFID (mod_tokens.asciidoc, real-time
authorization). The hot path: keep imports here to what answering needs."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from ..api.auth import Scope, require
from ..api.http import create_resolver, json_body, respond
from ..config import per_settings
from ..domain.authorization import Authorizer
from ..ocpi.leniency import parse_inbound
from ..ocpi.tokens import LocationReferences
from ._runtime import http_entry, logger, metrics

app = create_resolver()
authorizer = per_settings(Authorizer.from_settings)


@app.post("/ocpi/2.2.1/tokens/<token_uid>/authorize", middlewares=[require(Scope.CONNECTED)])
def authorize(token_uid: str) -> Response[str]:
    token_type = (app.current_event.query_string_parameters or {}).get("type", "RFID")
    body = app.current_event.body
    # LocationReferences are optional: many requests come without a usable one (FAQ).
    location = parse_inbound(LocationReferences, json_body(app))[0] if body and body.strip() else None
    logger.append_keys(
        token_uid=token_uid, token_type=token_type, location_id=location.location_id if location else None
    )
    info = authorizer().authorize(token_uid, token_type, location)
    metrics.add_metric(name=f"Authorize_{info['allowed']}", unit="Count", value=1)
    return respond(app, info)


handler = http_entry(app, traced=False)
