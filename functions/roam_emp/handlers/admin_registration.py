"""Admin API (IAM-authorised in AWS): register with Plugsurfing, rotate, unregister
(``DELETE /admin/registration[?force=true]``), issue token A, status.

The ``roam-emp register`` command calls ``POST /admin/registration`` so the registration runs
inside the stack, with the stack's own URL, secrets and rate limiter.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from ..api.http import base_url, create_resolver, json_body, respond
from ..config import per_settings
from ..domain.registration import Registrar
from ..domain.versions import versions_url
from ._runtime import http_entry

app = create_resolver()


class RegisterRequest(BaseModel):
    versions_url: str = Field(min_length=8, max_length=255)
    token_a: str = Field(min_length=1, max_length=64, repr=False)


class RotateRequest(BaseModel):
    action: str = Field(pattern="^rotate$")


registrar = per_settings(Registrar.from_settings)


@app.get("/admin/registration")
def get_registration() -> Response[str]:
    status = registrar().status().summary()
    status["our_versions_url"] = versions_url(base_url(app))
    return respond(app, status)


@app.post("/admin/registration")
def post_registration() -> Response[str]:
    body = json_body(app)
    base = base_url(app)
    if isinstance(body, dict) and body.get("action") == "rotate":
        RotateRequest.model_validate(body)
        return respond(app, registrar().rotate(base).summary())
    request = RegisterRequest.model_validate(body)
    connection = registrar().register(request.versions_url, request.token_a, base)
    return respond(app, connection.summary())


@app.delete("/admin/registration")
def delete_registration() -> Response[str]:
    force = (app.current_event.query_string_parameters or {}).get("force", "").lower() == "true"
    return respond(app, registrar().unregister(force=force).summary())


@app.post("/admin/registration/token-a")
def post_token_a() -> Response[str]:
    # Returned once, to the IAM-authorised operator; never logged.
    token_a = registrar().issue_token_a()
    return respond(app, {"token_a": token_a, "versions_url": versions_url(base_url(app))})


handler = http_entry(app)
