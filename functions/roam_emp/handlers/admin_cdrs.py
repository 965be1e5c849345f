"""Admin API for CDRs: one CDR with its facts (token match, session link, cost check) and its
conflicts; reprocess an archived body (refused or stored) through the current code; the cost check
of any CDR JSON (what `roam-emp cdrs check --json` prints), nothing stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, Field

from ..api.http import create_resolver, respond
from ..api.openapi import answers
from ..config import per_settings
from ..domain.cdrs import CdrService
from ..domain.pricing import recompute
from ..ocpi.cdrs import Cdr
from ..ocpi.leniency import parse_inbound
from ..ocpi.status import OcpiError, StatusCode
from ..store.locations import LocationCache
from ._runtime import http_entry

app = create_resolver(validation=True)
TAGS = ["cdrs"]
service = per_settings(CdrService.from_settings)
locations = per_settings(lambda config: LocationCache(config.locations_table))


class ReprocessRequest(BaseModel):
    key: str = Field(min_length=1, max_length=1024)  # an S3 key of the archive (cdrs/ or rejected/)


class CheckRequest(BaseModel):
    cdr: dict[str, Any]  # the CDR as OCPI JSON, validated leniently as an inbound CDR
    time_zone: str | None = Field(default=None, min_length=1, max_length=64)  # IANA, e.g. Europe/Amsterdam
    tolerance: Decimal = Field(default=Decimal("0.01"), ge=0, le=1000)


@app.get(
    "/admin/cdrs/<cdr_id>",
    summary="A stored CDR with its facts (token match, session link, cost check) and conflicts",
    tags=TAGS,
    responses=answers(dict[str, Any], "the CDR", errors=(404,)),
)
def get_cdr(cdr_id: str) -> Response[str]:
    stored = service().store.get(cdr_id)
    if stored is None:
        raise OcpiError(StatusCode.CLIENT_ERROR, f"unknown CDR {cdr_id}", http_status=404)
    return respond(app, {**stored, "conflicts": service().store.conflicts(cdr_id)})


@app.post(
    "/admin/cdrs/reprocess",
    summary="Run an archived CDR body (refused or stored) through the current code",
    tags=TAGS,
    responses=answers(dict[str, Any], "what the reprocessing did", errors=(400, 404)),
)
def reprocess(request: Annotated[ReprocessRequest, Body()]) -> Response[str]:
    return respond(app, service().reprocess(request.key))


@app.post(
    "/admin/cdrs/check",
    summary="Recompute a CDR's cost from its tariffs (nothing stored)",
    tags=TAGS,
    responses=answers(dict[str, Any], "the cost check verdict"),
)
def check(request: Annotated[CheckRequest, Body()]) -> Response[str]:
    cdr, _ = parse_inbound(Cdr, request.cdr)
    # Restrictions are in the location's local time (mod_tariffs.asciidoc): the zone given, else
    # the cached location's; without either the engine says UNCHECKABLE wherever time matters.
    time_zone = request.time_zone or locations().time_zone_of(cdr.cdr_location.id)
    return respond(app, recompute(cdr, request.tolerance, time_zone=time_zone).as_dict())


handler = http_entry(app)
