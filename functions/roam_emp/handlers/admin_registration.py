"""Admin API (IAM-authorised in AWS): register with Plugsurfing, rotate, unregister
(``DELETE /admin/registration[?force=true]``), issue token A, status.

The ``roam-emp register`` command calls ``POST /admin/registration`` so the registration runs
inside the stack, with the stack's own URL, secrets and rate limiter.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, Field

from ..api.http import base_url, create_resolver, respond
from ..api.openapi import answers
from ..config import per_settings
from ..domain.registration import Registrar
from ..domain.versions import versions_url
from ..store.registration import Connection
from ._runtime import http_entry

app = create_resolver(validation=True)
TAGS = ["registration"]


class RegisterRequest(BaseModel):
    """Register with Plugsurfing: its versions URL and the token A it gave us."""

    versions_url: str = Field(min_length=8, max_length=255)
    token_a: str = Field(min_length=1, max_length=64, repr=False)


class RotateRequest(BaseModel):
    """Rotate our credentials at Plugsurfing (PUT credentials with a fresh token)."""

    action: Literal["rotate"]


class RegistrationView(Connection):
    our_versions_url: str | None = None


class TokenA(BaseModel):
    token_a: str = Field(description="shown once; give it to Plugsurfing with versions_url")
    versions_url: str


registrar = per_settings(Registrar.from_settings)


@app.get(
    "/admin/registration",
    summary="The connection with Plugsurfing",
    tags=TAGS,
    responses=answers(RegistrationView, "the connection", errors=()),
)
def get_registration() -> Response[str]:
    status = registrar().status().summary()
    status["our_versions_url"] = versions_url(base_url(app))
    return respond(app, status)


@app.post(
    "/admin/registration",
    summary="Register with Plugsurfing (credentials handshake), or rotate our credentials",
    tags=TAGS,
    responses=answers(Connection, "the connection after the handshake", errors=(400, 409, 502)),
)
def post_registration(request: Annotated[RotateRequest | RegisterRequest, Body()]) -> Response[str]:
    base = base_url(app)
    if isinstance(request, RotateRequest):
        return respond(app, registrar().rotate(base).summary())
    connection = registrar().register(request.versions_url, request.token_a, base)
    return respond(app, connection.summary())


@app.delete(
    "/admin/registration",
    summary="Unregister: DELETE our credentials at Plugsurfing, then forget the connection",
    tags=TAGS,
    responses=answers(Connection, "the connection, unregistered", errors=(400, 502)),
)
def delete_registration(
    force: Annotated[
        bool, Query(description="forget the connection even if Plugsurfing cannot be told")
    ] = False,
) -> Response[str]:
    return respond(app, registrar().unregister(force=force).summary())


@app.post(
    "/admin/registration/token-a",
    summary="Issue a token A for a Plugsurfing-initiated registration (returned once, never logged)",
    tags=TAGS,
    responses=answers(TokenA, "the token A and our versions URL", errors=()),
)
def post_token_a() -> Response[str]:
    # Returned once, to the IAM-authorised operator; never logged.
    token_a = registrar().issue_token_a()
    return respond(app, {"token_a": token_a, "versions_url": versions_url(base_url(app))})


handler = http_entry(app)
