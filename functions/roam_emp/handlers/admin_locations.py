"""Admin API for Locations: start a pull (202), its status, and reads of the cache."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

from ..api.http import create_resolver, json_body, respond
from ..config import per_settings, settings
from ..domain.location_estimate import PlanError, UnknownPlace, estimate_at, parse_plan
from ..domain.location_pull import LocationPuller
from ..ocpi.countries import to_alpha3
from ..ocpi.status import OcpiError, StatusCode
from ..store.bus import EventPublisher
from ..store.locations import LocationCache
from ..store.pull_state import PullMode
from ..topology import LOCATION_PULL_REQUESTED
from ._runtime import http_entry

app = create_resolver()


class PullRequest(BaseModel):
    mode: PullMode


cache = per_settings(lambda config: LocationCache(config.locations_table))


@app.post("/admin/locations/pull")
def start_pull() -> Response[str]:
    request = PullRequest.model_validate(json_body(app))
    EventPublisher(settings().event_bus_name).publish(LOCATION_PULL_REQUESTED, {"mode": request.mode.value})
    return respond(app, {"accepted": True, "mode": request.mode.value}, http_status=202)


@app.post("/admin/locations/pull/reset")
def reset_pull() -> Response[str]:
    """Close a wedged pull run as FAILED (issue 10): the LocationPull function, which owns the
    pull state, does it on this request; the next pull starts a fresh run."""
    EventPublisher(settings().event_bus_name).publish(LOCATION_PULL_REQUESTED, {"reset": True})
    return respond(app, {"accepted": True, "reset": True}, http_status=202)


@app.get("/admin/locations/pull")
def pull_status() -> Response[str]:
    return respond(app, LocationPuller.from_settings(settings()).status())


@app.get("/admin/locations")
def list_locations() -> Response[str]:
    args = app.current_event.query_string_parameters or {}
    try:
        limit = min(max(int(args.get("limit", "50")), 1), 500)
    except ValueError as error:
        raise OcpiError(StatusCode.INVALID_OR_MISSING_PARAMETERS, "limit must be an integer") from error
    country = args.get("country")
    alpha3 = to_alpha3(country) if country else None
    if country and alpha3 is None:
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS,
            f"country {country!r}: use ISO 3166-1 alpha-3 (e.g. DEU) or a European alpha-2",
        )
    party = args.get("operator_party")
    if not party and not alpha3:
        raise OcpiError(
            StatusCode.INVALID_OR_MISSING_PARAMETERS, "country or operator_party (e.g. DE*ION) is required"
        )
    items, cursor = cache().query(
        country=alpha3,
        party_key=party.replace("-", "*") if party else None,
        operator=args.get("operator"),
        limit=limit,
        cursor=args.get("cursor"),
        include_unpublished=_include_unpublished(),
    )
    return respond(app, {"locations": items, "next_cursor": cursor})


def _include_unpublished() -> bool:
    """Unpublished locations (``publish: false``, spec mod_locations) are hidden unless
    ``include_unpublished=true`` is given."""
    args = app.current_event.query_string_parameters or {}
    return args.get("include_unpublished", "").lower() in ("true", "1", "yes")


@app.get("/admin/locations/<location_id>")
def get_location(location_id: str) -> Response[str]:
    location = cache().get(location_id)
    if location is not None and location.get("publish") is False and not _include_unpublished():
        location = None
    if location is None:
        raise OcpiError(StatusCode.UNKNOWN_LOCATION, f"location {location_id} is not in the cache")
    return respond(app, location)


@app.get("/admin/locations/<location_id>/estimate")
def estimate(location_id: str) -> Response[str]:
    try:
        plan = parse_plan(app.current_event.query_string_parameters or {})
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
