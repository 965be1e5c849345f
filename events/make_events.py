"""Regenerate the sample API Gateway events from topology.py: `.venv/bin/python events/make_events.py`.

Existing files are kept (hand-edited bodies survive); only missing routes get a new file.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "functions"))

from roam_emp import topology  # noqa: E402

TOKEN = "events-sample-token"
_SPEC = HERE.parent.parent / "shared" / "ocpi-2.2.1-examples"
# The spec's own examples (../shared), adjusted to our sample ids.
EXAMPLES: dict[str, Any] = (
    {
        "session": {
            **json.loads((_SPEC / "session_example_1_simple_start.json").read_text()),
            "country_code": "BE",
            "party_id": "BEC",
            "id": "101",
        },
        "cdr": {**json.loads((_SPEC / "cdr_example.json").read_text()), "id": "12345"},
    }
    if _SPEC.exists()
    else {"session": {}, "cdr": {}}
)
HOST = "abc123.execute-api.eu-central-1.amazonaws.com"
PLUGSURFING = {
    "url": "https://hub.example.com/ocpi/versions",
    "roles": [
        {"role": "CPO", "party_id": "8PS", "country_code": "DE", "business_details": {"name": "Plugsurfing"}}
    ],
}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/ocpi/2.2.1/credentials"): {"token": "plugsurfing-token-b", **PLUGSURFING},
    ("PUT", "/ocpi/2.2.1/credentials"): {"token": "plugsurfing-token-b2", **PLUGSURFING},
    ("POST", "/admin/registration"): {
        "versions_url": "https://hub.example.com/ocpi/versions",
        "token_a": "plugsurfing-token-a",
    },
    ("POST", "/admin/locations/pull"): {"mode": "full"},
    ("POST", "/admin/tokens"): {
        "uid": "04A1B2C3D4",
        "type": "RFID",
        "contract_id": "NLEMPC00000001",
        "visual_number": "NL-EMP-C00000001",
    },
    ("PATCH", "/admin/tokens/{uid}"): {"valid": False},
    ("POST", "/ocpi/2.2.1/tokens/{token_uid}/authorize"): {"location_id": "LOC1", "evse_uids": ["3256"]},
    ("PUT", "/ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}"): EXAMPLES["session"],
    ("PATCH", "/ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}"): {
        "kwh": 5.5,
        "last_updated": "2026-11-24T10:10:00Z",
    },
    ("POST", "/ocpi/2.2.1/cdrs"): EXAMPLES["cdr"],
    ("POST", "/ocpi/2.2.1/commands/{command}/{command_id}"): {"result": "ACCEPTED"},
    ("POST", "/admin/commands/{command}"): {"token_uid": "04A1B2C3D4", "location_id": "LOC1"},
    ("POST", "/admin/cdrs/check"): {"cdr": EXAMPLES["cdr"], "time_zone": "Europe/Berlin"},
    ("POST", "/admin/cdrs/reprocess"): {
        "key": "rejected/9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7.json"
    },
    ("POST", "/admin/privacy/forget"): {"token_uid": "04A1B2C3D4"},
}
SAMPLE_PATHS = {
    "/ocpi/2.2.1/commands/{command}/{command_id}": "/ocpi/2.2.1/commands/START_SESSION/9f1c2e7a",
    "/admin/commands/{command}": "/admin/commands/START_SESSION",
    "/ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}": "/ocpi/2.2.1/sessions/BE/BEC/101",
    "/ocpi/2.2.1/cdrs/{cdr_id}": "/ocpi/2.2.1/cdrs/12345",
    "/admin/locations/{location_id}": "/admin/locations/LOC0000001",
    "/admin/locations/{location_id}/estimate": "/admin/locations/LOC0000001/estimate",
    "/admin/tokens/{uid}": "/admin/tokens/04A1B2C3D4",
    "/admin/cdrs/{cdr_id}": "/admin/cdrs/12345",
    "/ocpi/2.2.1/tokens/{token_uid}/authorize": "/ocpi/2.2.1/tokens/04A1B2C3D4/authorize",
}
SAMPLE_QUERIES = {
    ("GET", "/admin/locations"): {"country": "DE", "limit": "20"},
    ("PATCH", "/admin/tokens/{uid}"): {"type": "RFID"},
    ("GET", "/admin/tokens/{uid}"): {"type": "RFID"},
    ("POST", "/ocpi/2.2.1/tokens/{token_uid}/authorize"): {"type": "RFID"},
    ("GET", "/ocpi/2.2.1/tokens"): {"date_from": "2026-01-01T00:00:00Z", "limit": "50"},
    ("GET", "/admin/support"): {"session_id": "101"},
    ("GET", "/admin/locations/{location_id}/estimate"): {
        "evse_uid": "3256",
        "connector_id": "1",
        "kwh": "20",
        "minutes": "60",
        "start": "2026-03-02T09:00:00Z",
    },
}


def api_event(route: topology.Route) -> dict[str, Any]:
    headers = {
        "Host": HOST,
        "X-Forwarded-Proto": "https",
        "X-Request-ID": "3f1c2b7e-sample",
        "X-Correlation-ID": "9d8e7f6a-sample",
        "Content-Type": "application/json",
    }
    if route.auth is topology.Auth.OCPI:
        headers["Authorization"] = "Token " + base64.b64encode(TOKEN.encode()).decode()
    path = SAMPLE_PATHS.get(route.path, route.path)
    params = None
    if "{" in route.path:
        names = [p[1:-1] for p in route.path.split("/") if p.startswith("{")]
        values = [v for t, v in zip(route.path.split("/"), path.split("/"), strict=True) if t.startswith("{")]
        params = dict(zip(names, values, strict=True))
    query = SAMPLE_QUERIES.get((route.method, route.path))
    body = BODIES.get((route.method, route.path))
    identity = {"sourceIp": "203.0.113.10"}
    if route.auth is topology.Auth.IAM:
        identity["userArn"] = "arn:aws:iam::123456789012:user/operator"
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": route.method,
            "path": f"/prod{path}",
            "stage": "prod",
            "domainName": HOST,
            "requestId": "c6af9ac6-sample",
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": identity,
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def main() -> None:
    for function in topology.FUNCTIONS:
        for route in function.routes:
            slug = route.path.strip("/").replace("/", "_").replace("{", "").replace("}", "").replace(".", "")
            target = HERE / function.name / f"{route.method.lower()}_{slug}.json"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(api_event(route), indent=2) + "\n")
                print(target.relative_to(HERE.parent))


if __name__ == "__main__":
    main()
