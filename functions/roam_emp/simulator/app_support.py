"""Helpers shared by the simulator's interfaces."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
from flask import Response

from ..ocpi.auth_header import encode_token
from .state import SimulatorState


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


class EmpCaller:
    """How the simulated Plugsurfing calls the EMP (with the EMP's token for us)."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.http = httpx.Client(timeout=30)  # one client: connection reuse, one TLS context

    def call(
        self, method: str, url: str, token: str, body: Any = None, extra_headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.http.request(
            method,
            url,
            json=body,
            timeout=30,
            headers={
                "Authorization": encode_token(token),
                "X-Request-ID": secrets.token_hex(8),
                "X-Correlation-ID": secrets.token_hex(8),
                **(extra_headers or {}),
            },
        )

    def discover(self, versions_url: str, token: str) -> list[dict[str, Any]]:
        versions = self.call("GET", versions_url, token).json()["data"]
        chosen = next(v for v in versions if v["version"] == "2.2.1")
        details = self.call("GET", chosen["url"], token).json()["data"]
        return list(details["endpoints"])
