"""Admin API for Locations: start a pull (202), its status, and reads of the cache."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel

from ..api.http import create_resolver, respond
from ..api.openapi import answers
from ..config import per_settings, settings
from ..domain.location_estimate import PlanError, UnknownPlace, estimate_at, parse_plan
from ..domain.location_pull import LocationPuller
from ..ocpi.countries import to_alpha3
from ..ocpi.status import OcpiError, StatusCode
from ..store.bus import EventPublisher
from ..store.locations import LocationCache
from ..store.pull_state import PullMode, PullRun, SyncState
from ..topology import LOCATION_PULL_REQUESTED
from ._runtime import http_entry

app = create_resolver(validation=True)
TAGS = ["locations"]
MAX_LIMIT = 500


class PullRequest(BaseModel):
    mode: PullMode


class PullAccepted(BaseModel):
    accepted: bool
    mode: PullMode | None = None
    reset: bool | None = None


class PullStatus(BaseModel):
    current_run: PullRun | None
    sync: SyncState
    cache_age_s: float | None
    full_pull_age_s: float | None
    full_pull_pending: bool


class LocationPage(BaseModel):
    locations: list[dict[str, Any]]  # summaries: id, name, country, party, operator, status...
    next_cursor: str | None


IncludeUnpublished = Annotated[
    bool, Query(description="also locations with publish=false (hidden by default, mod_locations)")
]

cache = per_settings(lambda config: LocationCache(config.locations_table))


@app.post(
    "/admin/locations/pull",
    summary="Start a full or delta Location pull (LocationPullRequested on our bus)",
    tags=TAGS,
    responses=answers(PullAccepted, "queued", status=202),
)
def start_pull(request: Annotated[PullRequest, Body()]) -> Response[str]:
    EventPublisher(settings().event_bus_name).publish(LOCATION_PULL_REQUESTED, {"mode": request.mode.value})
    return respond(app, {"accepted": True, "mode": request.mode.value}, http_status=202)


@app.post(
    "/admin/locations/pull/reset",
    summary="Close a wedged pull run as FAILED; the next pull starts afresh",
    tags=TAGS,
    responses=answers(PullAccepted, "queued", status=202, errors=()),
)
def reset_pull() -> Response[str]:
    """Close a wedged pull run as FAILED (issue 10): the LocationPull function, which owns the
    pull state, does it on this request; the next pull starts a fresh run."""
    EventPublisher(settings().event_bus_name).publish(LOCATION_PULL_REQUESTED, {"reset": True})
    return respond(app, {"accepted": True, "reset": True}, http_status=202)


@app.get(
    "/admin/locations/pull",
    summary="The current pull run and the completed ones",
    tags=TAGS,
    responses=answers(PullStatus, "pull state", errors=()),
)
def pull_status() -> Response[str]:
    return respond(app, LocationPuller.from_settings(settings()).status())


@app.get(
    "/admin/locations",
    summary="Cached location summaries by country or operator party, a page at a time",
    tags=TAGS,
    responses=answers(LocationPage, "a page of summaries"),
)
def list_locations(
    country: Annotated[
        str | None, Query(description="ISO 3166-1 alpha-3 (DEU) or a European alpha-2")
    ] = None,
    operator_party: Annotated[str | None, Query(description="country*party of the CPO, e.g. DE*ION")] = None,
    operator: Annotated[str | None, Query(description="the operator's name")] = None,
    limit: Annotated[int, Query(description=f"page size, clamped to 1..{MAX_LIMIT}")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    include_unpublished: IncludeUnpublished = False,
) -> Response[str]:
    alpha3 = to_alpha3(country) if country else None
    if country and alpha3 is None:
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS,
            f"country {country!r}: use ISO 3166-1 alpha-3 (e.g. DEU) or a European alpha-2",
        )
    if not operator_party and not alpha3:
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS, "country or operator_party (e.g. DE*ION) is required"
        )
    items, next_cursor = cache().query(
        country=alpha3,
        party_key=operator_party.replace("-", "*") if operator_party else None,
        operator=operator,
        limit=min(max(limit, 1), MAX_LIMIT),
        cursor=cursor,
        include_unpublished=include_unpublished,
    )
    return respond(app, {"locations": items, "next_cursor": next_cursor})


@app.get(
    "/admin/locations/<location_id>",
    summary="One cached location (OCPI Location with its tariffs inlined per connector)",
    tags=TAGS,
    responses=answers(dict[str, Any], "the location", errors=(400, 404)),
)
def get_location(location_id: str, include_unpublished: IncludeUnpublished = False) -> Response[str]:
    location = cache().get(location_id)
    if location is not None and location.get("publish") is False and not include_unpublished:
        location = None
    if location is None:
        raise OcpiError(StatusCode.UNKNOWN_LOCATION, f"location {location_id} is not in the cache")
    return respond(app, location)


@app.get(
    "/admin/locations/<location_id>/estimate",
    summary="Price a planned session from the location's tariffs, in its local time",
    tags=TAGS,
    responses=answers(dict[str, Any], "the estimate per connector", errors=(400, 404)),
)
def estimate(
    location_id: str,
    kwh: Annotated[str, Query(description="energy to charge (decimal)")],
    minutes: Annotated[str, Query(description="charging time (decimal, > 0)")],
    parking_minutes: Annotated[str | None, Query(description="connected, not charging")] = None,
    start: Annotated[str | None, Query(description="RFC 3339 with an offset (default now)")] = None,
    evse_uid: Annotated[str | None, Query(description="one EVSE (default every EVSE)")] = None,
    connector_id: Annotated[str | None, Query(description="one connector (default every one)")] = None,
) -> Response[str]:
    given = {
        "kwh": kwh,
        "minutes": minutes,
        "parking_minutes": parking_minutes,
        "start": start,
        "evse_uid": evse_uid,
        "connector_id": connector_id,
    }
    try:
        plan = parse_plan({k: v for k, v in given.items() if v is not None})
    except PlanError as error:
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, str(error)) from error
    location = cache().get(location_id)
    if location is None:
        raise OcpiError(StatusCode.UNKNOWN_LOCATION, f"location {location_id} is not in the cache")
    try:
        return respond(app, estimate_at(location, plan))
    except UnknownPlace as error:
        raise OcpiError(StatusCode.UNKNOWN_LOCATION, str(error)) from error


handler = http_entry(app)
