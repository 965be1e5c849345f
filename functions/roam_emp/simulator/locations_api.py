"""Roam OCPI's Locations sender interface (FAQ "Retrieving locations"): at most 250 per page, the
next page only through the ``Link`` header's URL carrying an opaque ``smart_paging`` cursor (no
offsets), ``date_from``/``date_to`` deltas that include inlined tariff changes."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from flask import Flask, Response, request

from ..ocpi.envelope import envelope
from ..ocpi.status import StatusCode
from ..ocpi.timestamps import format_timestamp, parse_timestamp
from .state import SimulatorState

MAX_PAGE = 250


def _cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _uncursor(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token.encode()))  # type: ignore[no-any-return]


def _normalized(value: str | None) -> str | None:
    return format_timestamp(parse_timestamp(value)).replace(".000", "") if value else None


def _error(message: str) -> Response:
    body = envelope(None, StatusCode.INVALID_OR_MISSING_PARAMETERS, message)
    return Response(json.dumps(body), status=400, mimetype="application/json")


def register_locations(app: Flask, state: SimulatorState, base_url: str) -> None:
    endpoint = f"{base_url}/ocpi/cpo/2.2.1/locations"

    @app.get("/ocpi/cpo/2.2.1/locations")
    def locations() -> Response:
        if "offset" in request.args:
            return _error("offset is not supported: follow the Link header (smart_paging)")
        token = request.args.get("smart_paging")
        with state.lock:
            state.pages_in_flight += 1
            if state.pages_in_flight > 1:
                state.parallel_violations += 1
            if token is None:
                now = time.monotonic()
                if state.last_pull_started and now - state.last_pull_started < state.pull_min_interval_s:
                    state.soft_limit_violations += 1
                state.last_pull_started = now
        try:
            if token is not None:
                cursor = _uncursor(token)
                if cursor.get("epoch", 0) != state.network.cursor_epoch:
                    return _error("smart_paging cursor expired")
            else:
                try:
                    cursor = {
                        "epoch": state.network.cursor_epoch,
                        "after": None,
                        "from": _normalized(request.args.get("date_from")),
                        "to": _normalized(request.args.get("date_to")),
                        "limit": min(int(request.args.get("limit", MAX_PAGE)), MAX_PAGE),
                    }
                except ValueError as error:
                    return _error(str(error))
            items, last, total = state.network.page(
                after=cursor["after"], date_from=cursor["from"], date_to=cursor["to"], limit=cursor["limit"]
            )
            headers = {"X-Total-Count": str(total), "X-Limit": str(cursor["limit"])}
            if last is not None:
                headers["Link"] = (
                    f'<{endpoint}?smart_paging={_cursor({**cursor, "after": last})}>; rel="next"'
                )
            return Response(
                json.dumps(envelope(items)), status=200, mimetype="application/json", headers=headers
            )
        finally:
            with state.lock:
                state.pages_in_flight -= 1

    @app.post("/_sim/locations/reset")
    def reset() -> Response:
        body = request.get_json(silent=True) or {}
        network = state.reset_network(int(body.get("size", 3000)), int(body.get("seed", 1)))
        if "pull_min_interval_s" in body:
            state.pull_min_interval_s = float(body["pull_min_interval_s"])
        return Response(json.dumps({"size": len(network.locations)}), mimetype="application/json")

    @app.post("/_sim/locations/mutate")
    def mutate() -> Response:
        body = request.get_json(silent=True) or {}
        changes = state.network.mutate(**{k: int(v) for k, v in body.items()})
        return Response(json.dumps(changes), mimetype="application/json")

    @app.post("/_sim/locations/corrupt")
    def corrupt() -> Response:
        body = request.get_json(silent=True) or {}
        with state.network.lock:
            state.network.corrupt.update(body.get("ids", []))
            state.network.tick()
            for location_id in body.get("ids", []):
                location = state.network.locations[location_id]
                location["last_updated"] = format_timestamp(state.network.now)
        return Response(json.dumps({"ok": True}), mimetype="application/json")

    @app.post("/_sim/locations/defects")
    def defects() -> Response:
        body = request.get_json(silent=True) or {}
        injected = state.network.inject_defects(list(body.get("ids", [])))
        return Response(json.dumps(injected), mimetype="application/json")

    @app.post("/_sim/locations/expire_cursors")
    def expire_cursors() -> Response:
        state.network.cursor_epoch += 1  # every Link URL handed out so far stops working
        return Response(json.dumps({"epoch": state.network.cursor_epoch}), mimetype="application/json")

    @app.get("/_sim/locations/ids")
    def ids() -> Response:
        return Response(json.dumps(state.network.ids()), mimetype="application/json")
