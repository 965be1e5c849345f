"""GET /ocpi/2.2.1/tokens: the Tokens sender interface (mod_tokens.asciidoc), paged with
offset/limit and Link, X-Total-Count and X-Limit headers (transport_and_format.asciidoc)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response

from ..api.auth import Scope, require
from ..api.http import base_url, create_resolver, respond
from ..config import per_settings
from ..ocpi.status import OcpiError, StatusCode
from ..ocpi.timestamps import parse_timestamp
from ..store.tokens import TokenStore
from ._runtime import http_entry

app = create_resolver()
store = per_settings(lambda config: TokenStore(config.tokens_table))
MAX_LIMIT = 100


def _timestamp(args: dict[str, str], name: str) -> datetime | None:
    if not args.get(name):
        return None
    try:
        return parse_timestamp(args[name])
    except ValueError as error:
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, f"{name}: {error}") from error


@app.get("/ocpi/2.2.1/tokens", middlewares=[require(Scope.CONNECTED)])
def list_tokens() -> Response[str]:
    args = dict(app.current_event.query_string_parameters or {})
    try:
        offset = max(0, int(args.get("offset", "0")))
        limit = min(max(1, int(args.get("limit", str(MAX_LIMIT)))), MAX_LIMIT)
    except ValueError as error:
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS, "offset and limit must be integers"
        ) from error
    date_from, date_to = _timestamp(args, "date_from"), _timestamp(args, "date_to")
    tokens, total = store().list_updated(date_from, date_to, offset, limit)
    headers = {"X-Total-Count": str(total), "X-Limit": str(MAX_LIMIT)}
    if offset + limit < total:
        query = {k: v for k, v in args.items() if k in ("date_from", "date_to")}
        query.update(offset=str(offset + limit), limit=str(limit))
        headers["Link"] = f'<{base_url(app)}/ocpi/2.2.1/tokens?{urlencode(query)}>; rel="next"'
    return respond(app, tokens, headers=headers)


handler = http_entry(app)
