"""Roam OCPI's Commands receiver (FAQ "Which remote commands are supported?"): START_SESSION and
STOP_SESSION are ACCEPTED with a timeout, the CommandResult follows at the EMP's response_url, and
the session runs (PUT, kWh PATCHes; on stop: PUT and the CDR). Other commands: NOT_SUPPORTED."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, Response, request

from ..ocpi.envelope import envelope
from .app_support import EmpCaller, json_response
from .sessions_api import SessionRunner
from .state import SimulatorState


def register_commands(app: Flask, state: SimulatorState, emp: EmpCaller, runner: SessionRunner) -> None:
    def later(action: Any) -> None:
        def run() -> None:
            time.sleep(0.1)
            action()

        threading.Thread(target=run, daemon=True).start()

    def result(url: str) -> None:
        if state.command_callbacks:
            emp.call("POST", url, state.our_token_for_emp or "", {"result": state.command_result})

    def answer(result_type: str, timeout: int | None = 0) -> Response:
        data: dict[str, Any] = {"result": result_type}
        if timeout is not None:
            data["timeout"] = timeout
        return json_response(envelope(data))

    def accepted(url: str, then: Any) -> Response:
        if state.command_result_first:
            result(url)
            later(then)
        else:

            def result_then() -> None:
                result(url)
                then()

            later(result_then)
        return answer("ACCEPTED", state.command_timeout_s)

    @app.post("/ocpi/cpo/2.2.1/commands/<command>")
    def command(command: str) -> Response:
        body = request.get_json(silent=True) or {}
        with state.lock:
            state.commands.append({"command": command, "body": body})
        if command == "START_SESSION":
            token = body.get("token", {})
            known = any(k.endswith(f"/{token.get('type')}/{token.get('uid')}") for k in state.tokens)
            if not known or body.get("location_id") not in state.network.locations:
                return answer("REJECTED")

            def start() -> None:
                runner.start(
                    {
                        "token_uid": token["uid"],
                        "token_type": token["type"],
                        "location_id": body["location_id"],
                        "evse_uid": body.get("evse_uid"),
                        "auth_method": "COMMAND",
                        "patches": 2,
                        "authorization_reference": body.get("authorization_reference"),
                    }
                )

            return accepted(body["response_url"], start)
        if command == "STOP_SESSION":
            session_id = body.get("session_id")
            if session_id not in state.active_sessions:
                return answer("UNKNOWN_SESSION")

            return accepted(body["response_url"], lambda: runner.stop(session_id))
        return answer("NOT_SUPPORTED")

    @app.post("/_sim/commands/behaviour")
    def behaviour() -> Response:
        body = request.get_json(silent=True) or {}
        with state.lock:
            state.command_callbacks = bool(body.get("callbacks", True))
            timeout = body.get("timeout", 30)
            state.command_timeout_s = None if timeout is None else int(timeout)
            state.command_result = str(body.get("result", "ACCEPTED"))
            state.command_result_first = bool(body.get("result_first", False))
        return json_response({"ok": True})

    @app.get("/_sim/sessions/active")
    def active() -> Response:
        with state.lock:
            return json_response(sorted(state.active_sessions))
