"""Admin API for CDRs: one CDR with its facts (token match, session link, cost check) and its
conflicts; reprocess an archived body (refused or stored) through the current code."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from ..api.http import create_resolver, json_body, respond
from ..config import per_settings
from ..domain.cdrs import CdrService
from ..ocpi.status import OcpiError, StatusCode
from ._runtime import http_entry

app = create_resolver()
service = per_settings(CdrService.from_settings)


class ReprocessRequest(BaseModel):
    key: str = Field(min_length=1, max_length=1024)  # an S3 key of the archive (cdrs/ or rejected/)


@app.get("/admin/cdrs/<cdr_id>")
def get_cdr(cdr_id: str) -> Response[str]:
    stored = service().store.get(cdr_id)
    if stored is None:
        raise OcpiError(StatusCode.CLIENT_ERROR, f"unknown CDR {cdr_id}", http_status=404)
    return respond(app, {**stored, "conflicts": service().store.conflicts(cdr_id)})


@app.post("/admin/cdrs/reprocess")
def reprocess() -> Response[str]:
    request = ReprocessRequest.model_validate(json_body(app))
    return respond(app, service().reprocess(request.key))


handler = http_entry(app)
