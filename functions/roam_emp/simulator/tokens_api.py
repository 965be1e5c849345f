"""Roam OCPI's Tokens receiver (the EMP pushes; token pull is not supported, FAQ) and the
real-time authorization requests Plugsurfing sends to the EMP."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from ..ocpi.envelope import envelope
from ..ocpi.status import StatusCode
from .app_support import EmpCaller, json_response
from .state import SimulatorState


def _ocpi(status: StatusCode = StatusCode.SUCCESS, message: str | None = None, data: Any = None) -> Response:
    return json_response(envelope(data, status, message), status.http_status)


def register_tokens(app: Flask, state: SimulatorState, emp: EmpCaller) -> None:
    @app.route("/ocpi/cpo/2.2.1/tokens/<country_code>/<party_id>/<uid>", methods=["PUT", "PATCH", "GET"])
    def token(country_code: str, party_id: str, uid: str) -> Response:
        token_type = request.args.get("type", "RFID")
        key = f"{country_code}/{party_id}/{token_type}/{uid}"
        if request.method == "GET":
            stored = state.tokens.get(key)
            return _ocpi(data=stored) if stored else _ocpi(StatusCode.UNKNOWN_TOKEN, "unknown token")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _ocpi(StatusCode.INVALID_OR_MISSING_PARAMETERS, "body must be a JSON object")
        if request.method == "PUT":
            if body.get("type") == "AD_HOC_USER":
                return _ocpi(StatusCode.INVALID_OR_MISSING_PARAMETERS, "AD_HOC_USER is not supported")
            if body.get("uid") != uid or body.get("type", token_type) != token_type:
                return _ocpi(StatusCode.INVALID_OR_MISSING_PARAMETERS, "uid/type differ from the URL")
            merged = body
        else:
            if key not in state.tokens:
                return _ocpi(StatusCode.UNKNOWN_TOKEN, "PATCH of an unknown token")
            if "last_updated" not in body:
                return _ocpi(StatusCode.INVALID_OR_MISSING_PARAMETERS, "last_updated is required")
            merged = {**state.tokens[key], **body}
        with state.lock:
            state.tokens[key] = merged
            state.token_log.append({"key": key, "method": request.method, "body": body})
        return _ocpi()

    @app.get("/_sim/tokens")
    def sim_tokens() -> Response:
        with state.lock:
            return json_response({"tokens": state.tokens, "log": state.token_log[-20000:]})

    @app.post("/_sim/authorize")
    def sim_authorize() -> Response:
        """Plugsurfing asks the EMP for a real-time authorization."""
        body = request.get_json(silent=True) or {}
        base = state.endpoint("tokens", "SENDER")
        if not base or not state.our_token_for_emp:
            return json_response({"error": "EMP not registered or offers no tokens endpoint"}, 409)
        location = None
        if body.get("location_id"):
            location = {"location_id": body["location_id"]}
            if body.get("evse_uids"):
                location["evse_uids"] = body["evse_uids"]
        url = f"{base.rstrip('/')}/{body['uid']}/authorize?type={body.get('type', 'RFID')}"
        answer = emp.call("POST", url, state.our_token_for_emp, location)
        try:
            payload = answer.json()
        except ValueError:
            payload = {"raw": answer.text}
        return json_response(
            {"status": answer.status_code, "body": payload, "seconds": answer.elapsed.total_seconds()}
        )
