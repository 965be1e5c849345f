"""Admin API for tokens: POST /admin/tokens (create or replace), PATCH /admin/tokens/{uid}?type=
(partial update, e.g. {"valid": false} to disable), GET /admin/tokens/{uid}?type= (with push state
and recent authorization decisions). Changes answer 202 once durably queued."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from ..api.http import create_resolver, respond
from ..api.openapi import answers
from ..config import per_settings
from ..domain.tokens import TokenService
from ..ocpi.enums import TokenType
from ..ocpi.status import OcpiError, StatusCode
from ..store.authorizations import AuthorizationStore
from ..store.tokens import StoredToken
from ._runtime import http_entry

app = create_resolver(validation=True)
TAGS = ["tokens"]
# An OCPI 2.2.1 Token (mod_tokens), checked against Roam OCPI's rules by domain/tokens.py.
TokenBody = Annotated[dict[str, Any], Body(description="an OCPI 2.2.1 Token object (or its changed fields)")]
Type = Annotated[TokenType, Query(description="token type")]


class TokenWithDecisions(StoredToken):
    recent_authorizations: list[dict[str, Any]]


service = per_settings(TokenService.from_settings)
decisions = per_settings(lambda config: AuthorizationStore(config.authorizations_table))


@app.post(
    "/admin/tokens",
    summary="Create or replace a token; queued for Plugsurfing (202)",
    tags=TAGS,
    responses=answers(StoredToken, "queued", status=202),
)
def create_token(token: TokenBody) -> Response[str]:
    stored = service().submit(token)
    return respond(app, stored.model_dump(mode="json"), http_status=202)


@app.patch(
    "/admin/tokens/<uid>",
    summary='Change a token (e.g. {"valid": false} to disable); queued for Plugsurfing (202)',
    tags=TAGS,
    responses=answers(StoredToken, "queued", status=202, errors=(400, 404)),
)
def patch_token(uid: str, changes: TokenBody, type: Type = TokenType.RFID) -> Response[str]:
    stored = service().patch(type.value, uid, changes)
    return respond(app, stored.model_dump(mode="json"), http_status=202)


@app.get(
    "/admin/tokens/<uid>",
    summary="A token with its push state and recent authorization decisions",
    tags=TAGS,
    responses=answers(TokenWithDecisions, "the token", errors=(400, 404)),
)
def get_token(uid: str, type: Type = TokenType.RFID) -> Response[str]:
    stored = service().store.get(type.value, uid)
    if stored is None:
        raise OcpiError(StatusCode.UNKNOWN_TOKEN, f"token {type.value} {uid} is unknown")
    return respond(
        app,
        {**stored.model_dump(mode="json"), "recent_authorizations": decisions().for_token(type.value, uid)},
    )


handler = http_entry(app)
