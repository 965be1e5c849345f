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
HOST = "abc123.execute-api.eu-central-1.amazonaws.com"
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/ocpi/2.2.1/credentials"): {
        "token": "plugsurfing-token-b",
        "url": "https://hub.example.com/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "8PS",
                "country_code": "DE",
                "business_details": {"name": "Plugsurfing"},
            }
        ],
    },
    ("PUT", "/ocpi/2.2.1/credentials"): {
        "token": "plugsurfing-token-b2",
        "url": "https://hub.example.com/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "8PS",
                "country_code": "DE",
                "business_details": {"name": "Plugsurfing"},
            }
        ],
    },
    ("POST", "/admin/registration"): {
        "versions_url": "https://hub.example.com/ocpi/versions",
        "token_a": "plugsurfing-token-a",
    },
    ("POST", "/admin/locations/pull"): {"mode": "full"},
}
SAMPLE_PATHS = {"/admin/locations/{location_id}": "/admin/locations/LOC0000001"}
SAMPLE_QUERIES = {("GET", "/admin/locations"): {"country": "DE", "limit": "20"}}


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
    params = {"location_id": path.rsplit("/", 1)[1]} if "{location_id}" in route.path else None
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
