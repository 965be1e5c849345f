"""POST /admin/privacy/forget {"token_uid"|"contract_id", "force"?}: GDPR erasure of one driver
(domain/forget.py; docs/operations.md "GDPR"), answered with what was done, table by table."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field, model_validator

from ..api.http import create_resolver, json_body, respond
from ..config import per_settings
from ..domain.forget import Forgetter, StillValidAtHub
from ..ocpi.status import OcpiError, StatusCode
from ._runtime import http_entry

app = create_resolver()
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


@app.post("/admin/privacy/forget")
def forget() -> Response[str]:
    request = ForgetRequest.model_validate(json_body(app))
    try:
        report = forgetter().forget(
            token_uid=request.token_uid, contract_id=request.contract_id, force=request.force
        )
    except StillValidAtHub as error:
        raise OcpiError(StatusCode.CLIENT_ERROR, str(error), http_status=409) from error
    return respond(app, report)


handler = http_entry(app)
