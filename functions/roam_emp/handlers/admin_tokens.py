"""Admin API for tokens: POST /admin/tokens (create or replace), PATCH /admin/tokens/{uid}?type=
(partial update, e.g. {"valid": false} to disable), GET /admin/tokens/{uid}?type= (with push state
and recent authorization decisions). Changes answer 202 once durably queued."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from ..api.http import create_resolver, json_body, respond
from ..config import per_settings
from ..domain.tokens import TokenService
from ..ocpi.status import OcpiError, StatusCode
from ..store.authorizations import AuthorizationStore
from ._runtime import http_entry

app = create_resolver()
service = per_settings(TokenService.from_settings)
decisions = per_settings(lambda config: AuthorizationStore(config.authorizations_table))


def _object() -> dict[str, Any]:
    body = json_body(app)
    if not isinstance(body, dict):
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "body must be a JSON object")
    return body


def _type() -> str:
    return (app.current_event.query_string_parameters or {}).get("type", "RFID")


@app.post("/admin/tokens")
def create_token() -> Response[str]:
    stored = service().submit(_object())
    return respond(app, stored.model_dump(mode="json"), http_status=202)


@app.patch("/admin/tokens/<uid>")
def patch_token(uid: str) -> Response[str]:
    stored = service().patch(_type(), uid, _object())
    return respond(app, stored.model_dump(mode="json"), http_status=202)


@app.get("/admin/tokens/<uid>")
def get_token(uid: str) -> Response[str]:
    stored = service().store.get(_type(), uid)
    if stored is None:
        raise OcpiError(StatusCode.UNKNOWN_TOKEN, f"token {_type()} {uid} is unknown")
    return respond(
        app, {**stored.model_dump(mode="json"), "recent_authorizations": decisions().for_token(_type(), uid)}
    )


handler = http_entry(app)
