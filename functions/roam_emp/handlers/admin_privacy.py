"""POST /admin/privacy/forget {"token_uid"|"contract_id", "force"?}: GDPR erasure of one driver
(domain/forget.py; docs/operations.md "GDPR"), answered with what was done, table by table."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field, model_validator

from ..api.http import create_resolver, respond
from ..api.openapi import answers
from ..config import per_settings
from ..domain.forget import Forgetter, StillValidAtHub
from ..ocpi.status import OcpiError, StatusCode
from ._runtime import http_entry

app = create_resolver(validation=True)
forgetter = per_settings(Forgetter.from_settings)


class ForgetRequest(BaseModel):
    token_uid: str | None = Field(default=None, min_length=1, max_length=36)  # CiString(36)
    contract_id: str | None = Field(default=None, min_length=1, max_length=36)
    force: bool = False  # forget even a token Plugsurfing still holds as valid

    @model_validator(mode="after")
    def one_driver(self) -> ForgetRequest:
        if not self.token_uid and not self.contract_id:
            raise ValueError("token_uid or contract_id is required")
        return self


@app.post(
    "/admin/privacy/forget",
    summary="GDPR erasure of one driver: tokens deleted, sessions, CDRs and commands pseudonymised",
    tags=["privacy"],
    responses=answers(dict[str, Any], "what was done, table by table", errors=(400, 409)),
)
def forget(request: Annotated[ForgetRequest, Body()]) -> Response[str]:
    try:
        report = forgetter().forget(
            token_uid=request.token_uid, contract_id=request.contract_id, force=request.force
        )
    except StillValidAtHub as error:
        raise OcpiError(StatusCode.CLIENT_ERROR, str(error), http_status=409) from error
    return respond(app, report)


handler = http_entry(app)
