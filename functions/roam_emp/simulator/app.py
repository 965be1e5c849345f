"""The simulator's HTTP interface: Plugsurfing's OCPI endpoints plus /_sim/ controls."""

from __future__ import annotations

import secrets
import time
from collections import deque
from typing import Any

import httpx
from flask import Flask, Response, g, request

from ..ocpi.auth_header import matches
from ..ocpi.envelope import envelope
from ..ocpi.status import StatusCode
from .app_support import EmpCaller, json_response
from .commands_api import register_commands
from .locations_api import register_locations
from .sessions_api import register_sessions
from .state import PLUGSURFING_ROLE, SimulatorState
from .tokens_api import register_tokens


def _ocpi(
    data: Any = None,
    status: StatusCode = StatusCode.SUCCESS,
    message: str | None = None,
    http_status: int | None = None,
) -> Response:
    return json_response(
        envelope(data, status, message), http_status if http_status is not None else status.http_status
    )


def create_app(state: SimulatorState, base_url: str) -> Flask:
    app = Flask("roam-simulator")
    emp = EmpCaller(state)

    def ocpi_base() -> str:
        return f"{base_url}/ocpi"

    def our_credentials(token: str) -> dict[str, Any]:
        return {"token": token, "url": f"{ocpi_base()}/versions", "roles": [PLUGSURFING_ROLE]}

    @app.before_request
    def _gate() -> Response | None:
        if request.path.startswith("/_sim/"):
            return None
        with state.lock:
            state.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": request.query_string.decode(),
                    "at": time.time(),
                    "x_request_id": request.headers.get("X-Request-ID"),
                    "x_correlation_id": request.headers.get("X-Correlation-ID"),
                }
            )
        failure = state.chaos.next_failure(state.rng, f"{request.method} {request.path}")
        if failure == 429 or not state.count_request():
            with state.lock:
                state.rejected_429 += failure == 429
            # Plugsurfing sends no Retry-After or other rate-limit headers (FAQ).
            return json_response(
                {
                    "status_code": 2000,
                    "status_message": "Too many requests",
                    "timestamp": "2026-01-01T00:00:00Z",
                },
                429,
            )
        if failure:
            return json_response(
                {
                    "status_code": 3000,
                    "status_message": "simulated failure",
                    "timestamp": "2026-01-01T00:00:00Z",
                },
                failure,
            )
        presented = request.headers.get("Authorization")
        if matches(presented, state.emp_token_for_us):
            g.auth = "registered"
        elif matches(presented, state.token_a) and request.path in (
            "/ocpi/versions",
            "/ocpi/2.2.1",
            "/ocpi/2.2.1/credentials",
        ):
            g.auth = "token_a"  # token A opens only the registration endpoints
        else:
            return _ocpi(status=StatusCode.CLIENT_ERROR, message="Unauthorized", http_status=401)
        return None

    @app.get("/ocpi/versions")
    def versions() -> Response:
        return _ocpi(
            [
                {"version": "2.1.1", "url": f"{ocpi_base()}/2.1.1"},
                {"version": "2.2.1", "url": f"{ocpi_base()}/2.2.1"},
            ]
        )

    @app.get("/ocpi/2.2.1")
    def version_details() -> Response:
        cpo = f"{ocpi_base()}/cpo/2.2.1"
        return _ocpi(
            {
                "version": "2.2.1",
                "endpoints": [
                    {
                        "identifier": "credentials",
                        "role": state.credentials_role,
                        "url": f"{ocpi_base()}/2.2.1/credentials",
                    },
                    {"identifier": "locations", "role": "SENDER", "url": f"{cpo}/locations"},
                    {"identifier": "tokens", "role": "RECEIVER", "url": f"{cpo}/tokens"},
                    {"identifier": "commands", "role": "RECEIVER", "url": f"{cpo}/commands"},
                ],
            }
        )

    @app.route("/ocpi/2.2.1/credentials", methods=["GET", "POST", "PUT", "DELETE"])
    def credentials() -> Response:
        if request.method == "GET":
            if g.auth != "registered":
                return _ocpi(status=StatusCode.CLIENT_ERROR, message="Unauthorized", http_status=401)
            return _ocpi(our_credentials(state.emp_token_for_us or ""))
        if request.method == "DELETE":
            if g.auth != "registered":
                return _ocpi(status=StatusCode.CLIENT_ERROR, message="not registered", http_status=405)
            with state.lock:
                state.emp_token_for_us = state.our_token_for_emp = None
            return _ocpi()
        if request.method == "POST" and g.auth == "registered":
            return _ocpi(status=StatusCode.CLIENT_ERROR, message="already registered", http_status=405)
        if request.method == "PUT" and g.auth != "registered":
            return _ocpi(status=StatusCode.CLIENT_ERROR, message="not registered", http_status=405)
        body = request.get_json(silent=True) or {}
        token, url = body.get("token"), body.get("url")
        if not token or not url or not body.get("roles"):
            return _ocpi(
                status=StatusCode.INVALID_OR_MISSING_PARAMETERS, message="token, url and roles are required"
            )
        try:
            endpoints = emp.discover(url, token)
        except (httpx.HTTPError, KeyError, StopIteration, ValueError) as error:
            return _ocpi(
                status=StatusCode.UNABLE_TO_USE_CLIENT_API,
                message=f"cannot use EMP versions endpoint: {error}",
            )
        token_c = "sim-token-c-" + secrets.token_hex(16)
        with state.lock:
            state.emp_token_for_us, state.our_token_for_emp = token_c, token
            state.emp_versions_url, state.emp_endpoints = url, endpoints
            state.emp_roles = body["roles"]
        return _ocpi(our_credentials(token_c))

    # Controls --------------------------------------------------------------------------------

    @app.get("/_sim/state")
    def sim_state() -> Response:
        return json_response(state.public())

    @app.get("/_sim/requests")
    def sim_requests() -> Response:
        with state.lock:
            return json_response(state.requests[-1000:])

    @app.post("/_sim/chaos")
    def sim_chaos() -> Response:
        body = request.get_json(silent=True) or {}
        with state.lock:
            state.chaos.rate_429 = float(body.get("rate_429", 0))
            state.chaos.rate_5xx = float(body.get("rate_5xx", 0))
            state.chaos.forced.clear()
            state.chaos.forced_by_route.clear()
            if body.get("route"):
                state.chaos.forced_by_route[body["route"]] = deque(int(s) for s in body["fail_next"])
            else:
                state.chaos.forced.extend(int(s) for s in body.get("fail_next", []))
            if "per_minute" in body:
                state.per_minute = int(body["per_minute"])
        return json_response({"ok": True})

    @app.post("/_sim/register")
    def sim_register() -> Response:
        """Plugsurfing-initiated registration with a token A the EMP issued."""
        body = request.get_json(silent=True) or {}
        token_a, versions_url = body["token_a"], body["versions_url"]
        endpoints = emp.discover(versions_url, token_a)
        credentials_url = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
        token_b = "sim-token-b-" + secrets.token_hex(16)
        with state.lock:
            state.emp_token_for_us = token_b  # the EMP fetches our versions with B meanwhile
        answer = emp.call("POST", credentials_url, token_a, our_credentials(token_b))
        if answer.status_code != 200:
            with state.lock:
                state.emp_token_for_us = None
            return json_response({"ok": False, "status": answer.status_code, "body": answer.json()}, 502)
        data = answer.json()["data"]
        with state.lock:
            state.our_token_for_emp, state.emp_versions_url = data["token"], versions_url
            state.emp_endpoints, state.emp_roles = endpoints, data["roles"]
        return json_response({"ok": True, "emp_roles": data["roles"]})

    @app.post("/_sim/rotate")
    def sim_rotate() -> Response:
        """Plugsurfing rotates: PUT new credentials to the EMP, receive a new token."""
        if not state.registered or not state.our_token_for_emp:
            return json_response({"ok": False, "error": "not registered"}, 409)
        credentials_url = state.endpoint("credentials", "SENDER")
        assert credentials_url
        new_token = "sim-token-b-" + secrets.token_hex(16)
        old_token = state.emp_token_for_us
        with state.lock:
            state.emp_token_for_us = new_token
        answer = emp.call("PUT", credentials_url, state.our_token_for_emp, our_credentials(new_token))
        if answer.status_code != 200:
            with state.lock:
                state.emp_token_for_us = old_token
            return json_response({"ok": False, "status": answer.status_code, "body": answer.json()}, 502)
        previous = state.our_token_for_emp
        with state.lock:
            state.our_token_for_emp = answer.json()["data"]["token"]
        return json_response({"ok": True, "previous_token": previous, "token": state.our_token_for_emp})

    @app.post("/_sim/unregister")
    def sim_unregister() -> Response:
        if not state.our_token_for_emp:
            return json_response({"ok": False, "error": "not registered"}, 409)
        credentials_url = state.endpoint("credentials", "SENDER")
        assert credentials_url
        answer = emp.call("DELETE", credentials_url, state.our_token_for_emp)
        with state.lock:
            state.emp_token_for_us = state.our_token_for_emp = None
        return json_response({"ok": answer.status_code == 200, "status": answer.status_code})

    @app.post("/_sim/call")
    def sim_call() -> Response:
        """Call one EMP endpoint with our current token (or an explicit one): for checks."""
        body = request.get_json(silent=True) or {}
        token = body.get("token", state.our_token_for_emp) or ""
        answer = emp.call(body.get("method", "GET"), body["url"], token, body.get("body"))
        return json_response({"status": answer.status_code, "body": answer.json()})

    register_locations(app, state, base_url)
    register_tokens(app, state, emp)
    runner = register_sessions(app, state, emp)
    register_commands(app, state, emp, runner)
    return app
