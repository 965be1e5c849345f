"""An example authorization hook: the EMP's credit check, asked by roam-emp's OcpiAuthorize
function during Plugsurfing's real-time authorization (docs/authorization-hook.md).

Deploy it as a Lambda (handler ``example_hook.handler``, Python 3.11+) and set
``authorization.hook_function_arn`` in cdk.json; or serve it over HTTP for local mode
(``python events/hooks/example_hook.py 8099`` and ``AUTH_HOOK_TARGET=http://127.0.0.1:8099/``).

Contract (events/schemas/hooks/*.v1.json):
  request  {"token": <the OCPI 2.2.1 Token we pushed>, "location": <LocationReferences> | null}
  response {"allowed": "ALLOWED" | "BLOCKED" | "EXPIRED" | "NO_CREDIT" | "NOT_ALLOWED"}

It must answer within ``authorization.hook_budget_ms`` (600 ms by default): later, roam-emp has
already answered Plugsurfing with ``authorization.hook_fallback``. It may be asked more than once
for one charging attempt (Plugsurfing retries, several EVSEs): a pure query, no side effects.
Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

ALLOWED_VALUES = ("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED")


def _listed(name: str) -> set[str]:
    return {p.strip().upper() for p in os.environ.get(name, "").split(",") if p.strip()}


def decide(request: dict[str, Any]) -> dict[str, str]:
    """The decision for one request. Here: contract_ids without credit and expired contracts come
    from the environment; a real hook asks the EMP's billing system (with its own timeout, well
    inside the budget)."""
    token = request.get("token") or {}
    contract_id = str(token.get("contract_id", "")).upper()
    if contract_id in _listed("EXAMPLE_HOOK_EXPIRED"):
        return {"allowed": "EXPIRED"}
    if contract_id in _listed("EXAMPLE_HOOK_NO_CREDIT"):
        return {"allowed": "NO_CREDIT"}
    location = request.get("location") or {}
    if location.get("location_id") in _listed("EXAMPLE_HOOK_BARRED_LOCATIONS"):
        return {"allowed": "NOT_ALLOWED"}
    return {"allowed": "ALLOWED"}


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """The Lambda entry point: roam-emp invokes it synchronously (RequestResponse) with the
    request as the payload. An unhandled error is a FunctionError: roam-emp answers the fallback."""
    return decide(event)


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The same contract over HTTP: POST the request as JSON, get the response as JSON."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        body, status = json.dumps(decide(request)).encode(), "200 OK"
    except (ValueError, AttributeError) as error:
        body, status = json.dumps({"error": str(error)}).encode(), "400 Bad Request"
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8099
    print(f"example authorization hook on http://127.0.0.1:{port}/")
    make_server("127.0.0.1", port, wsgi_app).serve_forever()
